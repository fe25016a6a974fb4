// One HTTP client of the ZIM download bench in a process of its own (`node bench/zim-download-client.ts <client>`),
// so each client's memory is its own: reads one JSON request per line on stdin ({url, sha256, size, dir, fileName}),
// downloads it with `downloadZim` over that client, and answers one JSON line: {ms, rssMb, peakRssMb}.
// Clients: `http1` (the node's own, app/adapters/remote/http1-get.ts), `undici-request`, `undici-stream`.
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Transport } from '../app/adapters/remote/http-client.ts';
import { downloadZim } from '../app/services/zim/download.ts';

type Job = { url: string; sha256: string; size: number; dir: string; fileName: string };

async function transportOf(client: string): Promise<Transport | undefined> {
  if (client === 'http1') return undefined; // the default
  // Imported only here, so the http1 process never loads undici.
  const undici = await import('./undici-transport.ts');
  if (client === 'undici-request') return undici.undiciRequestTransport();
  if (client === 'undici-stream') return undici.undiciStreamTransport();
  throw new Error(`unknown client ${client}`);
}

const transport = await transportOf(process.argv[2] ?? '');
for await (const line of createInterface({ input: process.stdin })) {
  const job = JSON.parse(line) as Job;
  const t0 = performance.now();
  const result = await downloadZim({ urls: [job.url], size: job.size, sha256: job.sha256, dir: job.dir, fileName: job.fileName, minFreeBytes: 0, ...(transport ? { transport } : {}) });
  const ms = performance.now() - t0;
  rmSync(result.path);
  const rssMb = process.memoryUsage.rss() / 1024 / 1024;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ ms, rssMb, peakRssMb })}\n`);
}
