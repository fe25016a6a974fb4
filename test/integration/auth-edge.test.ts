// The authentication edge: whose X-Forwarded-For counts, login limits that strangers cannot turn against the admin,
// no-store on what needs a login, __Host- cookies over HTTPS read tolerantly, a quiet /healthz, private DB files.
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, csrfFrom, testNode, type TestNode } from '../support/app.ts';
import { REPO_ROOT } from '../support/server.ts';
import { createStore } from '../../app/store/index.ts';
import { createDocker } from '../../app/adapters/docker/client.ts';
import { createLogger } from '../../app/log.ts';
import { trustedProxies } from '../../app/services/trusted-proxies.ts';
import { DOCKER_SOCKET, haveDocker } from '../support/requirements.ts';

const dockerThere = await haveDocker();

let node: TestNode | undefined;
afterEach(() => {
  node?.close();
  node = undefined;
});

type Res = { status: number; text: string; headers: Record<string, unknown> };
const setCookies = (res: Res) => (res.headers['set-cookie'] ?? []) as string[];

/** A browser's cookie jar, by hand: supertest's agent keeps Secure cookies away from plain-HTTP test requests. */
class Browser {
  readonly jar = new Map<string, string>();
  readonly app: TestNode['app'];
  readonly headers: Record<string, string>;
  constructor(app: TestNode['app'], headers: Record<string, string> = {}) {
    this.app = app;
    this.headers = headers;
  }

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  keep(res: Res): Res {
    for (const c of setCookies(res)) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      if (/Expires=Thu, 01 Jan 1970/i.test(c) || pair.slice(eq + 1) === '') this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1));
    }
    return res;
  }

  async get(url: string, extra: Record<string, string> = {}): Promise<Res> {
    return this.keep(await supertest(this.app).get(url).set({ ...this.headers, ...extra, Cookie: this.cookieHeader() }));
  }

  async post(url: string, form: Record<string, string>): Promise<Res> {
    return this.keep(await supertest(this.app).post(url).set({ ...this.headers, Cookie: this.cookieHeader() }).type('form').send(form));
  }

  async login(username: string, password: string): Promise<Res> {
    const page = await this.get('/login');
    return this.post('/login', { _csrf: csrfFrom(page.text), username, password });
  }
}

const auditRows = (n: TestNode, action: string) => n.services.store.audit.page({ limit: 500 }).filter((r) => r.action === action);

describe('client addresses', () => {
  it('ignores X-Forwarded-For from a peer that is not the configured proxy: the limit still applies', async () => {
    node = await testNode({ TRUST_PROXY: '10.200.0.0/16' }); // the test's peer, 127.0.0.1, is not the proxy
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      // a new made-up address and account name each time, so only the address limit can hold it
      const spoofer = new Browser(node.app, { 'X-Forwarded-For': `198.51.100.${i + 1}` });
      statuses.push((await spoofer.login(`nobody${i}`, 'guess')).status);
    }
    expect(statuses.slice(0, 11)).toEqual(Array(11).fill(401));
    expect(statuses[11]).toBe(429);
    expect(auditRows(node, 'login.failed').map((r) => r.ip)).not.toContain('198.51.100.1');
  });

  it('honours X-Forwarded-For from the trusted proxy: each client is held by its own address', async () => {
    node = await testNode({ TRUST_PROXY: 'loopback' });
    for (let i = 0; i < 12; i++) {
      const client = new Browser(node.app, { 'X-Forwarded-For': `198.51.100.${i + 1}` });
      expect((await client.login(`nobody${i}`, 'guess')).status).toBe(401);
    }
    expect(auditRows(node, 'login.failed').map((r) => r.ip)).toContain('198.51.100.12');
  });

  it.skipIf(!dockerThere)('docker-network:proxy trusts the proxy network\'s subnets, read from Docker, and not a LAN client', async () => {
    const docker = createDocker(DOCKER_SOCKET);
    const network = (await docker.getNetwork('proxy').inspect()) as { IPAM: { Config: { Subnet: string }[] } };
    const subnet = network.IPAM.Config[0]!.Subnet; // e.g. 10.0.1.0/24
    const proxies = trustedProxies({ addresses: [], dockerNetworks: ['proxy'] }, docker, createLogger('silent'));
    await proxies.ready;
    expect(proxies.ranges()).toContain(subnet);
    const inside = subnet.replace(/\.0\/\d+$/, '.2');
    expect(proxies.trusts(inside)).toBe(true);
    expect(proxies.trusts(`::ffff:${inside}`)).toBe(true);
    expect(proxies.trusts('127.0.0.1')).toBe(false);
    expect(proxies.trusts('192.168.1.50')).toBe(false);
    proxies.stop();

    // In the app: this test's peer (127.0.0.1, like a client on the LAN port) cannot claim another address.
    node = await testNode({ TRUST_PROXY: 'docker-network:proxy', DOCKER_SOCKET });
    await new Browser(node.app, { 'X-Forwarded-For': '198.51.100.1' }).login('nobody', 'guess');
    expect(auditRows(node, 'login.failed').map((r) => r.ip)).toEqual(['127.0.0.1']);
  });

  it('trusts nothing but loopback unless told', async () => {
    node = await testNode();
    expect(node.services.config.trustProxy).toEqual({ addresses: ['loopback'], dockerNetworks: [] });
  });
});

describe('login limits', () => {
  it('holds an unknown account name like a real one: a hold does not tell which accounts exist', async () => {
    node = await testNode();
    const held = async (username: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await new Browser(node!.app, { 'X-Forwarded-For': `192.0.2.${i + 1}` }).login(username, 'guess')).status);
      return statuses;
    };
    expect(await held('admin')).toEqual([401, 401, 401, 401, 401, 401, 429]);
    expect(await held('nobody')).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });

  it('ten wrong passwords from an attacker do not stop the admin logging in from a browser that logged in before', async () => {
    node = await testNode();
    // All from one address, as behind a proxy that shows every client as one.
    const adminsBrowser = new Browser(node.app);
    expect((await adminsBrowser.login('admin', ADMIN_PASSWORD)).status).toBe(303);
    expect(adminsBrowser.jar.has('lores_device')).toBe(true);
    const account = await adminsBrowser.get('/account');
    expect((await adminsBrowser.post('/logout', { _csrf: csrfFrom(account.text) })).status).toBe(303);

    const attacker = new Browser(node.app);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await attacker.login('admin', `guess ${i}`)).status);
    expect(statuses.slice(0, 6)).toEqual(Array(6).fill(401)); // then the account is held: 429
    expect(statuses.slice(6)).toEqual(Array(4).fill(429));
    const held = await attacker.login('admin', ADMIN_PASSWORD);
    expect(held.status).toBe(429);
    expect(held.text).toMatch(/Too many attempts (for this account|from your address)\. Wait \d+ seconds and try again\./);
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(0);
    expect(auditRows(node, 'login.locked').length).toBeGreaterThan(0);
    expect(auditRows(node, 'login.locked')[0]).toMatchObject({ target: 'admin', outcome: 'denied' });

    // A new browser is held with the account; the admin's own browser is not.
    expect((await new Browser(node.app).login('admin', ADMIN_PASSWORD)).status).toBe(429);
    expect((await adminsBrowser.login('admin', ADMIN_PASSWORD)).status).toBe(303);
    expect((await adminsBrowser.get('/')).status).toBe(200);
  });

  it('a password reset from the command line lets the admin in from a new browser at once', async () => {
    node = await testNode();
    const attacker = new Browser(node.app);
    for (let i = 0; i < 8; i++) await attacker.login('admin', `guess ${i}`);
    expect((await new Browser(node.app, { 'X-Forwarded-For': '192.0.2.9' }).login('admin', ADMIN_PASSWORD)).status).toBe(429);

    const file = path.join(node.dataDir, 'new-password');
    writeFileSync(file, 'the admin password after reset\n');
    const cli = await execa(process.execPath, ['app/cli.ts', 'reset-admin-password', '--password-file', file], { cwd: REPO_ROOT, env: { DATA_DIR: node.dataDir }, reject: false });
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect((await new Browser(node.app, { 'X-Forwarded-For': '192.0.2.9' }).login('admin', 'the admin password after reset')).status).toBe(303);
  });
});

describe('Cache-Control', () => {
  it('is no-store on authenticated pages, fragments, live streams and redirects; assets stay cacheable', async () => {
    node = await testNode();
    const browser = new Browser(node.app);
    const login = await browser.login('admin', ADMIN_PASSWORD);
    expect(login.status).toBe(303);
    expect(login.headers['cache-control']).toBe('no-store'); // the redirect after login
    const page = await browser.get('/');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    const fragment = await browser.get('/account', { 'HX-Request': 'true' });
    expect(fragment.status).toBe(200);
    expect(fragment.headers['cache-control']).toBe('no-store');
    const redirect = await browser.get('/login');
    expect(redirect.status).toBe(303);
    expect(redirect.headers['cache-control']).toBe('no-store');

    const server = node.app.listen(0, '127.0.0.1');
    try {
      await new Promise((r) => server.once('listening', r));
      const controller = new AbortController();
      const live = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/live`, { headers: { cookie: browser.cookieHeader() }, signal: controller.signal });
      expect(live.status).toBe(200);
      expect(live.headers.get('content-type')).toMatch(/text\/event-stream/);
      expect(live.headers.get('cache-control')).toBe('no-store');
      controller.abort();
    } finally {
      server.closeAllConnections();
      server.close();
    }

    const asset = await browser.get('/assets/app.css');
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toMatch(/max-age=3600/);
  });
});

describe('cookies', () => {
  it('over HTTPS (X-Forwarded-Proto from the trusted proxy) are __Host- prefixed: Secure, Path=/, no Domain', async () => {
    node = await testNode();
    const browser = new Browser(node.app, { 'X-Forwarded-Proto': 'https' });
    const res = await browser.login('admin', ADMIN_PASSWORD);
    expect(res.status).toBe(303);
    const set = setCookies(res);
    for (const name of ['__Host-lores_session', '__Host-lores_device']) {
      const cookie = set.find((c) => c.startsWith(`${name}=`));
      expect(cookie, name).toMatch(/; Path=\/;/);
      expect(cookie, name).toMatch(/; Secure/);
      expect(cookie, name).toMatch(/HttpOnly/);
      expect(cookie, name).not.toMatch(/Domain=/i);
    }
    expect(set.some((c) => /^lores_(session|device)=/.test(c))).toBe(false);
    expect((await browser.get('/')).status).toBe(200);

    // A session cookie without the prefix is what a sibling app could plant: over HTTPS it counts for nothing.
    const session = browser.jar.get('__Host-lores_session')!;
    const planted = await supertest(node.app).get('/').set({ 'X-Forwarded-Proto': 'https', Cookie: `lores_session=${session}` });
    expect(planted.status).toBe(303);
    expect(planted.headers.location).toMatch(/^\/login/);
  });

  it('a duplicate or malformed cookie beside the real one does not log the user out', async () => {
    node = await testNode();
    const browser = new Browser(node.app);
    expect((await browser.login('admin', ADMIN_PASSWORD)).status).toBe(303);
    const real = browser.jar.get('lores_session')!;
    for (const extra of ['lores_session=garbage', 'lores_session=%E0%A4%A', `lores_session=${'A'.repeat(43)}`]) {
      for (const cookie of [`${extra}; lores_session=${real}`, `lores_session=${real}; ${extra}`]) {
        const res = await supertest(node.app).get('/').set('Cookie', cookie);
        expect(res.status, cookie).toBe(200);
      }
    }
    // The same over HTTPS with the prefixed names.
    const secure = new Browser(node.app, { 'X-Forwarded-Proto': 'https' });
    expect((await secure.login('admin', ADMIN_PASSWORD)).status).toBe(303);
    const cookie = `__Host-lores_session=%E0%A4%A; lores_session=junk; __Host-lores_session=${secure.jar.get('__Host-lores_session')}`;
    expect((await supertest(node.app).get('/').set({ 'X-Forwarded-Proto': 'https', Cookie: cookie })).status).toBe(200);
  });
});

describe('/healthz', () => {
  it('answers anonymous callers up or down only: no pid, memory or versions', async () => {
    node = await testNode();
    const res = await supertest(node.app).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.text).not.toMatch(/pid|rss|version/i);
  });
});

describe('database files', () => {
  it('are 0600 and DATA_DIR 0700 with umask 000, and existing looser modes are put right at start', async () => {
    const before = process.umask(0o000);
    try {
      node = await testNode();
      const dataDir = path.join(node.dataDir, 'nested', 'data');
      const store = createStore(dataDir);
      store.settings.set('probe', 'x', 'test', Date.now()); // a write, so -wal and -shm exist
      const mode = (f: string) => statSync(f).mode & 0o777;
      const db = path.join(dataDir, 'lores-node.sqlite');
      expect(mode(dataDir).toString(8)).toBe('700');
      for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f).toString(8), f).toBe('600');
      store.close();

      chmodSync(dataDir, 0o755);
      chmodSync(db, 0o644);
      const again = createStore(dataDir);
      expect(mode(dataDir).toString(8)).toBe('700');
      for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f).toString(8), f).toBe('600');
      again.close();
    } finally {
      process.umask(before);
    }
  });
});
