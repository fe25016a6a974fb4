// The list of nodes nearby, from the mDNS responder (host network) to the node (overlay network) over HTTP: what the
// responder serves, and what the node keeps of an answer (only well-formed entries; nothing from a bad answer).
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { NEARBY_PATH, nearbyFrom, readNearby, serveNearby } from '../../app/adapters/mdns/nearby-feed.ts';
import type { Nearby } from '../../app/adapters/mdns/responder.ts';

const BRAVO: Nearby = { name: 'bravo', url: 'http://10.0.0.2:8080', address: '10.0.0.2', seenAt: 1_700_000_000_000 };
const servers: Server[] = [];
const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A stand-in responder answering `body` with `status`. */
async function answering(status: number, body: string): Promise<Server> {
  const s = createServer((_req, res) => res.writeHead(status).end(body));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  servers.push(s);
  return s;
}

describe('the nodes nearby, handed from the responder to the node', () => {
  it('serves the responder’s list at GET /nearby and nothing else; the node reads it back as it was', async () => {
    const list = [BRAVO, { ...BRAVO, name: 'charlie', address: '10.0.0.3', url: 'http://10.0.0.3:8080' }];
    const feed = await serveNearby({ nearby: () => list }, { host: '127.0.0.1', port: 0 });
    servers.push(feed);
    expect(await readNearby(`${urlOf(feed)}${NEARBY_PATH}`)).toEqual(list);
    expect((await fetch(`${urlOf(feed)}/`)).status).toBe(404);
    expect((await fetch(`${urlOf(feed)}${NEARBY_PATH}`, { method: 'POST' })).status).toBe(404);
  });

  it('keeps only well-formed entries: a name, an http(s) URL, an IPv4 address and a time', () => {
    const bad = [
      { ...BRAVO, name: '<script>' },
      { ...BRAVO, url: 'file:///etc/passwd' },
      { ...BRAVO, address: 'not-an-address' },
      { ...BRAVO, seenAt: -1 },
      'bravo',
      null,
    ];
    expect(nearbyFrom([...bad, BRAVO])).toEqual([BRAVO]);
    expect(nearbyFrom({ nodes: [BRAVO] })).toEqual([]);
    expect(nearbyFrom(Array.from({ length: 500 }, () => BRAVO))).toHaveLength(100);
  });

  it('refuses an answer that is an error, not JSON, or too big', async () => {
    await expect(readNearby(`${urlOf(await answering(500, '[]'))}${NEARBY_PATH}`)).rejects.toThrow('answered 500');
    await expect(readNearby(`${urlOf(await answering(200, 'not json'))}${NEARBY_PATH}`)).rejects.toThrow();
    await expect(readNearby(`${urlOf(await answering(200, JSON.stringify(Array.from({ length: 2000 }, () => BRAVO))))}${NEARBY_PATH}`)).rejects.toThrow('too much');
  });
});
