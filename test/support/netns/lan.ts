// A LAN made of network namespaces (tests only, needs root): a Linux bridge in a namespace of its own, and one
// namespace per host joined to it by a veth pair, with 10.x addresses that exist only inside them. Nothing is
// created in the machine's own namespace, and nothing here sends traffic outside these namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../server.ts';

export type Lan = {
  ns(host: string): string;
  address(host: string): string;
  /** The interface name inside each host namespace. */
  iface: 'eth0';
  destroy(): Promise<void>;
};

const ip = (...args: string[]) => execa('ip', args);

/** Whether this machine lets us make namespaces (root with iproute2). */
export async function canMakeNamespaces(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root';
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return r.exitCode === 0 ? undefined : `ip netns does not work: ${r.stderr}`;
}

/** `hosts` get 10.<subnet>.1, .2, … in that order, on one bridge. */
export async function makeLan(hosts: string[], subnet = '10.231.20'): Promise<Lan> {
  const tag = randomBytes(3).toString('hex');
  const bridgeNs = `lores-br-${tag}`;
  const nsOf = new Map(hosts.map((h) => [h, `lores-${h}-${tag}`]));
  const addrOf = new Map(hosts.map((h, i) => [h, `${subnet}.${i + 1}`]));
  const made: string[] = [];
  const destroy = async () => {
    for (const ns of made.reverse()) await execa('ip', ['netns', 'del', ns], { reject: false });
  };
  try {
    await ip('netns', 'add', bridgeNs);
    made.push(bridgeNs);
    await ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
    let n = 0;
    for (const [host, ns] of nsOf) {
      await ip('netns', 'add', ns);
      made.push(ns);
      const port = `p${n++}`;
      // Both ends are made inside the bridge's namespace; one moves straight into the host's.
      await ip('-n', bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', bridgeNs, 'link', 'set', port, 'master', 'br0');
      await ip('-n', bridgeNs, 'link', 'set', port, 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'addr', 'add', `${addrOf.get(host)}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up', 'multicast', 'on');
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { ns: (h) => nsOf.get(h)!, address: (h) => addrOf.get(h)!, iface: 'eth0', destroy };
}

export type NsProcess = { child: ChildProcess; output(): string; waitFor(text: string | RegExp, ms: number): Promise<void>; stop(): Promise<void> };

/** Starts `argv` inside a namespace (`ip netns exec` execs it, so the pid is the program's). */
export function spawnIn(ns: string, argv: string[], env: Record<string, string> = {}): NsProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    async waitFor(text, ms) {
      const until = Date.now() + ms;
      while (!(typeof text === 'string' ? out.includes(text) : text.test(out))) {
        if (child.exitCode !== null) throw new Error(`${argv.join(' ')} exited (${child.exitCode}):\n${out}`);
        if (Date.now() > until) throw new Error(`${argv.join(' ')}: no ${text} within ${ms} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

export type HttpAnswer = { status: number; headers: Record<string, string | string[]>; text: string };

/** A client on the LAN: HTTP requests and mDNS lookups made from inside a namespace. */
export function lanClient(ns: string, address: string) {
  const p = spawnIn(ns, [process.execPath, path.join('test', 'support', 'netns', 'driver.ts')]);
  let next = 1;
  let buffered = '';
  const waiting = new Map<number, (v: Record<string, unknown>) => void>();
  p.child.stdout!.on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const msg = JSON.parse(line) as { id: number };
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    }
  });
  const send = (cmd: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      p.child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  return {
    async http(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
      const r = await send({ op: 'http', url, ...opts });
      if (r.error) throw new Error(`${url}: ${String(r.error)}`);
      return r as unknown as HttpAnswer;
    },
    async resolve(name: string, timeoutMs = 5000): Promise<string | undefined> {
      const r = await send({ op: 'resolve', name, interface: address, timeoutMs });
      return typeof r.address === 'string' ? r.address : undefined;
    },
    close: () => p.stop(),
  };
}
export type LanClient = ReturnType<typeof lanClient>;

/** A logged-in session over a LanClient: cookies kept, the CSRF token read from each page. */
export async function lanLogin(c: LanClient, base: string, username: string, password: string) {
  const cookies = new Map<string, string>();
  const keep = (a: HttpAnswer) => {
    const set = a.headers['set-cookie'];
    for (const line of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = line.split(';');
      const [k, v] = pair!.split('=');
      cookies.set(k!.trim(), v ?? '');
    }
    return a;
  };
  const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const login = keep(await c.http(`${base}/login`));
  const res = keep(
    await c.http(`${base}/login`, { method: 'POST', headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrfOf(login.text), username, password }).toString() }),
  );
  if (res.status !== 303) throw new Error(`login on ${base} failed: ${res.status} ${res.text.slice(0, 300)}`);
  let csrf = csrfOf(keep(await c.http(`${base}/account`, { headers: { cookie: cookie() } })).text);
  return {
    get: async (p: string) => keep(await c.http(`${base}${p}`, { headers: { cookie: cookie() } })),
    post: async (p: string, form: Record<string, string>) => {
      const a = keep(await c.http(`${base}${p}`, { method: 'POST', headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, ...form }).toString() }));
      csrf = csrfOf(a.text) || csrf;
      return a;
    },
  };
}
