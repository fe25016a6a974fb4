// Plain words for a settings form: a label a steward understands for each setting (its variable name stays beside
// it, small, for operators), choices where the values are known, and options (compose overlays) named from the
// comment line the recipe wrote above them, never by their file name.
import type { EnvField, Overlay } from './sample.ts';

export type Choice = { value: string; label: string };
export type FieldWords = { label: string; help?: string; choices?: Choice[] };

/** Settings many recipes share, in the words of someone who does not read compose files. */
const KNOWN: Record<string, FieldWords> = {
  LETS_ENCRYPT_ENV: {
    label: 'HTTPS certificate',
    help: 'A real certificate is trusted by every browser. A test certificate is for trying things out: browsers warn about it. Either needs the app’s address to be reachable from the internet.',
    choices: [
      { value: 'production', label: 'Real certificate (production)' },
      { value: 'staging', label: 'Test certificate (staging)' },
      { value: '', label: 'None (no certificate from Let’s Encrypt)' },
    ],
  },
  ZIM_FILES_PATH: { label: 'Folder for the books', help: 'The folder on this machine that holds the ZIM files (the books). Kiwix serves every .zim file in it.' },
  KIWIX_LAN_PORT: { label: 'Port on the local network' },
  LAN_PORT: { label: 'Port on the local network' },
  TIMEOUT: { label: 'How long to wait for a start, in seconds' },
  EXTRA_DOMAINS: { label: 'Other addresses' },
};

const BOOLEAN: Choice[] = [
  { value: 'true', label: 'Yes' },
  { value: 'false', label: 'No' },
];

/** Short words that read better in capitals. */
const ACRONYMS = new Set(['acl', 'api', 'cpu', 'db', 'dns', 'gpu', 'http', 'https', 'id', 'ip', 'lan', 'motd', 'php', 's3', 'smtp', 'sso', 'ssh', 'tls', 'url', 'zim']);

/** `MAIL_BACKEND` → "Mail backend", `SMTP_HOST` → "SMTP host". */
export function humanName(key: string): string {
  const words = key.toLowerCase().split(/[_\s]+/).filter(Boolean).map((w) => (ACRONYMS.has(w) ? w.toUpperCase() : w));
  if (!words.length) return key;
  return [words[0]![0]!.toUpperCase() + words[0]!.slice(1), ...words.slice(1)].join(' ');
}

/** How a setting is shown: its label, its help (the recipe's own comment first) and, when known, its choices. */
export function fieldWords(f: Pick<EnvField, 'key' | 'value' | 'help' | 'alternatives'>): FieldWords {
  const known = KNOWN[f.key];
  const values = [f.value, ...(f.alternatives ?? [])];
  const yesNo = values.every((v) => v === 'true' || v === 'false');
  let choices = known?.choices ?? (yesNo ? BOOLEAN : undefined);
  // A value the list does not know (set by an operator) stays choosable as it is.
  if (choices && !choices.some((c) => c.value === f.value)) choices = [...choices, { value: f.value, label: `${f.value} (as set now)` }];
  const help = f.help || known?.help;
  return { label: known?.label ?? humanName(f.key), ...(help ? { help } : {}), ...(choices ? { choices } : {}) };
}

/** Overlays that publish the app on a port of the host, for people on the LAN (recipes call them compose.lan.yml). */
const isLanOverlay = (o: Pick<Overlay, 'files'>) => o.files.some((f) => /(^|[._-])lan\.ya?ml$/.test(f));

/**
 * An option's name: the LAN overlay says what it does; others take the first clause of their comment line
 * ("Send e-mail (password resets…)" → "Send e-mail"), or a name made from the file when the recipe wrote none.
 */
export function overlayWords(o: Pick<Overlay, 'file' | 'files' | 'help'>): { label: string; help?: string } {
  if (isLanOverlay(o)) return { label: 'Reach this app on the local network at a port of this machine', ...(o.help ? { help: o.help } : {}) };
  const clause = o.help.split(/\s*(?:[:;(]|\.\s|\s[-–—]\s)/)[0]!.trim();
  // A shouted section heading ("DATABASE CONFIG") is said calmly.
  const label = /[a-z]/.test(clause) ? clause : humanName(clause);
  if (label) return { label, ...(clause !== o.help.trim() ? { help: o.help } : {}) };
  const named = o.files.map((f) => humanName(f.replace(/^compose\./, '').replace(/\.ya?ml$/, '').replace(/[.-]/g, '_'))).join(' and ');
  return { label: named || o.file };
}
