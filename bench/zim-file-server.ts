// A tiny file server for the ZIM download bench, run as its own process (`node bench/zim-file-server.ts <file>`) so
// serving and downloading do not share one event loop. Serves the file at every path, honours one `bytes=a-b` /
// `bytes=a-` range, and prints `{"port":N}` on stdout once listening on 127.0.0.1.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node bench/zim-file-server.ts <file>\n');
  process.exit(2);
}
const size = statSync(file).size;

const server = http.createServer((req, res) => {
  let start = 0;
  let end = size - 1;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    start = Number(range[1]);
    if (range[2]) end = Math.min(end, Number(range[2]));
    if (start > end) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
  }
  res.writeHead(range ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': String(end - start + 1),
    'accept-ranges': 'bytes',
    ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  // Large reads: the server should not be what limits either client.
  pipeline(createReadStream(file, { start, end, highWaterMark: 1024 * 1024 }), res).catch(() => res.destroy());
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
