// The ZIM download bench: a 200 MiB file served by a separate process on 127.0.0.1, fetched by `downloadZim`
// (sha-256 in the same pass, fsync, atomic rename) and by `curl -s -o` in turn, nine times each, alternating to
// spread noise evenly. The figures are each side's median rate: a run lasts about 0.3 s on a 2-core machine shared
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
import { downloadZim } from '../app/services/zim/download.ts';
import { fmt, median } from './stats.ts';

const SIZE = 200 * 1024 * 1024;
const RUNS = 9;
const FILE_NAME = 'bench_zim_download_2024-01.zim';
const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'zim-file-server.ts');

const startedAt = performance.now();
const log = (msg: string) => process.stderr.write(`[zim-bench ${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${msg}\n`);
const figure = (name: string, value: number) => process.stdout.write(`${name}: ${fmt(value)}\n`);
const mbPerSecond = (ms: number) => SIZE / 1e6 / (ms / 1000);

const work = mkdtempSync(path.join(tmpdir(), 'lores-zim-bench-'));
let server: ChildProcess | undefined;

function cleanUp(): void {
  server?.kill('SIGTERM');
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

async function timeDownloadZim(url: string, sha256: string): Promise<number> {
  const dir = path.join(work, 'library');
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  await downloadZim({ urls: [url], size: SIZE, sha256, dir, fileName: FILE_NAME, minFreeBytes: 0 });
  const ms = performance.now() - t0;
  rmSync(dir, { recursive: true });
  return ms;
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
  await timeDownloadZim(url, sha256);

  const curlMs: number[] = [];
  const zimMs: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    // Alternate which goes first, so neither always gets the quieter moment.
    const order = run % 2 ? (['curl', 'zim'] as const) : (['zim', 'curl'] as const);
    for (const who of order) {
      if (who === 'curl') curlMs.push(await timeCurl(url));
      else zimMs.push(await timeDownloadZim(url, sha256));
      log(`run ${run} ${who}: ${fmt(mbPerSecond((who === 'curl' ? curlMs : zimMs).at(-1)!), 1)} MB/s`);
    }
  }
  // Median time ↔ median rate (the rate is monotonic in the time).
  const zim = mbPerSecond(median(zimMs));
  const curl = mbPerSecond(median(curlMs));
  figure('zim_download_mb_s', zim);
  figure('curl_mb_s', curl);
  figure('zim_download_ratio_vs_curl', zim / curl);
  figure('zim_download_best_mb_s', mbPerSecond(Math.min(...zimMs)));
  figure('curl_best_mb_s', mbPerSecond(Math.min(...curlMs)));
  figure('zim_download_best_ratio_vs_curl', Math.min(...curlMs) / Math.min(...zimMs));
}

try {
  await main();
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  cleanUp();
}
