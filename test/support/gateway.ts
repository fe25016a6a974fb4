// A stand-in for Traefik in front of a node on 127.0.0.1: passes requests through (streams included), and while
// "down" answers 502 Bad Gateway, as Traefik does while the node's container is gone (a restart, a self-upgrade).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Gateway = {
  url: string;
  /** Cuts every open response and answers 502 to every request until up(). */
  down(): void;
  up(): void;
  /** 502s answered so far. */
  readonly badGateways: number;
  /** Responses still streaming from the node whose path starts with `prefix`. */
  openStreams(prefix: string): number;
  close(): Promise<void>;
};

export async function startGateway(targetPort: number): Promise<Gateway> {
  let down = false;
  let badGateways = 0;
  const open = new Map<http.ServerResponse, string>();
  const server = http.createServer((req, res) => {
    if (down) {
      badGateways += 1;
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('Bad Gateway');
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    open.set(res, req.url ?? '');
    res.on('close', () => {
      open.delete(res);
      upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    down() {
      down = true;
      for (const res of open.keys()) res.destroy();
    },
    up() {
      down = false;
    },
    get badGateways() {
      return badGateways;
    },
    openStreams: (prefix) => [...open.values()].filter((url) => url.startsWith(prefix)).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open.keys()) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
