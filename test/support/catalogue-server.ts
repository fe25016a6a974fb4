// A stand-in for the Co-op Cloud catalogue on 127.0.0.1: serves a recipes.json the test chooses, or fails as told.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type CatalogueMode = 'ok' | 'down' | 'html';

export async function startCatalogueServer(body: () => string) {
  let mode: CatalogueMode = 'ok';
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (req.url !== '/recipes.json' || mode === 'down') {
      res.writeHead(req.url === '/recipes.json' ? 503 : 404).end('unavailable');
      return;
    }
    if (mode === 'html') res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Wi-Fi login</body></html>');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(body());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/recipes.json`,
    setMode: (m: CatalogueMode) => void (mode = m),
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
