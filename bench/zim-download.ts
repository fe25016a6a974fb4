// The ZIM download bench: a 200 MiB file served by a separate process on 127.0.0.1, fetched by `downloadZim`
// (sha-256 in the same pass, fsync, atomic rename) over each HTTP client — the node's own HTTP/1.1 GET, undici's
// `request` and undici's `stream`, each in a process of its own started with the node's flags
// (bench/zim-download-client.ts), so each has its own RSS — and by `curl -s -o`, nine times each, in a rotating
// order to spread noise evenly. The figures are each side's median rate: a run lasts about 0.3 s on a 2-core machine shared
// with the file server, and curl's fastest run is an outlier 20–40 % above its usual rate, so a ratio of bests
// swung 0.76–1.09 while the ratio of medians holds still. The bests are printed too (`*_best_*`).
// Prints `name: value` lines on stdout (MB = 10^6 bytes); every run's rate goes to stderr.
// Run alone: `node bench/zim-download.ts`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from './node-proc.ts';
import { fmt, median } from './stats.ts';

const SIZE = 200 * 1024 * 1024;
const RUNS = 9;
const FILE_NAME = 'bench_zim_download_2024-01.zim';
const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'zim-file-server.ts');
const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'zim-download-client.ts');
/** The node's own client first: `zim_download_*` figures are its. */
const CLIENTS = ['http1', 'undici-request', 'undici-stream'] as const;
type Client = (typeof CLIENTS)[number];
type Run = { ms: number; rssMb: number; peakRssMb: number };

const startedAt = performance.now();
const log = (msg: string) => process.stderr.write(`[zim-bench ${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${msg}\n`);
const figure = (name: string, value: number) => process.stdout.write(`${name}: ${fmt(value)}\n`);
const mbPerSecond = (ms: number) => SIZE / 1e6 / (ms / 1000);

const work = mkdtempSync(path.join(tmpdir(), 'lores-zim-bench-'));
let server: ChildProcess | undefined;
const workers = new Map<Client, { child: ChildProcess; next: () => Promise<string> }>();

function cleanUp(): void {
  server?.kill('SIGTERM');
  for (const { child } of workers.values()) child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

/** Random bytes (incompressible), written in 8 MiB blocks; returns the sha-256. */
function makeFile(file: string): string {
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(8 * 1024 * 1024);
  const fd = openSync(file, 'w');
  try {
    for (let left = SIZE; left > 0; left -= block.length) {
      const piece = block.subarray(0, Math.min(block.length, left));
      randomFillSync(piece);
      hash.update(piece);
      writeSync(fd, piece);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

async function startServer(file: string): Promise<number> {
  server = spawn(process.execPath, [SERVER, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = createInterface({ input: server.stdout! });
  const [first] = (await Promise.race([once(line, 'line'), once(server, 'exit').then(() => Promise.reject(new Error('the file server exited')))])) as [string];
  line.close();
  return (JSON.parse(first) as { port: number }).port;
}

async function timeCurl(url: string): Promise<number> {
  const out = path.join(work, 'curl.out');
  const t0 = performance.now();
  const curl = spawn('curl', ['-s', '-o', out, url], { stdio: 'inherit' });
  const [code] = (await once(curl, 'exit')) as [number | null];
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`curl exited with ${code}`);
  rmSync(out);
  return ms;
}

function startWorker(client: Client): void {
  const child = spawn(process.execPath, [...NODE_FLAGS, CLIENT, client], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`the ${client} download process exited`);
    return value as string;
  };
  workers.set(client, { child, next });
}

async function timeDownloadZim(client: Client, url: string, sha256: string): Promise<Run> {
  const dir = path.join(work, `library-${client}`);
  mkdirSync(dir, { recursive: true });
  const worker = workers.get(client)!;
  worker.child.stdin!.write(`${JSON.stringify({ url, sha256, size: SIZE, dir, fileName: FILE_NAME })}\n`);
  const run = JSON.parse(await worker.next()) as Run;
  rmSync(dir, { recursive: true });
  return run;
}

async function main(): Promise<void> {
  const source = path.join(work, 'source.bin');
  log(`writing ${SIZE / 1024 / 1024} MiB of random bytes`);
  const sha256 = makeFile(source);
  const port = await startServer(source);
  const url = `http://127.0.0.1:${port}/${FILE_NAME}`;
  // One untimed run each: the page cache holds the source, and the downloader's code is compiled (a node
  // downloads for hours; its first second of JIT warm-up is not its rate).
  log(`serving on ${url}; one untimed run of each to warm up`);
  await timeCurl(url);
  for (const client of CLIENTS) {
    startWorker(client);
    await timeDownloadZim(client, url, sha256);
  }

  const curlMs: number[] = [];
  const runs = new Map<Client, Run[]>(CLIENTS.map((c) => [c, []]));
  const everyone = ['curl', ...CLIENTS] as const;
  for (let run = 1; run <= RUNS; run++) {
    // Rotate who goes first, so no one always gets the quieter moment.
    const order = everyone.map((_, i) => everyone[(i + run) % everyone.length]!);
    for (const who of order) {
      let ms: number;
      if (who === 'curl') {
        ms = await timeCurl(url);
        curlMs.push(ms);
      } else {
        const r = await timeDownloadZim(who, url, sha256);
        runs.get(who)!.push(r);
        ms = r.ms;
      }
      log(`run ${run} ${who}: ${fmt(mbPerSecond(ms), 1)} MB/s`);
    }
  }
  // Median time ↔ median rate (the rate is monotonic in the time).
  const curl = mbPerSecond(median(curlMs));
  const rate = (c: Client) => mbPerSecond(median(runs.get(c)!.map((r) => r.ms)));
  const zim = rate('http1');
  const zimMs = runs.get('http1')!.map((r) => r.ms);
  figure('zim_download_mb_s', zim);
  figure('curl_mb_s', curl);
  figure('zim_download_ratio_vs_curl', zim / curl);
  figure('zim_download_best_mb_s', mbPerSecond(Math.min(...zimMs)));
  figure('curl_best_mb_s', mbPerSecond(Math.min(...curlMs)));
  figure('zim_download_best_ratio_vs_curl', Math.min(...curlMs) / Math.min(...zimMs));
  // Each client side by side: rate, its ratio to the node's own client, RSS after a download (median) and at peak.
  for (const c of CLIENTS) {
    const name = c.replace('-', '_');
    figure(`zim_${name}_mb_s`, rate(c));
    if (c !== 'http1') figure(`zim_${name}_vs_http1`, rate(c) / zim);
    figure(`zim_${name}_rss_mb`, median(runs.get(c)!.map((r) => r.rssMb)));
    figure(`zim_${name}_peak_rss_mb`, Math.max(...runs.get(c)!.map((r) => r.peakRssMb)));
  }
}

try {
  await main();
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  cleanUp();
}
