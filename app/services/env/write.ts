// Writes values into an env file so that abra reads back exactly what was meant, changing only the lines that must
// change: an unchanged value leaves its line alone, byte for byte. The quoting rules are abra's (see parse.ts).
import { isSpace, parseEnv, type Assignment, type EnvDoc, type Quote } from '../../adapters/abra/env-parse.ts';
import { composeFilesAfter, overlayLine, type OverlayLine } from './overlays.ts';

export const MAX_VALUE_LENGTH = 4096;

const LINE_BREAK = /[\n\r]/;
const SPACE_THEN_HASH = /[\t\v\f\r \u0085\u00a0]#/;
/** Characters that need no quotes anywhere (what recipes' plain values hold). */
const PLAIN = /^[\p{L}\p{N}_.,:/@+=%*~^-]+$/u;

/** Whether abra reads `value` back unchanged when written in this quote style. */
const fits: Record<Quote, (v: string) => boolean> = {
  // Unquoted: trimmed, cut at " #", and $VAR expanded; a leading quote would start a quoted value.
  '': (v) => v === '' || (!isSpace(v[0]) && !isSpace(v.at(-1)) && !`"'#`.includes(v[0]!) && !v.includes('$') && !SPACE_THEN_HASH.test(v)),
  // Single quotes: taken literally up to the next ' (a \ before the closing quote would escape it).
  "'": (v) => !v.includes("'") && !v.endsWith('\\'),
  // Double quotes: \, " and $ are escaped; a trailing " or \ cannot be written (the reader trims quotes off the end
  // and takes \" before the closing quote as escaped).
  '"': (v) => !v.endsWith('"') && !v.endsWith('\\'),
};

/** Why a value cannot go into an env file, in words for the form; undefined when it can. */
export function valueProblem(value: string): string | undefined {
  if (LINE_BREAK.test(value)) return 'must fit on one line (no line breaks)';
  if (value.includes('\0')) return 'must not hold a NUL character';
  if (value.length > MAX_VALUE_LENGTH) return `must be at most ${MAX_VALUE_LENGTH} characters`;
  if (!Object.values(fits).some((ok) => ok(value))) {
    return 'cannot be written so that abra reads it back: it holds an apostrophe, starts with a quote or a space, and ends with " or \\';
  }
  return undefined;
}

/** The quote style for a value: the line's own when it still fits, else the plainest that does. */
export function quoteFor(value: string, current?: Quote): Quote {
  // An empty value is written as "" (or '' on a single-quoted line), so that it reads as deliberately empty.
  if (value === '') return current === "'" ? "'" : '"';
  if (current !== undefined && fits[current](value) && (current !== '' || value === '' || PLAIN.test(value))) return current;
  if (value === '' || PLAIN.test(value)) return '';
  if (fits['"'](value) && !/[\\"$]/.test(value)) return '"';
  for (const q of ["'", '"', ''] as const) if (fits[q](value)) return q;
  throw new Error(`a value that cannot be written to an env file: ${JSON.stringify(value.slice(0, 40))}`);
}

export function encodeValue(value: string, current?: Quote): string {
  const problem = LINE_BREAK.test(value) || value.includes('\0') ? 'a line break or NUL' : undefined;
  if (problem) throw new Error(`a value with ${problem} cannot be written to an env file`);
  const q = quoteFor(value, current);
  if (q === '"') return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
  return `${q}${value}${q}`;
}

export type EnvChanges = {
  /** Keys to set: the last active line changes, or a commented `#KEY=` line is switched on, or a line is added. */
  set: Map<string, string>;
  /** Keys to switch off: their active lines are commented out, values kept. */
  unset: Set<string>;
  /** Overlays (by the files they add, joined with ":") to switch on or off. */
  overlays: Map<string, boolean>;
};

/** Line edits on a document: replaced lines, removed continuation lines, lines added at the end. */
class Edits {
  readonly replaced = new Map<number, string | null>();
  readonly added: string[] = [];
  readonly doc: EnvDoc;
  constructor(doc: EnvDoc) {
    this.doc = doc;
  }
  text(i: number): string {
    return this.replaced.get(i) ?? this.doc.lines[i]!;
  }
  /** A statement's lines as one, with `body` (the key, = and value) in place of what they held. */
  rewrite(a: Assignment, opts: { commented: boolean; value?: string }): void {
    const first = this.doc.lines[a.line]!;
    const last = this.doc.lines[a.lastLine]!;
    const indent = first.slice(0, first.length - first.trimStart().length);
    const statementStart = a.commented ? a.bodyStart : indent.length;
    const head = first.slice(statementStart, a.valueStart);
    const written = opts.value === undefined ? null : encodeValue(opts.value, a.quote);
    const middle = written ?? joinRange(this.doc.lines, a);
    const tail = last.slice(a.valueEnd);
    const prefix = opts.commented ? `${indent}${a.commented ? first.slice(indent.length, a.bodyStart) : '#'}` : indent;
    this.replaced.set(a.line, `${prefix}${head}${middle}${tail}`);
    for (let i = a.line + 1; i <= a.lastLine; i++) this.replaced.set(i, null);
  }
  result(): string {
    const out: string[] = [];
    this.doc.lines.forEach((line, i) => {
      const r = this.replaced.has(i) ? this.replaced.get(i)! : line;
      if (r !== null) out.push(r);
    });
    if (this.added.length) {
      const endsWithNewline = out.length > 0 && out[out.length - 1] === '';
      if (endsWithNewline) out.pop();
      out.push(...this.added);
      if (endsWithNewline || out.length) out.push('');
    }
    return out.join('\n');
  }
}

/** The written value of a (multi-line) statement as it stands in the file. */
function joinRange(lines: string[], a: Assignment): string {
  if (a.line === a.lastLine) return lines[a.line]!.slice(a.valueStart, a.valueEnd);
  const parts = [lines[a.line]!.slice(a.valueStart)];
  for (let i = a.line + 1; i < a.lastLine; i++) parts.push(lines[i]!);
  parts.push(lines[a.lastLine]!.slice(0, a.valueEnd));
  return parts.join('\n');
}

function setKey(edits: Edits, key: string, value: string): void {
  const all = edits.doc.assignments.filter((a) => a.key === key);
  const active = all.filter((a) => !a.commented);
  const last = active.at(-1);
  if (last) {
    // abra reads the last active line: that is the one to change, and only when its value differs.
    if (last.value !== value) edits.rewrite(last, { commented: false, value });
    return;
  }
  const commented = all.filter((a) => a.commented);
  const same = commented.filter((a) => a.value === value).at(-1);
  if (same) return edits.rewrite(same, { commented: false });
  const alt = commented.at(-1);
  if (alt) return edits.rewrite(alt, { commented: false, value });
  edits.added.push(`${key}=${encodeValue(value)}`);
}

function unsetKey(edits: Edits, key: string): void {
  for (const a of edits.doc.assignments) if (a.key === key && !a.commented) edits.rewrite(a, { commented: true });
}

/** Applies changes to an env file's text; every line not named by a change stays byte for byte. */
export function applyEnvChanges(text: string, changes: EnvChanges): string {
  const doc = parseEnv(text);
  const edits = new Edits(doc);
  for (const [key, value] of changes.set) setKey(edits, key, value);
  for (const key of changes.unset) if (!changes.set.has(key)) unsetKey(edits, key);
  let out = edits.result();
  if (changes.overlays.size) out = applyOverlays(out, changes.overlays);
  return out;
}

/** Switches overlays on and off through their COMPOSE_FILE lines, then checks that abra will read what was meant. */
function applyOverlays(text: string, wanted: Map<string, boolean>): string {
  const doc = parseEnv(text);
  const lines = doc.assignments.map((a) => ({ a, o: overlayLine(doc, a) })).filter((x): x is { a: Assignment; o: OverlayLine } => !!x.o);
  const before = new Set(composeFilesAfter(doc));
  const isOn = (files: string[]) => files.every((f) => before.has(f));
  const edits = new Edits(doc);
  const switchedOn: { a: Assignment; o: OverlayLine }[] = [];
  for (const [key, on] of wanted) {
    const files = key.split(':');
    if (isOn(files) === on) continue;
    if (!on) {
      for (const x of lines) if (!x.a.commented && x.o.files.some((f) => files.includes(f))) edits.rewrite(x.a, { commented: true });
      continue;
    }
    const candidate = lines.filter((x) => x.a.commented && x.o.key === key).at(-1);
    if (candidate) {
      edits.rewrite(candidate.a, { commented: false });
      switchedOn.push(candidate);
    } else edits.added.push(`COMPOSE_FILE="$COMPOSE_FILE:${key}"`);
  }
  // Overlays not named keep the state they had.
  const expected = new Map([...lines.map((x) => [x.o.key, isOn(x.o.files)] as const), ...wanted]);
  let out = edits.result();
  // A `COMPOSE_FILE="compose.yml:compose.x.yml"` line replaces what earlier lines switched on: write the later ones as
  // additions (`$COMPOSE_FILE:compose.x.yml`) instead, then, if need be, the first one too.
  const wholeLists = switchedOn.filter((x) => !x.o.appends).sort((p, q) => p.a.line - q.a.line);
  for (const rewriteFrom of [1, 0]) {
    if (matches(out, expected)) break;
    for (const x of wholeLists.slice(rewriteFrom)) edits.replaced.set(x.a.line, `COMPOSE_FILE="$COMPOSE_FILE:${x.o.key}"${doc.lines[x.a.line]!.slice(x.a.valueEnd)}`);
    out = edits.result();
  }
  if (!matches(out, expected)) throw new OverlayConflict([...wanted].filter(([, on]) => on).map(([k]) => k));
  return out;
}

function matches(text: string, expected: Map<string, boolean>): boolean {
  const files = new Set(composeFilesAfter(parseEnv(text)));
  return [...expected].every(([key, on]) => key.split(':').every((f) => files.has(f)) === on);
}

export class OverlayConflict extends Error {
  readonly overlays: string[];
  constructor(overlays: string[]) {
    super(`These options cannot all be switched on through the env file's COMPOSE_FILE lines: ${overlays.join(', ')}. Edit COMPOSE_FILE by hand.`);
    this.overlays = overlays;
  }
}
