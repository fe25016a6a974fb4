// Runs abra as a subprocess: arguments as an array (never through a shell), under a pseudo-terminal
// when asked (abra needs one even with -n), ANSI stripped, bounded in time, errors made readable.
import { stripVTControlCharacters } from 'node:util';
import { execa } from 'execa';

export type AbraRunOptions = {
  bin: string;
  abraDir: string;
  pty: 'script' | 'none';
  timeoutMs: number;
  signal?: AbortSignal;
  /** Each output line as it arrives (already cleaned). */
  onLine?: (line: string) => void;
};

export type AbraResult = { lines: string[]; exitCode: number };

export class AbraError extends Error {
  readonly exitCode: number | null;
  readonly lines: string[];
  constructor(message: string, exitCode: number | null, lines: string[]) {
    super(message);
    this.exitCode = exitCode;
    this.lines = lines;
  }
}

// `script -c` hands its command to a shell. This constant is the only shell text: it rebuilds argv from
// LORES_ARG_<i> variables, so argument values are expanded as quoted parameters and never parsed as code.
const PTY_LAUNCHER =
  'set --; i=0; while [ "$i" -lt "$LORES_ARGC" ]; do eval "set -- \\"\\$@\\" \\"\\$LORES_ARG_$i\\""; i=$((i+1)); done; exec "$LORES_ABRA_BIN" "$@"';

const clean = (line: string) => stripVTControlCharacters(line).replace(/\r/g, '').trimEnd();

/** The last FATA/ERRO lines abra printed, or its last lines: the reason a person can read. */
export function reasonFrom(lines: string[]): string {
  const fatal = lines.filter((l) => /^\s*(FATA|ERRO|FATAL|ERROR)\b/.test(l)).map((l) => l.replace(/^\s*(FATA|ERRO|FATAL|ERROR)\s*/, ''));
  const picked = fatal.length ? fatal.slice(-2) : lines.filter((l) => l.trim()).slice(-3);
  return picked.join(' — ').slice(0, 500) || 'no output';
}

export async function runAbra(args: string[], opts: AbraRunOptions): Promise<AbraResult> {
  const env: Record<string, string> = { ABRA_DIR: opts.abraDir, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', NO_COLOR: '1', TERM: 'dumb', COLUMNS: '200' };
  let file = opts.bin;
  let argv = args;
  if (opts.pty === 'script') {
    file = 'script';
    argv = ['-qec', PTY_LAUNCHER, '/dev/null'];
    Object.assign(env, { SHELL: '/bin/sh', LORES_ABRA_BIN: opts.bin, LORES_ARGC: String(args.length) });
    args.forEach((a, i) => (env[`LORES_ARG_${i}`] = a));
  }
  const child = execa(file, argv, {
    env,
    extendEnv: true,
    cwd: opts.abraDir, // a fixed cwd so no stray abra.yml up the tree is picked up
    stdin: 'ignore',
    all: true,
    reject: false,
    detached: true, // its own process group, so a timeout kills abra and not only `script`
    buffer: false,
  });
  const lines: string[] = [];
  let partial = '';
  child.all!.setEncoding('utf8');
  child.all!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      const line = clean(p);
      lines.push(line);
      opts.onLine?.(line);
    }
  });

  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const stop = () => {
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), 3000).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, opts.timeoutMs);
  opts.signal?.addEventListener('abort', stop, { once: true });

  const result = await child;
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', stop);
  if (partial) {
    const line = clean(partial);
    lines.push(line);
    opts.onLine?.(line);
  }
  if (timedOut) throw new AbraError(`abra did not finish within ${Math.round(opts.timeoutMs / 1000)} s and was stopped.`, null, lines);
  if (opts.signal?.aborted) throw new AbraError('abra was stopped because the node is shutting down.', null, lines);
  if (result.failed && result.exitCode === undefined) {
    const code = (result as { code?: string }).code;
    if (code === 'ENOENT') throw new AbraError(`abra is not installed here (ABRA_BIN=${opts.bin}).`, null, lines);
    throw new AbraError(`abra could not be started: ${result.shortMessage ?? result.message}`, null, lines);
  }
  const exitCode = result.exitCode ?? 1;
  if (exitCode !== 0) throw new AbraError(`abra failed: ${reasonFrom(lines)}`, exitCode, lines);
  return { lines, exitCode };
}

/** Output searched for a JSON document, and brackets tried as its start: abra's -m answers are small and come
 *  early, and these bounds keep a pathological output (thousands of unclosed brackets) from costing seconds. */
const MAX_JSON_SEARCH = 64 * 1024;
const MAX_JSON_STARTS = 200;

/** Where the bracket opened at `start` closes (strings and escapes respected), or -1 if it never does. */
function closingBracket(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * The first JSON document in noisy output that `accept` takes: abra's spinner frames, colours, carriage returns
 * and log lines may come before, after or on the same line as it (stderr shares the pty). Undefined if none.
 */
export function findJson<T>(lines: string[], accept: (value: unknown) => value is T): T | undefined {
  const text = stripVTControlCharacters(lines.join('\n')).slice(0, MAX_JSON_SEARCH);
  let tried = 0;
  for (let start = 0; start < text.length && tried < MAX_JSON_STARTS; start++) {
    const c = text[start];
    if (c !== '[' && c !== '{') continue;
    tried++;
    const end = closingBracket(text, start);
    if (end < 0) continue;
    try {
      const value: unknown = JSON.parse(text.slice(start, end + 1));
      if (accept(value)) return value;
    } catch {
      // not JSON (a spinner's "[=  ]", a log line's braces): look further on
    }
  }
  return undefined;
}

/**
 * The JSON document in abra's -m output. When there is none, the error says so without quoting the output:
 * what abra printed may hold secret values, and error messages reach job pages, the audit log and the logs.
 */
export function parseMachineOutput<T>(lines: string[], accept: (value: unknown) => value is T = (v): v is T => v !== null && typeof v === 'object'): T {
  const found = findJson(lines, accept);
  if (found !== undefined) return found;
  const printed = lines.filter((l) => l.trim()).length;
  throw new AbraError(`abra printed something that is not the expected JSON (${printed} line${printed === 1 ? '' : 's'}, not shown here)`, 0, []);
}
