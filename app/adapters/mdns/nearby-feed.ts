// The nodes nearby, handed from the mDNS responder to the node when the two run apart. Deployed from its recipe, the
// node sits on the swarm's overlay network, which multicast does not cross; the responder (`cli.js mdns`) runs on the
// host's network, browses the LAN there, and serves what it found as JSON on the host's LAN address. The node reads
// it at each region poll. The list is what every node on the LAN announces anyway (names, addresses, ports): nothing
// more is served, and the node still pairs only by code.
import { createServer, type Server } from 'node:http';
import { z } from 'zod';
import type { Nearby } from './responder.ts';

/** What the node keeps of an answer: entries that are not a node's name, URL and address are left out. */
const nearbySchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/),
  url: z.url({ protocol: /^https?$/ }).max(200),
  address: z.ipv4(),
  seenAt: z.number().int().nonnegative(),
});
const MAX_BYTES = 64 * 1024;
const MAX_NODES = 100;
export const NEARBY_PATH = '/nearby';

/** Serves `nearby()` at GET /nearby on `host:port`; anything else is a 404. Resolves once listening. */
export async function serveNearby(source: { nearby(): Nearby[] }, opts: { host: string; port: number }): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== NEARBY_PATH) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(source.nearby().slice(0, MAX_NODES)));
  });
  server.requestTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return server;
}

/** The entries of a feed's JSON that are well formed (at most MAX_NODES); anything else gives none. */
export function nearbyFrom(json: unknown): Nearby[] {
  if (!Array.isArray(json)) return [];
  return json.slice(0, MAX_NODES).flatMap((e) => {
    const parsed = nearbySchema.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Asks the responder's feed for the nodes nearby; rejects when it does not answer in time or answers too much. */
export async function readNearby(url: string, timeoutMs = 3000): Promise<Nearby[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  if (!res.ok) throw new Error(`the mDNS responder answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_BYTES) throw new Error('the mDNS responder answered too much');
  return nearbyFrom(JSON.parse(text));
}
