// Starts the real node as a child process (`node app/server.ts`) on a free port, as an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const START_TIMEOUT_MS = 60_000;

export type NodeProcess = {
  url: string;
  port: number;
  dataDir: string;
  /** Everything the process wrote so far, stdout and stderr interleaved, one line each. */
  output(): string;
  /** The first-run setup token from the log, if the node printed one. */
  setupToken(): string | undefined;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** A clean stop (SIGTERM), waiting for exit. */
  stop(): Promise<void>;
};

export type StartOptions = {
  /** Reuse a data directory (for restarts); a fresh temp dir when absent. */
  dataDir?: string;
  adminPasswordFile?: string;
  /** Extra environment, e.g. LOG_LEVEL. */
  env?: Record<string, string>;
};

/** A port nothing listens on right now: bind port 0, read it, close. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (!addr || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the free port'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}

type LogLine = { msg?: unknown; setupToken?: unknown };

function parseLine(line: string): LogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed && typeof parsed === 'object' ? (parsed as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function startNode(opts: StartOptions = {}): Promise<NodeProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'lores-node-'));
  const port = await freePort();
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CATALOGUE_URL: '', // no internet here
    // abra's folder next to the data (kept across restarts with it), never the machine's ~/.abra
    ABRA_DIR: path.join(dataDir, 'abra'),
    ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
    ...(opts.adminPasswordFile ? { ADMIN_PASSWORD_FILE: opts.adminPasswordFile } : {}),
    ...opts.env,
  };

  const child = spawn(process.execPath, ['app/server.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let token: string | undefined;
  let onLine: ((parsed: LogLine | undefined) => void) | undefined;

  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        const parsed = parseLine(line);
        if (typeof parsed?.setupToken === 'string') token = parsed.setupToken;
        onLine?.(parsed);
      }
    });
    stream.on('end', () => {
      if (buffered) lines.push(buffered);
      buffered = '';
    });
  }

  const output = () => lines.join('\n');

  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (exited(child)) return;
    child.kill(signal);
    await exit;
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the node did not log "listening" within ${START_TIMEOUT_MS} ms. Its output:\n${output()}`));
      }, START_TIMEOUT_MS);
      const done = (err?: Error) => {
        clearTimeout(timer);
        onLine = undefined;
        if (err) reject(err);
        else resolve();
      };
      onLine = (parsed) => {
        if (typeof parsed?.msg === 'string' && parsed.msg.includes('listening')) done();
      };
      child.once('error', (err) => done(new Error(`could not start the node: ${err.message}\n${output()}`)));
      void exit.then(() =>
        done(new Error(`the node exited (code ${child.exitCode}, signal ${child.signalCode}) before listening. Its output:\n${output()}`)),
      );
    });
  } catch (err) {
    await kill('SIGKILL');
    throw err;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    output,
    setupToken: () => token,
    kill,
    stop: () => kill('SIGTERM'),
  };
}
