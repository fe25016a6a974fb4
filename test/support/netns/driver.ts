// Runs inside a network namespace (`ip netns exec <ns> node driver.ts`) as a client on that LAN: reads one JSON
// command a line on stdin, answers one JSON line on stdout. `http`: a request to an address, with any Host header
// (as a browser sends after resolving a name); `resolve`: an mDNS A query for a `.local` name, the first answer.
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import makeMdns from 'multicast-dns';

type Command =
  | { id: number; op: 'http'; url: string; method?: string; headers?: Record<string, string>; body?: string }
  | { id: number; op: 'resolve'; name: string; interface: string; timeoutMs: number };

function http(c: Extract<Command, { op: 'http' }>): Promise<unknown> {
  return new Promise((resolve) => {
    const u = new URL(c.url);
    const req = request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method: c.method ?? 'GET', headers: c.headers ?? {}, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ error: err.message }));
    if (c.body) req.write(c.body);
    req.end();
  });
}

function resolveName(c: Extract<Command, { op: 'resolve' }>): Promise<unknown> {
  return new Promise((resolve) => {
    const mdns = makeMdns({ interface: c.interface, bind: '0.0.0.0', loopback: false });
    const done = (v: unknown) => {
      clearTimeout(timer);
      clearInterval(again);
      mdns.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done({ error: 'no answer' }), c.timeoutMs);
    mdns.on('response', (res) => {
      const a = ([...(res.answers ?? []), ...(res.additionals ?? [])] as { name: string; type: string; data?: unknown }[]).find((r) => r.type === 'A' && r.name.toLowerCase() === c.name.toLowerCase());
      if (a) done({ address: a.data });
    });
    const ask = () => mdns.query({ questions: [{ name: c.name, type: 'A' }] });
    ask();
    const again = setInterval(ask, 1000);
  });
}

const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const c = JSON.parse(line) as Command;
  const out = c.op === 'http' ? await http(c) : await resolveName(c);
  process.stdout.write(`${JSON.stringify({ id: c.id, ...(out as object) })}\n`);
});
