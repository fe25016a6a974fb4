// mDNS on the LAN (multicast-dns): announces this node as a `_lores._tcp` DNS-SD service, answers A queries for its
// `.local` names with its LAN address, and browses for the other LoRes nodes nearby. It sends and listens only on
// the configured LAN address's interface; nothing else about the node goes out (no id, no key).
import { createRequire } from 'node:module';
import type makeMdnsType from 'multicast-dns';
import type { Logger } from '../../log.ts';

export const SERVICE = '_lores._tcp.local';
/** How long answers may be cached by others (seconds); short, since nodes come and go. */
const TTL = 120;
/** A node not heard of for this long has gone from the list of nodes nearby. */
export const NEARBY_KEPT_MS = 3 * TTL * 1000;

export type Nearby = { name: string; url: string; address: string; seenAt: number };

export type MdnsDeps = {
  /** The LAN IPv4 address to announce and listen on. */
  address: string;
  nodeName: () => string;
  port: number;
  /** Whether this node answers for a `.local` name (its apps' names), asked at each query. */
  answers: (name: string) => boolean;
  log: Logger;
  now: () => number;
};

export type Mdns = { nearby(): Nearby[]; browse(): void; announce(): void; stop(): void };

// Loaded only when discovery starts (LAN_ADDRESS set) or a name is resolved: a node without it never pays for multicast-dns.
const loadMdns = () => createRequire(import.meta.url)('multicast-dns') as typeof makeMdnsType;

export function startMdns(deps: MdnsDeps): Mdns {
  const makeMdns = loadMdns();
  const mdns = makeMdns({ interface: deps.address, bind: '0.0.0.0', loopback: true, reuseAddr: true });
  const found = new Map<string, Nearby>();
  const instance = () => `${deps.nodeName()}.${SERVICE}`;
  const host = () => `${deps.nodeName()}.lores.local`;

  const serviceRecords = () => [
    { name: SERVICE, type: 'PTR' as const, ttl: TTL, data: instance() },
    { name: instance(), type: 'SRV' as const, ttl: TTL, data: { port: deps.port, target: host(), priority: 0, weight: 0 } },
    { name: instance(), type: 'TXT' as const, ttl: TTL, data: ['v=1', 'path=/region'] },
    { name: host(), type: 'A' as const, ttl: TTL, data: deps.address },
  ];

  mdns.on('query', (q) => {
    const answers = [];
    for (const question of q.questions ?? []) {
      const name = question.name.toLowerCase();
      const type = question.type as string; // 'ANY' is on the wire though dns-packet's type list leaves it out
      if (name === SERVICE && (type === 'PTR' || type === 'ANY')) answers.push(...serviceRecords());
      else if ((type === 'A' || type === 'ANY') && (name === host() || deps.answers(name))) answers.push({ name, type: 'A' as const, ttl: TTL, data: deps.address });
    }
    if (answers.length) mdns.respond({ answers });
  });

  mdns.on('response', (res, rinfo) => {
    type Rec = { name: string; type: string; data?: unknown };
    const records = [...(res.answers ?? []), ...(res.additionals ?? [])] as Rec[];
    for (const ptr of records.filter((r) => r.type === 'PTR' && r.name === SERVICE)) {
      const inst = String(ptr.data);
      if (inst === instance()) continue;
      const srv = records.find((r) => r.type === 'SRV' && r.name === inst);
      if (!srv) continue;
      const { port, target } = srv.data as { port: number; target: string };
      const a = records.find((r) => r.type === 'A' && r.name === target);
      const address = typeof a?.data === 'string' ? a.data : rinfo.address;
      const name = inst.slice(0, -SERVICE.length - 1);
      found.set(inst, { name, url: `http://${address}:${port}`, address, seenAt: deps.now() });
    }
  });
  mdns.on('error', (err: Error) => deps.log.warn({ err: err.message }, 'mDNS error'));

  const browse = () => mdns.query({ questions: [{ name: SERVICE, type: 'PTR' }] });
  const announce = () => mdns.respond({ answers: serviceRecords() });
  announce();
  browse();
  // Ask again now and then: nodes that were off come back, and answers age out.
  const timer = setInterval(browse, 30_000).unref();

  return {
    nearby: () => [...found.values()].filter((n) => deps.now() - n.seenAt < NEARBY_KEPT_MS).sort((a, b) => a.name.localeCompare(b.name)),
    browse,
    announce,
    stop() {
      clearInterval(timer);
      mdns.destroy();
    },
  };
}

/**
 * Asks the LAN, through the interface holding `address`, for the A record of a `.local` name (one query, repeated
 * once a second), and returns the first address answered, or undefined after `timeoutMs`.
 */
export async function resolveLocal(name: string, opts: { address: string; timeoutMs: number }): Promise<string | undefined> {
  const mdns = loadMdns()({ interface: opts.address, bind: '0.0.0.0', loopback: true, reuseAddr: true, port: 5353 });
  const wanted = name.toLowerCase();
  try {
    return await new Promise<string | undefined>((resolve) => {
      const ask = () => mdns.query({ questions: [{ name: wanted, type: 'A' }] });
      const every = setInterval(ask, 1000);
      const done = (found: string | undefined) => {
        clearInterval(every);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => done(undefined), opts.timeoutMs);
      mdns.on('response', (res) => {
        const a = (res.answers ?? []).find((r) => r.type === 'A' && r.name.toLowerCase() === wanted) as { data?: unknown } | undefined;
        if (typeof a?.data === 'string') done(a.data);
      });
      mdns.on('error', () => undefined); // a send that fails is retried by the next ask
      ask();
    });
  } finally {
    mdns.destroy();
  }
}
