// Runs abra as a subprocess: arguments as an array (never through a shell), under a pseudo-terminal
// when asked (abra needs one even with -n), ANSI stripped, bounded in time, errors made readable.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
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
  let stopping: Promise<void> | undefined;
  const stop = () => {
    if (child.pid) stopping ??= stopProcessTree(child.pid, STOP_GRACE_MS);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, opts.timeoutMs);
  opts.signal?.addEventListener('abort', stop, { once: true });
  if (opts.signal?.aborted) stop();

  const result = await child;
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', stop);
  await stopping; // abra and what it started are gone before the job says so
  if (partial) {
    const line = clean(partial);
    lines.push(line);
    opts.onLine?.(line);
  }
  if (timedOut) throw new AbraError(`abra did not finish within ${Math.round(opts.timeoutMs / 1000)} s and was stopped.`, null, lines);
  if (opts.signal?.aborted) {
    const why = opts.signal.reason instanceof Error ? opts.signal.reason.message : 'the node is shutting down';
    throw new AbraError(`abra was stopped: ${why}`, null, lines);
  }
  if (result.failed && result.exitCode === undefined) {
    const code = (result as { code?: string }).code;
    if (code === 'ENOENT') throw new AbraError(`abra is not installed here (ABRA_BIN=${opts.bin}).`, null, lines);
    throw new AbraError(`abra could not be started: ${result.shortMessage ?? result.message}`, null, lines);
  }
  const exitCode = result.exitCode ?? 1;
  if (exitCode !== 0) throw new AbraError(`abra failed: ${reasonFrom(lines)}`, exitCode, lines);
  return { lines, exitCode };
}

/** How long abra and its children get to end after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3000;
/** How long the node waits for SIGKILLed processes to be gone (a process in uninterruptible sleep may take a moment). */
const KILL_WAIT_MS = 2000;

type Proc = { pid: number; ppid: number; pgid: number; start: string };

/** Every process on the machine (Linux /proc), with its parent, group and start time (a reused pid has another). */
function processTable(): Map<number, Proc> | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined; // no /proc: only the process group can be reached
  }
  const table = new Map<number, Proc>();
  for (const name of names) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp session ... starttime(22nd)": comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue; // ended: only its exit status is left for its parent to collect
      table.set(Number(name), { pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]), start: fields[19] ?? '' });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/**
 * Stops a process and everything it started: SIGTERM, then SIGKILL after `graceMs`, and resolves once they are gone.
 * Process groups alone are not enough: `script` gives abra a session (and group) of its own on its pty, and what abra
 * runs may make more. So the tree is walked in /proc, again and again while it ends, and every member and every
 * group it has is signalled; a pid is only signalled while its start time is the one seen, never a reused one.
 */
export async function stopProcessTree(root: number, graceMs: number): Promise<void> {
  const seen = new Map<number, Proc>();
  const alive = (table: Map<number, Proc>) => [...seen.values()].filter((p) => table.get(p.pid)?.start === p.start);
  const look = (): Proc[] | undefined => {
    const table = processTable();
    if (!table) return undefined;
    const roots = [root, ...alive(table).map((p) => p.pid)];
    const queue = roots.filter((pid) => table.has(pid));
    for (let i = 0; i < queue.length; i++) {
      const p = table.get(queue[i]!)!;
      if (!seen.has(p.pid) || seen.get(p.pid)!.start !== p.start) seen.set(p.pid, p);
      for (const c of table.values()) if (c.ppid === p.pid && !queue.includes(c.pid)) queue.push(c.pid);
    }
    return alive(table);
  };
  const own = processTable()?.get(process.pid)?.pgid;
  const signal = (procs: Proc[], sig: NodeJS.Signals) => {
    // Never the node's own group (abra is started detached, so its tree should not be in it; this makes sure).
    const groups = new Set(procs.map((p) => p.pgid).filter((g) => g > 1 && g !== own));
    const targets = [...[...groups].map((g) => -g), ...procs.map((p) => p.pid).filter((pid) => pid !== process.pid)];
    for (const t of targets) {
      try {
        process.kill(t, sig);
      } catch {
        // already gone
      }
    }
  };
  const first = look();
  if (!first) {
    signal([{ pid: root, ppid: 0, pgid: root, start: '' }], 'SIGTERM');
    await sleep(graceMs);
    signal([{ pid: root, ppid: 0, pgid: root, start: '' }], 'SIGKILL');
    return;
  }
  signal(first, 'SIGTERM');
  for (const [sig, waitMs] of [['SIGTERM', graceMs], ['SIGKILL', KILL_WAIT_MS]] as const) {
    const until = Date.now() + waitMs;
    for (;;) {
      await sleep(100);
      const left = look() ?? [];
      if (!left.length) return;
      if (Date.now() >= until) {
        if (sig === 'SIGTERM') signal(left, 'SIGKILL');
        break;
      }
      signal(left, sig); // newcomers (a child started after the first signal) get it too
    }
  }
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
