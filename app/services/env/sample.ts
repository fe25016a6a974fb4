// A recipe's .env.sample as a settings form: fields with their defaults and help, opt-in settings, overlays with the
// settings and secrets that belong to them, and the secrets abra generates.
import { parseEnv, type Assignment, type EnvDoc, type EnvProblem } from '../../adapters/abra/env-parse.ts';
import { overlayLine } from './overlays.ts';

export type EnvField = {
  key: string;
  /** What abra reads (the last active line), or the suggested value of a commented-out setting. */
  value: string;
  /** Commented out in the sample: an opt-in setting. */
  optional: boolean;
  help: string;
  /** Whether it is switched on (the form's checkbox): always for a setting that is not optional. */
  enabled?: boolean;
  /** Other values the recipe suggests on commented-out lines (`#KEY=alt` beside `KEY=default`). */
  alternatives?: string[];
  /** The overlay it belongs to (same block as its COMPOSE_FILE line): switched on and off with it. */
  overlay?: string;
};
export type SecretField = {
  key: string;
  name: string;
  version: string;
  length?: number;
  charset?: string;
  generate: boolean;
  /** Commented out in the sample: needed only with its overlay, or when switched on. */
  optional?: boolean;
  overlay?: string;
  /** For an optional secret not tied to an overlay: switched on in the form. */
  enabled?: boolean;
};
export type Overlay = { file: string; files: string[]; enabled: boolean; help: string };
export type EnvSample = {
  recipeKey: 'TYPE' | 'RECIPE';
  fields: EnvField[];
  secrets: SecretField[];
  overlays: Overlay[];
  /** The sample's text, as `abra app new` copies it. */
  text: string;
  problems: EnvProblem[];
};

// Keys the node or abra sets itself: the recipe line, the domain, the compose files.
const MANAGED = new Set(['TYPE', 'RECIPE', 'DOMAIN', 'COMPOSE_FILE']);
const SECRET = /^SECRET_([A-Z0-9_]+)_VERSION$/;
/** Help words in an inline comment that are only abra's secret modifiers (`# length=32`). */
const MODIFIER = /^(?:[a-z]+=[^\s,]+[\s,]*)+$/;

function modifiers(comment: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of comment.matchAll(/([a-z]+)=([^\s,]+)/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Block number of each line: runs of non-blank lines. A commented COMPOSE_FILE line owns its block's settings. */
function blocksOf(doc: EnvDoc): number[] {
  let block = 0;
  return doc.lines.map((l) => (l.trim() === '' ? ++block : block));
}

/** For each assignment bound to an overlay, the overlay's key: same block, same commented state, nearest line above. */
function overlayBindings(doc: EnvDoc): Map<Assignment, string> {
  const blocks = blocksOf(doc);
  const overlayLines = doc.assignments.map((a) => ({ a, o: overlayLine(doc, a) })).filter((x) => x.o);
  const bound = new Map<Assignment, string>();
  for (const a of doc.assignments) {
    if (a.key === 'COMPOSE_FILE' || MANAGED.has(a.key)) continue;
    const peers = overlayLines.filter((x) => blocks[x.a.line] === blocks[a.line] && x.a.commented === a.commented);
    if (!peers.length) continue;
    const owner = peers.filter((x) => x.a.line < a.line).at(-1) ?? peers[0]!;
    bound.set(a, owner.o!.key);
  }
  return bound;
}

const helpOf = (a: Assignment) => a.help || (a.comment && !MODIFIER.test(a.comment) ? a.comment : '');

export function parseEnvSample(text: string): EnvSample {
  return sampleFrom(parseEnv(text), text);
}

export function sampleFrom(doc: EnvDoc, text: string): EnvSample {
  const bound = overlayBindings(doc);
  const byKey = new Map<string, Assignment[]>();
  for (const a of doc.assignments) byKey.set(a.key, [...(byKey.get(a.key) ?? []), a]);
  const recipeKey: EnvSample['recipeKey'] = doc.values.has('RECIPE') && !doc.values.has('TYPE') ? 'RECIPE' : 'TYPE';

  const fields: EnvField[] = [];
  const secrets: SecretField[] = [];
  for (const [key, all] of byKey) {
    if (MANAGED.has(key)) continue;
    const active = all.filter((a) => !a.commented);
    // abra reads the last active line; with none, the last commented line is the recipe's latest suggestion.
    const main = active.at(-1) ?? all.at(-1)!;
    const optional = !active.length;
    const value = optional ? main.value : doc.values.get(key)!;
    const overlay = bound.get(main);
    const help = helpOf(main) || all.map(helpOf).find(Boolean) || '';
    const secret = SECRET.exec(key);
    if (secret) {
      const mods = modifiers(main.comment);
      secrets.push({
        key,
        name: secret[1]!.toLowerCase(),
        version: value || 'v1',
        ...(mods.length ? { length: Number(mods.length) } : {}),
        ...(mods.charset ? { charset: mods.charset } : {}),
        generate: mods.generate !== 'false',
        ...(optional ? { optional: true } : {}),
        ...(overlay ? { overlay } : {}),
      });
      continue;
    }
    const alternatives = [...new Set(all.filter((a) => a.commented && a.value !== value).map((a) => a.value))];
    fields.push({ key, value, optional, help, enabled: !optional, ...(alternatives.length ? { alternatives } : {}), ...(overlay ? { overlay } : {}) });
  }

  const overlays: Overlay[] = [];
  for (const a of doc.assignments) {
    const o = overlayLine(doc, a);
    if (!o) continue;
    const known = overlays.find((x) => x.file === o.key);
    if (known) {
      known.help ||= helpOf(a);
      continue;
    }
    overlays.push({ file: o.key, files: o.files, enabled: false, help: helpOf(a) });
  }
  const deployed = new Set((doc.values.get('COMPOSE_FILE') ?? 'compose.yml').split(':'));
  for (const o of overlays) o.enabled = o.files.every((f) => deployed.has(f));
  return { recipeKey, fields, secrets, overlays, text, problems: doc.problems };
}
