// Reads an env file the way abra does. abra reads app env files with a fork of joho/godotenv (v1.5 line); the rules
// below are godotenv's, written down in test/unit/env-semantics.test.ts:
// - a line whose first non-space character is # is a comment; blank lines are skipped;
// - `export KEY=value` is KEY=value; the key ends at the first = (or :), spaces around it are dropped;
// - 'single quotes': everything up to the next ' is taken literally (no escapes, no $VAR);
// - "double quotes": \n and \r become line breaks, \X becomes X, $VAR and ${VAR} take the value of an earlier key of
//   the same file (\$ is a literal $); a quoted value may run over several lines; a quote preceded by \ does not end it;
// - unquoted: up to the end of the line, cut at the last # that follows a space, trimmed, $VAR expanded;
// - when a key is assigned twice, the last assignment wins.
// Each line is kept as it was, so that a writer can change one line and leave every other byte alone.

export type Quote = '' | "'" | '"';

/** One KEY=value statement: an active one, or a commented-out `#KEY=value` that a steward may switch on. */
export type Assignment = {
  key: string;
  /** The value as abra would read it (quotes removed, escapes and $VARs from earlier lines resolved). */
  value: string;
  quote: Quote;
  exported: boolean;
  /** A `#KEY=value` line: not read by abra; uncommenting it makes it count. */
  commented: boolean;
  /** First and last line (a quoted value may span lines). */
  line: number;
  lastLine: number;
  /** Where, in the first line's text, the `#` and the spaces after it end (commented lines; 0 otherwise). */
  bodyStart: number;
  /** Where the written value (with its quotes) starts in the first line, and ends in the last line. */
  valueStart: number;
  valueEnd: number;
  /** An inline comment after the value (`# length=32`), without the #. */
  comment: string;
  /** Comment lines right above it (help text), joined. */
  help: string;
};

export type EnvProblem = { line: number; message: string };

export type EnvDoc = {
  /** The file's lines without their \n (a \r of a CRLF file stays on its line). */
  lines: string[];
  /** Every assignment in file order, active and commented. */
  assignments: Assignment[];
  /** What abra reads: the last active assignment of each key. */
  values: Map<string, string>;
  /** Lines abra's reader would stop at (it then reads nothing at all). */
  problems: EnvProblem[];
};

// godotenv's "space": not a line break.
const SPACES = new Set(['\t', '\v', '\f', '\r', ' ', '\u0085', '\u00a0']);
export const isSpace = (c: string | undefined) => c !== undefined && SPACES.has(c);
const isUnicodeSpace = (c: string) => /\s/u.test(c) || c === '\u0085';

/** `$NAME`, `${NAME}` (capitals, digits, _), or `\$` for a literal dollar. Anything else stays as written. */
const EXPANSION = /(\\)?\$(\()?\{?([A-Z0-9_]+)?\}?/g;

export function expandVariables(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(EXPANSION, (whole: string, escaped: string | undefined, _paren: string | undefined, name: string | undefined) => {
    if (escaped) return whole.slice(1);
    if (name) return vars.get(name) ?? '';
    return whole;
  });
}

/** Double-quote escapes: \n and \r are line breaks; \X is X, except \$ which the expansion step handles. */
export function unescapeDoubleQuoted(text: string): string {
  const stepOne = text.replace(/\\(.)/g, (whole: string, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : whole));
  return stepOne.replace(/\\([^$])/g, '$1');
}

type Scanned = { value: string; quote: Quote; valueStart: number; valueEnd: number; lastLine: number; comment: string } | { problem: string };

/** The value part of a statement that starts at `col` of line `i` (after the = and the spaces after it). */
function scanValue(lines: string[], i: number, col: number, vars: ReadonlyMap<string, string>, multiline: boolean): Scanned {
  const text = stripCr(lines[i]!);
  const q = text[col];
  if (q === '"' || q === "'") {
    // Look for the closing quote, across lines if need be; a quote right after a backslash does not close.
    let li = i;
    let from = col + 1;
    let collected = '';
    for (;;) {
      const cur = li === i ? text : stripCr(lines[li]!);
      let end = -1;
      for (let k = from; k < cur.length; k++) {
        if (cur[k] === q && cur[k - 1] !== '\\') {
          end = k;
          break;
        }
      }
      if (end >= 0) {
        collected += cur.slice(li === i ? col : 0, end);
        // godotenv trims every quote character off both ends of what lies between the quotes
        let inner = collected;
        while (inner.endsWith(q)) inner = inner.slice(0, -1);
        while (inner.startsWith(q)) inner = inner.slice(1);
        const value = q === '"' ? expandVariables(unescapeDoubleQuoted(inner), vars) : inner;
        const after = cur.slice(end + 1);
        const rest = after.replace(/^[\t\v\f\r \u0085\u00a0]*/, '');
        if (rest && !rest.startsWith('#')) return { problem: `text after the closing quote: ${rest.slice(0, 40)}` };
        return { value, quote: q, valueStart: col, valueEnd: end + 1, lastLine: li, comment: rest ? rest.slice(1).trim() : '' };
      }
      if (!multiline || li + 1 >= lines.length) return { problem: 'a quoted value that is never closed' };
      collected += cur.slice(li === i ? col : 0) + '\n';
      li++;
      from = 0;
    }
  }
  // Unquoted: the rest of the line, cut at the last # that follows a space (godotenv 1.5), trimmed.
  const rest = text.slice(col);
  let end = rest.length;
  for (let k = rest.length - 1; k > 0; k--) {
    if (rest[k] === '#' && isSpace(rest[k - 1])) {
      end = k;
      break;
    }
  }
  const comment = end < rest.length ? rest.slice(end + 1).trim() : '';
  let stop = end;
  while (stop > 0 && isSpace(rest[stop - 1])) stop--;
  const raw = rest.slice(0, stop);
  return { value: expandVariables(raw, vars), quote: '', valueStart: col, valueEnd: col + stop, lastLine: i, comment };
}

const stripCr = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

type Statement = { key: string; exported: boolean; col: number } | { problem: string };

/** `[export ]KEY=` from `start` of a line: the key, and where the value begins. */
function scanKey(text: string, start: number): Statement {
  let pos = start;
  let exported = false;
  if (text.startsWith('export', pos) && isSpace(text[pos + 6])) {
    pos += 6;
    while (isSpace(text[pos])) pos++;
    exported = true;
  }
  for (let k = pos; k < text.length; k++) {
    const c = text[k]!;
    if (isSpace(c)) continue;
    if (c === '=' || c === ':') {
      const key = text.slice(pos, k).replace(/[\t\v\f\r \u0085\u00a0]+$/, '');
      if (!key) return { problem: 'an assignment without a name' };
      let col = k + 1;
      while (isSpace(text[col])) col++;
      return { key, exported, col };
    }
    if (c === '_' || c === '.' || /[\p{L}\p{N}]/u.test(c)) continue;
    return { problem: `unexpected character ${JSON.stringify(c)} in a name` };
  }
  return { problem: 'a line that is neither a comment nor KEY=value' };
}

// A commented-out setting: `#KEY=value`. With a space after the # (`# KEY=value`) the value must be one word or
// quoted, so that prose such as "# SMTP_PORT=587 is the default when unset" stays prose.
const OPT_IN = /^#( *)(?:export +)?[A-Z_][A-Z0-9_]*=/;
/** Rows of #, =, -, *, _ or ~: decoration, not help. */
const DECORATION = /^#+[\s#=*_~-]*$/;

export function parseEnv(text: string): EnvDoc {
  const lines = text.split('\n');
  const assignments: Assignment[] = [];
  const values = new Map<string, string>();
  const problems: EnvProblem[] = [];
  let help: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = stripCr(lines[i]!);
    let start = 0;
    while (start < text.length && isUnicodeSpace(text[start]!)) start++;
    if (start === text.length) {
      help = [];
      continue;
    }
    if (text[start] === '#') {
      const body = text.slice(start);
      const optIn = OPT_IN.exec(body);
      if (optIn) {
        const bodyStart = start + 1 + optIn[1]!.length;
        const found = commentedAssignment(lines, i, bodyStart, optIn[1]!.length > 0, values);
        if (found) {
          assignments.push({ ...found, line: i, bodyStart, help: help.join(' ') });
          help = [];
          continue;
        }
      }
      if (!DECORATION.test(body)) help.push(body.replace(/^#+\s*/, '').replace(/\s+#+$/, '').trim());
      continue;
    }
    const stmt = scanKey(text, start);
    if ('problem' in stmt) {
      problems.push({ line: i, message: stmt.problem });
      help = [];
      continue;
    }
    const scanned = scanValue(lines, i, stmt.col, values, true);
    if ('problem' in scanned) {
      problems.push({ line: i, message: scanned.problem });
      help = [];
      continue;
    }
    values.set(stmt.key, scanned.value);
    assignments.push({ key: stmt.key, value: scanned.value, quote: scanned.quote, exported: stmt.exported, commented: false, line: i, lastLine: scanned.lastLine, bodyStart: 0, valueStart: scanned.valueStart, valueEnd: scanned.valueEnd, comment: scanned.comment, help: help.join(' ') });
    help = [];
    i = scanned.lastLine;
  }
  return { lines, assignments, values, problems };
}

/** A `#KEY=value` line read as if the # were not there (one line only), or undefined when it is prose. */
function commentedAssignment(lines: string[], i: number, bodyStart: number, spaced: boolean, vars: ReadonlyMap<string, string>): Omit<Assignment, 'line' | 'bodyStart' | 'help'> | undefined {
  const text = stripCr(lines[i]!);
  const stmt = scanKey(text, bodyStart);
  if ('problem' in stmt) return undefined;
  const scanned = scanValue(lines, i, stmt.col, vars, false);
  if ('problem' in scanned) return undefined;
  if (spaced && !scanned.quote && /[\t\v\f \u0085\u00a0]/.test(text.slice(scanned.valueStart, scanned.valueEnd))) return undefined;
  return { key: stmt.key, value: scanned.value, quote: scanned.quote, exported: stmt.exported, commented: true, lastLine: i, valueStart: scanned.valueStart, valueEnd: scanned.valueEnd, comment: scanned.comment };
}

/** What abra reads from an env file: the last active assignment of each key. */
export function readValues(text: string): Map<string, string> {
  return parseEnv(text).values;
}
