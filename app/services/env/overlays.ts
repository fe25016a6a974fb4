// Compose overlays: the COMPOSE_FILE lines of an env file. Recipes write them two ways, both read by abra as the
// last assignment of COMPOSE_FILE with earlier values expanded:
//   COMPOSE_FILE="$COMPOSE_FILE:compose.smtp.yml"      (adds to the lines above)
//   #COMPOSE_FILE="compose.yml:compose.smtp.yml"       (the whole list; the usual form in recipes)
import type { Assignment, EnvDoc } from '../../adapters/abra/env-parse.ts';

export type OverlayLine = {
  /** The overlay files this line adds, joined with ":" (the option's name in forms). */
  key: string;
  files: string[];
  /** `$COMPOSE_FILE:…` (adds) rather than a whole list. */
  appends: boolean;
};

const FILE = /^[A-Za-z0-9._-]+\.ya?ml$/;
const BASE = 'compose.yml';

/** The text between the quotes of a statement, before escapes and $VARs. */
export function writtenValue(doc: EnvDoc, a: Assignment): string {
  const raw = a.line === a.lastLine ? doc.lines[a.line]!.slice(a.valueStart, a.valueEnd) : '';
  return a.quote && raw.startsWith(a.quote) && raw.endsWith(a.quote) && raw.length >= 2 ? raw.slice(1, -1) : raw;
}

/** What a COMPOSE_FILE line adds as an option, or undefined (the base line, or one the node does not understand). */
export function overlayLine(doc: EnvDoc, a: Assignment): OverlayLine | undefined {
  if (a.key !== 'COMPOSE_FILE') return undefined;
  const raw = writtenValue(doc, a);
  const appended = /^\$(?:COMPOSE_FILE|\{COMPOSE_FILE\}):(.+)$/.exec(raw);
  const files = appended ? appended[1]!.split(':') : raw.split(':');
  if (!files.every((f) => FILE.test(f))) return undefined;
  const added = appended ? files : files[0] === BASE ? files.slice(1) : [];
  if (!added.length) return undefined;
  return { key: added.join(':'), files: added, appends: !!appended };
}

/** The compose files abra deploys with: the last COMPOSE_FILE, or compose.yml when there is none. */
export function composeFilesAfter(doc: EnvDoc): string[] {
  const value = doc.values.get('COMPOSE_FILE');
  return value ? value.split(':').filter(Boolean) : [BASE];
}
