// A stand-in for Traefik inside a namespace (tests only): routes by Host header, `HOST=upstream` pairs from argv,
// and answers 404 for any other host, as Traefik does for a domain no router claims.
import { createServer, request } from 'node:http';

const [listen, ...routes] = process.argv.slice(2);
const table = new Map(routes.map((r) => r.split('=') as [string, string]));
const [addr, port] = listen!.split(':');
createServer((req, res) => {
  const upstream = table.get((req.headers.host ?? '').replace(/:\d+$/, ''));
  if (!upstream) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
  const u = new URL(upstream);
  const out = request({ host: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  out.on('error', () => res.writeHead(502).end());
  req.pipe(out);
}).listen(Number(port), addr, () => console.log('listening'));
