// Runs the compiled node (`node dist/app/server.js`) as a child process, as an operator would, and reads its RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../test/support/server.ts';
import { sleep } from './stats.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'dist/app/server.js';
// As `npm run start:dist` and the image run it (see the Dockerfile's CMD for why these flags).
// BENCH_NODE_FLAGS="..." replaces them, for trying V8 flags that NODE_OPTIONS refuses.
export const NODE_FLAGS = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean) : ['--max-semi-space-size=1', '--no-maglev', '--no-turbofan'];
// Generous: on a shared 2-core machine under load the node has taken over 20 s to answer.
const START_TIMEOUT_MS = 60_000;

export type BenchNode = {
  pid: number;
  port: number;
  /** The last lines the process wrote (stdout and stderr), for error messages. */
  output(): string;
  /** VmRSS of the child from /proc, in MB (MiB), or NaN once it is gone. */
  rssMb(): number;
  /** CPU time (user + system) the child has used so far, in ms. */
  cpuMs(): number;
  /** Time the child's main thread has spent runnable but waiting for a CPU, in ms (/proc/<pid>/schedstat). */
  runqueueWaitMs(): number;
  stop(): Promise<void>;
};

export function rssMbOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** utime + stime of a process from /proc/<pid>/stat, in ms (clock ticks assumed 100/s, as on Linux). */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

export function runqueueWaitMsOf(pid: number): number {
  try {
    const [, waitNs] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ');
    return Number(waitNs) / 1e6;
  } catch {
    return Number.NaN;
  }
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function childEnv(spec: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (spec ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

const gone = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

export async function startDistNode(opts: { dataDir: string; adminPasswordFile: string; abraDir: string }): Promise<BenchNode> {
  if (!existsSync(path.join(REPO_ROOT, ENTRY))) throw new Error(`${ENTRY} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const env: Record<string, string> = {
    DATA_DIR: opts.dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ADMIN_PASSWORD_FILE: opts.adminPasswordFile,
    DOCKER_SOCKET: '/var/run/docker.sock',
    // An empty abra dir of our own: the machine's ~/.abra (if any) must not leak apps into the bench.
    ABRA_DIR: opts.abraDir,
    CATALOGUE_URL: '', // no internet here
    ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
    // For trying runtime settings on the node without touching the app: BENCH_NODE_OPTIONS="--max-semi-space-size=1"
    // becomes NODE_OPTIONS; BENCH_CHILD_ENV="MALLOC_ARENA_MAX=2 UV_THREADPOOL_SIZE=2" adds variables.
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    ...childEnv(process.env.BENCH_CHILD_ENV),
  };
  const child = spawn(process.execPath, [...NODE_FLAGS, ENTRY], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      lines.push(...chunk.split('\n').filter(Boolean).map((l) => (l.length > 500 ? `${l.slice(0, 500)}…` : l)));
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    });
  }
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const output = () => lines.join('\n');
  const stop = async () => {
    if (gone(child)) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 6000);
    await exit;
    clearTimeout(killer);
  };

  // LOG_LEVEL=warn hides the "listening" line: poll /healthz instead (it answers once the model has started).
  const until = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (gone(child)) throw new Error(`the node exited (code ${child.exitCode}, signal ${child.signalCode}) before listening:\n${output()}`);
    if (await healthy(port)) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`the node did not answer /healthz within ${START_TIMEOUT_MS} ms:\n${output()}`);
    }
    await sleep(100);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('the node has no pid');
  return { pid, port, output, rssMb: () => rssMbOf(pid), cpuMs: () => cpuMsOf(pid), runqueueWaitMs: () => runqueueWaitMsOf(pid), stop };
}

/**
 * The packages the node is built on (the card's, and the few more app/ imports at start), as server.ts loads them:
 * dockerode's unused transports stubbed by the compiled lean-load. What the node's own code costs is its RSS less
 * this process's.
 */
export const FLOOR_PACKAGES = ['express', 'dockerode', 'eta', 'yaml', 'execa', 'better-sqlite3', 'pino', 'zod', 'helmet'];

export type FloorProc = { pid: number; rssMb(): number; stop(): void };

/**
 * The memory floor: a process started with the node's flags that imports only FLOOR_PACKAGES and idles. Plain
 * JavaScript through `-e`, so no TypeScript stripping is loaded into it (the node runs compiled JavaScript too).
 */
export async function startFloorProc(): Promise<FloorProc> {
  const leanLoad = path.join(REPO_ROOT, 'dist/app/adapters/docker/lean-load.js');
  if (!existsSync(leanLoad)) throw new Error(`${leanLoad} is missing: run \`npm run build\` first`);
  const code = [
    `await import(${JSON.stringify(pathToFileURL(leanLoad).href)});`,
    `for (const name of ${JSON.stringify(FLOOR_PACKAGES)}) await import(name);`,
    `process.stdout.write('ready\\n');`,
    'setInterval(() => {}, 60_000);',
  ].join('\n');
  // The node's runtime settings too (BENCH_NODE_OPTIONS, BENCH_CHILD_ENV), so a tried setting moves both alike.
  const env = {
    ...process.env,
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    ...childEnv(process.env.BENCH_CHILD_ENV),
  };
  const child = spawn(process.execPath, [...NODE_FLAGS, '--input-type=module', '-e', code], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => s.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`the floor process exited with ${code} before it was ready`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  const pid = child.pid!;
  return { pid, rssMb: () => rssMbOf(pid), stop: () => void child.kill('SIGTERM') };
}
