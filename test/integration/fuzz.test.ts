// A bounded fuzz run over every route, as each role: hostile path parameters, queries and form bodies
// (with the session's real CSRF token, so requests reach the handlers). The node must answer every one
// without a 5xx, stay up, and keep its memory flat. Figures are printed for the issue note.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { haveDocker } from '../support/requirements.ts';
import { listRoutes, type RouteInfo } from '../support/routes.ts';

const PER_ROLE = 2600;
const STREAM_PEEK_MS = 150;
// Routes that end the fuzzing session itself; everything else is fair game.
const SKIP = new Set(['POST /logout', 'POST /logout-everywhere']);

/** A small deterministic generator, so a failure can be replayed from its seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const HOSTILE = [
  '',
  '1',
  '0',
  '-1',
  '99999999999999999999',
  '1e309',
  'NaN',
  'a',
  'x'.repeat(5000),
  '../../etc/passwd',
  '..%2f..%2fetc',
  '/',
  'traefik',
  'wiki_example_org',
  'wiki.example.org',
  'WIKI.EXAMPLE.ORG',
  'lores-test-app',
  'kiwix',
  'Bibliothèque',
  '日本語',
  '<script>alert(1)</script>',
  `'"\`$(reboot)`,
  'a;rm -rf /',
  'line\r\nevent: forged\r\nid: 9\r\n',
  '\u0000',
  '%',
  '%E0%A4%A',
  '__proto__',
  'constructor',
  'true',
  'on',
  'https://169.254.169.254/latest/meta-data/',
  'http://127.0.0.1:1/',
  '/var/run/docker.sock',
  'v1.2.3+4.5',
  '1.0.0+2.0.0',
];
const FIELDS = [
  'domain', 'version', 'deploy', 'override_arch', 'confirm', 'username', 'password', 'password2', 'current', 'role',
  'nodeDomain', 'downloadLimitKBps', 'service', 'from', 'redeploy', 'next', 'token', 'q', 'lang', 'category',
  'book', 'name', 'url', 'env.DOMAIN', 'env.TITLE', 'enable.TITLE', 'overlay.compose.lan.yml', 'tail', 'before', 'action', '__proto__',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** The route's pattern with each `:param` replaced by a hostile value (sometimes left raw, to test decoding). */
function concreteFuzzPath(r: () => number, pattern: string): string {
  return pattern.replace(/:[a-zA-Z]+/g, () => {
    const v = pick(r, HOSTILE);
    return r() < 0.15 ? v.replace(/[/?#\s]/g, '') || 'x' : encodeURIComponent(v);
  });
}

function fuzzFields(r: () => number, n: number): [string, string][] {
  return Array.from({ length: n }, () => [pick(r, FIELDS), pick(r, HOSTILE)] as [string, string]);
}

type Auth = { cookie: string; csrf: string } | undefined;
type Tally = { requests: number; byStatus: Map<number, number>; fiveXX: string[] };

async function fire(base: string, route: RouteInfo, r: () => number, auth: Auth, tally: Tally): Promise<void> {
  const url = new URL(base + concreteFuzzPath(r, route.path).replace(/^\/?/, '/'));
  for (const [k, v] of fuzzFields(r, Math.floor(r() * 3))) url.searchParams.append(k, v);
  const headers: Record<string, string> = {};
  if (auth) headers.cookie = auth.cookie;
  if (r() < 0.2) headers['HX-Request'] = 'true';
  if (r() < 0.1) headers['X-Forwarded-For'] = pick(r, ['1.2.3.4', 'garbage', '::1, 10.0.0.1', '']);
  let body: string | undefined;
  if (route.method !== 'GET') {
    const form = new URLSearchParams(fuzzFields(r, 1 + Math.floor(r() * 5)));
    if (auth && r() < 0.9) form.set('_csrf', auth.csrf);
    body = form.toString();
    headers['content-type'] = r() < 0.9 ? 'application/x-www-form-urlencoded' : pick(r, ['application/json', 'text/plain', 'multipart/form-data; boundary=x']);
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 10_000);
  try {
    const res = await fetch(url, { method: route.method, headers, body, redirect: 'manual', signal: ctl.signal });
    tally.requests += 1;
    tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
    if (res.status >= 500) tally.fiveXX.push(`${res.status} ${route.method} ${url.pathname}${url.search.slice(0, 120)}: ${(await res.text()).slice(0, 300)}`);
    else if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      // A live stream: it answered; peek briefly, then hang up as a browser tab would.
      await new Promise((resolve) => setTimeout(resolve, STREAM_PEEK_MS));
      await res.body?.cancel();
    } else await res.arrayBuffer();
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzzing every route as every role', async () => {
  const docker = await haveDocker();
  let node: TestNode;
  let server: Server;
  let base: string;
  let abraDir: string;

  beforeAll(async () => {
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-fuzz-'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES }, { full: true });
    server = createServer(node.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server?.closeAllConnections();
    node?.close();
    rmSync(abraDir, { recursive: true, force: true });
  });

  /** A session for `username` made directly, so the login limiter plays no part in the fuzz. */
  async function sessionOf(username: string, password: string): Promise<Auth> {
    const user = await node.services.people.authenticate(username, password);
    if (!user) throw new Error(`cannot authenticate ${username}`);
    const s = node.services.sessions.start(user, { ip: '127.0.0.1', userAgent: 'fuzz' });
    return { cookie: `lores_session=${s.token}`, csrf: s.session.csrfToken };
  }

  it.runIf(docker)('answers ≥ 10,000 hostile requests without a 5xx, stays up, memory flat', async () => {
    const guest = await addUser(node, 'gwen', 'guest', 'guest password 1');
    const steward = await addUser(node, 'sam', 'steward', 'steward password 1');
    const roles: [string, () => Promise<Auth>][] = [
      ['anonymous', async () => undefined],
      ['guest', () => sessionOf(guest.username, guest.password)],
      ['steward', () => sessionOf(steward.username, steward.password)],
      // Last: an admin's fuzzed writes may remove or disable the others.
      ['admin', () => sessionOf('admin', 'correct horse battery')],
    ];
    const routes = listRoutes(node.app).filter((x) => !SKIP.has(`${x.method} ${x.path}`) && !x.path.includes('*'));
    expect(routes.length).toBeGreaterThan(40);
    const tally: Tally = { requests: 0, byStatus: new Map(), fiveXX: [] };
    // Live heap after a full collection: what the node keeps, without the runner's and fetch's transient garbage.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heapMb = () => {
      gc();
      return Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10;
    };
    const rssMb = () => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
    const started = Date.now();
    const heap: number[] = [];
    for (const [i, [role, auth]] of roles.entries()) {
      const r = rng(0x10e5 + i);
      let session = await auth();
      for (let n = 0; n < PER_ROLE; n += 8) {
        // Eight at a time, each route in turn so every route is hit as every role.
        await Promise.all(Array.from({ length: 8 }, (_, k) => fire(base, routes[(n + k) % routes.length]!, r, session, tally)));
        if (n % 1000 === 0) {
          heap.push(heapMb());
          // An admin's fuzzed writes may end their own session (password, disable): start a new one.
          if (session && (await fetch(`${base}/account`, { headers: { cookie: session.cookie }, redirect: 'manual' })).status !== 200) session = await auth();
        }
      }
      console.log(`fuzz: ${role} done, ${tally.requests} requests so far, rss ${rssMb()} MB`);
    }
    const seconds = (Date.now() - started) / 1000;
    const statuses = Object.fromEntries([...tally.byStatus].sort(([a], [b]) => a - b));
    console.log(`fuzz_requests: ${tally.requests}`);
    console.log(`fuzz_routes: ${routes.length}`);
    console.log(`fuzz_seconds: ${seconds.toFixed(1)}`);
    console.log(`fuzz_statuses: ${JSON.stringify(statuses)}`);
    console.log(`fuzz_heap_after_gc_mb: ${heap.join(', ')} → ${heapMb()}`);
    console.log(`fuzz_process_rss_mb: ${rssMb()}`);

    expect(tally.fiveXX, tally.fiveXX.slice(0, 10).join('\n')).toEqual([]);
    expect(tally.requests).toBeGreaterThanOrEqual(10_000);
    // Still up and answering.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // Memory flat: after the first thousand requests' warm-up, the live heap grows by at most a few MB.
    expect(heapMb() - heap[1]!).toBeLessThan(8);
  }, 600_000);
});
