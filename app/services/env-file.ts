// Co-op Cloud env files: read a recipe's .env.sample into form fields, and change an app's env file
// line by line so comments, order and untouched lines stay exactly as they were.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export type EnvField = {
  key: string;
  value: string;
  /** Commented out in the sample: an opt-in setting. */
  optional: boolean;
  help: string;
};
export type SecretField = { key: string; name: string; version: string; length?: number; charset?: string; generate: boolean };
export type Overlay = { file: string; enabled: boolean; help: string };
export type EnvSample = { recipeKey: 'TYPE' | 'RECIPE'; fields: EnvField[]; secrets: SecretField[]; overlays: Overlay[] };

const KEY_RE = /^[A-Z_][A-Z0-9_]{0,63}$/;
const ASSIGN_RE = /^(#\s*)?([A-Z_][A-Z0-9_]*)=(.*)$/;
const OVERLAY_RE = /^"?\$COMPOSE_FILE:([A-Za-z0-9._-]+\.ya?ml)"?$/;
// Keys the node sets itself: the recipe line, the domain, compose files and secret versions.
const MANAGED = new Set(['TYPE', 'RECIPE', 'DOMAIN', 'COMPOSE_FILE']);

export const envKeySchema = z.string().regex(KEY_RE, 'is not an env key (capital letters, digits and _)');
// Values end up in a shell-like env file that abra and docker read: keep to characters that cannot break
// out of a line or be interpreted ($, quotes, backslashes, ;, #, newlines), and no parent-directory steps.
export const envValueSchema = z
  .string()
  .max(500, 'must be at most 500 characters')
  .regex(/^[A-Za-z0-9 _.,:/@+=%*~^-]*$/, 'may only hold letters, digits, spaces and _ . , : / @ + = % * ~ ^ -')
  .refine((v) => !v.split('/').includes('..'), 'must not contain ../');

/** `"x"` or `'x'` → x; an unquoted value loses a trailing ` # comment`. */
export function unquote(raw: string): { value: string; comment: string } {
  const trimmed = raw.trim();
  const quoted = /^(["'])(.*?)\1\s*(?:#\s*(.*))?$/.exec(trimmed);
  if (quoted) return { value: quoted[2] ?? '', comment: quoted[3] ?? '' };
  const hash = trimmed.search(/\s#/);
  return hash >= 0 ? { value: trimmed.slice(0, hash).trim(), comment: trimmed.slice(hash).replace(/^\s*#\s*/, '') } : { value: trimmed, comment: '' };
}

function modifiers(comment: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of comment.matchAll(/([a-z]+)=([^\s,]+)/g)) out[m[1]!] = m[2]!;
  return out;
}

export function parseEnvSample(text: string): EnvSample {
  const fields: EnvField[] = [];
  const secrets: SecretField[] = [];
  const overlays: Overlay[] = [];
  let recipeKey: EnvSample['recipeKey'] = 'TYPE';
  let help: string[] = [];
  const seen = new Set<string>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line) {
      help = [];
      continue;
    }
    const m = ASSIGN_RE.exec(line);
    if (!m) {
      if (line.startsWith('#')) help.push(line.replace(/^#+\s*/, ''));
      continue;
    }
    const [, hash, key, rest] = m as unknown as [string, string | undefined, string, string];
    const commented = !!hash;
    const { value, comment } = unquote(rest);
    const note = help.join(' ');
    help = [];
    if (key === 'TYPE' || key === 'RECIPE') {
      if (!commented) recipeKey = key;
      continue;
    }
    if (key === 'COMPOSE_FILE') {
      const overlay = OVERLAY_RE.exec(value);
      if (overlay) overlays.push({ file: overlay[1]!, enabled: !commented, help: note || comment });
      continue;
    }
    const secret = /^SECRET_([A-Z0-9_]+)_VERSION$/.exec(key);
    if (secret) {
      const mods = modifiers(comment);
      secrets.push({
        key,
        name: secret[1]!.toLowerCase(),
        version: value || 'v1',
        ...(mods.length ? { length: Number(mods.length) } : {}),
        ...(mods.charset ? { charset: mods.charset } : {}),
        generate: mods.generate !== 'false',
      });
      continue;
    }
    if (MANAGED.has(key) || seen.has(key)) continue;
    seen.add(key);
    fields.push({ key, value, optional: commented, help: note || comment });
  }
  return { recipeKey, fields, secrets, overlays };
}

/** The uncommented KEY=value pairs of an env file, as abra and docker read them. */
export function readEnvValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = ASSIGN_RE.exec(line.trim());
    if (m && !m[1]) out.set(m[2]!, unquote(m[3]!).value);
  }
  return out;
}

export type EnvChanges = {
  /** Keys to set (uncommenting an opt-in line when there is one). */
  set: Map<string, string>;
  /** Opt-in keys to turn off again (commented out, value kept). */
  unset: Set<string>;
  /** Overlay files to switch on or off. */
  overlays: Map<string, boolean>;
};

// Values from forms keep to the safe characters of envValueSchema. Others (the node's own recipe values, such as
// EXTRA_DOMAINS with its backticks, checked by their caller to hold no single quote or line break) are written
// between single quotes, which abra's env reader takes literally.
const SAFE_VALUE = /^[A-Za-z0-9 _.,:/@+=%*~^-]*$/;
const formatValue = (v: string) => (!SAFE_VALUE.test(v) ? `'${v}'` : v === '' || /\s/.test(v) ? `"${v}"` : v);

/** Applies changes to an env file's text, keeping every other line byte for byte. */
export function applyEnvChanges(text: string, changes: EnvChanges): string {
  const lines = text.split('\n');
  const done = new Set<string>();
  const out = lines.map((raw) => {
    const m = ASSIGN_RE.exec(raw.trim());
    if (!m) return raw;
    const [, hash, key, rest] = m as unknown as [string, string | undefined, string, string];
    if (key === 'COMPOSE_FILE') {
      const overlay = OVERLAY_RE.exec(unquote(rest).value);
      const want = overlay ? changes.overlays.get(overlay[1]!) : undefined;
      if (want === undefined) return raw;
      const body = raw.trim().replace(/^#\s*/, '');
      return want ? body : `#${body}`;
    }
    if (changes.set.has(key) && !done.has(key)) {
      done.add(key);
      const { comment } = unquote(rest);
      return `${key}=${formatValue(changes.set.get(key)!)}${comment ? ` # ${comment}` : ''}`;
    }
    if (changes.unset.has(key) && !hash) return `#${raw.trim()}`;
    return raw;
  });
  const missing = [...changes.set.keys()].filter((k) => !done.has(k));
  if (missing.length) {
    if (out.length && out[out.length - 1] === '') out.pop();
    for (const k of missing) out.push(`${k}=${formatValue(changes.set.get(k)!)}`);
    out.push('');
  }
  return out.join('\n');
}

/** Writes beside the target, then renames over it: a crash never leaves half a file. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
