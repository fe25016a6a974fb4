// A recipe README's metadata block and description line, as the Co-op Cloud catalogue generator reads them.
import type { RecipeFeatures } from './catalogue-json.ts';

export type ReadmeMetadata = { category: string; description: string; features: RecipeFeatures };

const field = (block: string, name: string): string => {
  const m = new RegExp(`^\\s*\\*\\s*\\*\\*${name}\\*\\*\\s*:\\s*(.*)$`, 'mi').exec(block);
  return (m?.[1] ?? '').trim();
};

/** `[\`image\`](url), 4, upstream` → its parts. */
function imageField(value: string): RecipeFeatures['image'] {
  if (!value) return null;
  const m = /^\[`?([^`\]]+)`?\]\(([^)]*)\)\s*,\s*([^,]*)\s*,\s*(.*)$/.exec(value);
  if (!m) return { image: value.slice(0, 200), rating: '', source: '', url: '' };
  return { image: m[1]!.trim(), url: /^https?:\/\//.test(m[2]!) ? m[2]!.trim() : '', rating: m[3]!.trim(), source: m[4]!.trim() };
}

export function readmeMetadata(readme: string): ReadmeMetadata {
  const block = /<!--\s*metadata\s*-->([\s\S]*?)<!--\s*endmetadata\s*-->/i.exec(readme)?.[1] ?? '';
  const description = (/^>\s*(.+)$/m.exec(readme)?.[1] ?? '').trim().slice(0, 1000);
  const status = Number.parseInt(field(block, 'Status'), 10);
  return {
    category: field(block, 'Category').slice(0, 60),
    description,
    features: {
      status: Number.isInteger(status) && status >= 0 && status <= 5 ? status : null,
      backups: field(block, 'Backups').slice(0, 40),
      email: field(block, 'Email').slice(0, 40),
      healthcheck: field(block, 'Healthcheck').slice(0, 40),
      sso: field(block, 'SSO').slice(0, 40),
      tests: field(block, 'Tests').slice(0, 40),
      image: imageField(field(block, 'Image')),
    },
  };
}
