// What the config repository may hold, and how its files are checked. Shared by the node's own commits and by
// the pre-receive hook that checks pushes from laptops (app/services/config-repo/pre-receive-hook.ts).
import { domainSchema } from '../../validation.ts';
import { secretFindings } from './secrets.ts';

/** The one file at the repository's top that is not an app: the node's settings laptops need (its domain). */
export const NODE_FILE = 'lores.toml';
export const README_FILE = 'README.md';
export const MAIN_REF = 'refs/heads/main';
const MAX_FILE_BYTES = 64 * 1024;
const RECIPE_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/;

export const envFileFor = (domain: string) => `${domain}.env`;
/** The app domain an env file path names, or undefined when the path is not a top-level `<domain>.env`. */
export function domainOfPath(p: string): string | undefined {
  if (p.includes('/') || !p.endsWith('.env')) return undefined;
  const parsed = domainSchema.safeParse(p.slice(0, -4));
  return parsed.success && parsed.data === p.slice(0, -4) ? parsed.data : undefined;
}

export function nodeFileText(nodeDomain: string): string {
  return [
    '# LoRes Node: the settings of this server that laptops share with the node.',
    '# Written by the node (Settings page, "Node domain"); a push that changes this file is refused.',
    '# New apps get <recipe>.<domain> as their default domain, on the page and, by this file, on laptops.',
    '[node]',
    `domain = "${nodeDomain}"`,
    '',
  ].join('\n');
}

export function readNodeDomain(text: string): string | undefined {
  return /^\s*domain\s*=\s*"([^"]*)"\s*$/m.exec(text)?.[1];
}

export const README_TEXT = `# This server's abra env files

Kept by LoRes Node. Each \`<domain>.env\` is one app's abra env file (\`ABRA_DIR/servers/<server>/<domain>.env\`).
Clone this repository into your abra servers directory (for example \`~/.abra/servers/<this server>\`), deploy
with abra as usual, then commit and push: the node checks every push and shows changes to apps it runs as
"pending changes" on their pages, to deploy or discard.

- Secret values never belong here: they live in the swarm (\`abra app secret …\`). Pushes with secret-looking
  values (passwords, tokens, private keys) are refused.
- Only \`<domain>.env\` files, this README and \`${NODE_FILE}\` (written by the node) may be in it.
- If a push is refused as non-fast-forward, someone changed an app on the node's page meanwhile: \`git pull\` first.
`;

/** Problems with one env file as it would be stored; an empty list means it is fine. */
export function envFileProblems(path: string, text: string): string[] {
  const problems: string[] = [];
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) return [`${path} is larger than ${MAX_FILE_BYTES / 1024} KB`];
  if (text.includes('\0')) return [`${path} is not a text file`];
  let type: string | undefined;
  let domain: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (!m) return void problems.push(`${path} line ${i + 1} is not KEY=value`);
    const value = m[2]!.trim().replace(/^(["'])(.*)\1(\s+#.*)?$/, '$2').replace(/\s+#.*$/, '');
    if ((m[1] === 'TYPE' || m[1] === 'RECIPE') && type === undefined) type = value;
    if (m[1] === 'DOMAIN' && domain === undefined) domain = value;
  });
  if (type === undefined) problems.push(`${path} has no TYPE= line (the recipe, as abra writes it)`);
  else {
    const [recipe = '', version, ...rest] = type.split(':');
    if (!RECIPE_RE.test(recipe) || rest.length || (version !== undefined && !VERSION_RE.test(version))) problems.push(`${path}: TYPE=${type.slice(0, 80)} is not <recipe> or <recipe>:<version>`);
  }
  if (domain !== undefined && !/\$/.test(domain) && !domainSchema.safeParse(domain).success) problems.push(`${path}: DOMAIN=${domain.slice(0, 80)} is not a valid domain`);
  for (const f of secretFindings(text)) {
    problems.push(`${path} line ${f.line}: ${f.key || 'the file'} holds ${f.reason}. Secret values live in the swarm (abra app secret insert), never in git: remove it from this commit and push again`);
  }
  return problems;
}

/** Problems with one path in a pushed tree (mode from `git ls-tree`): only top-level app env files and our two files. */
export function pathProblem(path: string, mode: string): string | undefined {
  if (mode !== '100644' && mode !== '100755') return `${path} is not a plain file (only the server's <domain>.env files may be pushed)`;
  if (path === NODE_FILE || path === README_FILE) return undefined;
  if (domainOfPath(path)) return undefined;
  return `${path} is outside the server directory's env files: only <domain>.env at the top (and ${README_FILE}) may be pushed`;
}
