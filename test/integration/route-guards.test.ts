// Every state-changing route refuses without a session and without a CSRF token, so a route added later cannot slip past.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stackNameFor } from '../../app/adapters/abra/names.ts';
import { loggedIn, testNode, type TestNode } from '../support/app.ts';
import { boundaryNode, type Agent, type BoundaryNode } from '../support/boundary-node.ts';
import { haveDocker } from '../support/requirements.ts';
import { concretePath, listRoutes, routeParams } from '../support/routes.ts';
import { deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

vi.setConfig({ testTimeout: 120_000 });
const dockerThere = await haveDocker();

// The only state-changing routes reachable before login; they still need the pre-login CSRF token.
const PUBLIC_WRITES = new Set(['POST /login', 'POST /setup']);
// Routes other nodes call (pairing, signed requests): no session, but a pairing code or a paired node's signature.
const isPeerRoute = (path: string) => path.startsWith('/region/peer/');
// git over HTTP for laptops (routes/git.ts): HTTP Basic auth with an access token, never a session or a CSRF token.
const GIT_ROUTE = /^\/git\//;

describe('route guards', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await testNode();
  });
  afterAll(() => node.close());

  const writes = () => listRoutes(node.app).filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method) && !isPeerRoute(r.path));

  it('finds the state-changing routes', () => {
    const found = writes().map((r) => `${r.method} ${r.path}`);
    // A sanity floor so a broken walker cannot pass vacuously.
    expect(found).toEqual(expect.arrayContaining(['POST /login', 'POST /logout', 'POST /users', 'POST /settings', 'POST /users/:id/remove']));
  });

  it('refuses every non-public write without a session (redirect or 401)', async () => {
    for (const r of writes().filter((r) => !PUBLIC_WRITES.has(`${r.method} ${r.path}`))) {
      const res = await supertest(node.app)[r.method.toLowerCase() as 'post'](concretePath(r.path)).type('form').send({ _csrf: 'x' });
      expect([302, 303, 401], `${r.method} ${r.path}`).toContain(res.status);
    }
  });

  it('refuses every write without a valid CSRF token (403), logged in as admin', async () => {
    const { agent } = await loggedIn(node);
    for (const r of writes().filter((r) => !GIT_ROUTE.test(r.path))) {
      const path = concretePath(r.path);
      const method = r.method.toLowerCase() as 'post';
      const none = await agent[method](path).type('form').send({ username: 'admin', password: 'x' });
      expect(none.status, `${r.method} ${r.path} without token`).toBe(403);
      const wrong = await agent[method](path).set('X-CSRF-Token', 'not-the-token').type('form').send({});
      expect(wrong.status, `${r.method} ${r.path} with a wrong token`).toBe(403);
    }
    // The session is still alive: nothing above logged us out or changed anything.
    await agent.get('/account').expect(200);
    expect(node.services.store.users.count()).toBe(1);
  });

  it('answers git routes 401 without an access token, even with a logged-in admin’s session', async () => {
    const { agent } = await loggedIn(node);
    const git = listRoutes(node.app).filter((r) => GIT_ROUTE.test(r.path));
    expect(git.map((r) => r.method).sort()).toEqual(['GET', 'POST']);
    for (const r of git) {
      for (const sub of ['info/refs?service=git-receive-pack', 'git-receive-pack', 'git-upload-pack']) {
        const res = await agent[r.method.toLowerCase() as 'post'](`/git/servers.git/${sub}`).set('X-CSRF-Token', 'x').send('');
        expect(res.status, `${r.method} ${sub}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Basic /);
      }
    }
  });

  it('refuses public writes without the pre-login CSRF token', async () => {
    for (const key of PUBLIC_WRITES) {
      const [method, path] = key.split(' ') as [string, string];
      const res = await supertest(node.app)[method.toLowerCase() as 'post'](path).type('form').send({ username: 'admin', password: 'x' });
      expect(res.status, key).toBe(403);
    }
  });

  it('redirects every page to the login when logged out', async () => {
    const pages = listRoutes(node.app).filter((r) => r.method === 'GET' && !['/login', '/setup', '/healthz', '/favicon.ico'].includes(r.path) && !r.path.startsWith('/assets') && !isPeerRoute(r.path) && !GIT_ROUTE.test(r.path));
    expect(pages.length).toBeGreaterThan(3);
    for (const r of pages) {
      const res = await supertest(node.app).get(concretePath(r.path));
      expect(res.status, r.path).toBe(303);
      expect(res.headers.location).toMatch(/^\/login\?next=/);
    }
  });

  it('refuses every peer route to an unpaired caller: unsigned reads get 403 and say nothing, unreadable pairing messages 400', async () => {
    const peer = listRoutes(node.app).filter((r) => isPeerRoute(r.path));
    expect(peer.length).toBeGreaterThanOrEqual(5);
    for (const r of peer) {
      const res = await supertest(node.app)[r.method.toLowerCase() as 'get'](concretePath(r.path)).send({});
      expect(r.method === 'GET' ? [403, 404] : [400], `${r.method} ${r.path}`).toContain(res.status);
      if (r.method === 'GET' && res.status === 403) expect(res.body).toEqual({ error: 'refused' });
    }
  });
});

// Roles × apps: for every state-changing route, a guest, a steward on a stack the node does not manage, and a steward
// on an app whose recipe mounts the Docker socket are refused, and nothing changes (no job, no abra call, no env file
// written, the swarm untouched). A route added later is enumerated here too, and must refuse them as well.
describe.skipIf(!dockerThere)('route guards: roles × apps', () => {
  const id = randomBytes(3).toString('hex');
  const PLAIN = `rg${id}`; // unlabelled, deployed by someone else
  const SOCKET = `rgsock${id}.lores.test`; // installed by an admin from the node's own recipe: mounts the Docker socket
  let b: BoundaryNode;

  beforeAll(async () => {
    await ensureTestImage();
    b = await boundaryNode(id);
    await deployStack(PLAIN, { web: {} });
    const admin = { name: 'admin', ip: null, role: 'admin' as const };
    const job = await b.node.services.lifecycle.install({ recipe: 'lores-node', version: undefined, domain: SOCKET, deploy: false, confirm: { hostReach: true }, form: {} }, admin);
    expect((await b.node.services.jobs.finished(job.id)).state).toBe('succeeded');
    expect(await eventually(() => [...b.node.services.model.services.values()].some((s) => s.stack === PLAIN && s.running > 0), 60_000)).toBe(true);
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await removeStack(PLAIN);
  }, 60_000);

  // Other nodes' routes (pairing, signed requests) answer no session at all: tested above and in region.test.ts.
  // git over HTTP answers access tokens only (access-tokens.test.ts: a guest cannot push).
  const writes = () => listRoutes(b.node.app).filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method) && !isPeerRoute(r.path) && !GIT_ROUTE.test(r.path));
  // A person's own session and password: posting these would log the tester out or change their own password (they need
  // no role; /account/password needs the current password, tested in people.test.ts).
  const OWN_SESSION = new Set(['POST /login', 'POST /setup', 'POST /logout', 'POST /logout-everywhere', 'POST /account/password']);
  // Writes a steward may make that act on no app: refresh the catalogue or the region's copies, fetch a recipe (installing it is guarded),
  // see an install's secrets once (only the installer). Not posted for the steward: a fetch would start a job.
  const STEWARD_MAY = new Set(['POST /recipes/refresh', 'POST /recipes/:name/fetch', 'POST /jobs/:id/secrets', 'POST /region/refresh',
    // names its app in the form, not the path: authorized like the app's settings (app-guard.ts)
    'POST /region/local-names']);
  // Routes that refuse an app they do not serve as "not found" (the ZIM pages serve Kiwix apps only) or a job's
  // secrets as "gone", or a job without a safety snapshot (a real one's app is then authorized like any restore);
  // every other refusal is a 403.
  const notFoundIsRefusal = (path: string) => path.startsWith('/apps/:stack/zims') || path === '/jobs/:id/secrets' || path === '/jobs/:id/restore-before-upgrade';
  // What a form might carry: enough that no refusal below is for a missing field.
  const form = { domain: `rgnew${id}.lores.test`, version: '0.1.0+0.1.0', confirm: SOCKET, confirm_host_reach: 'on', allow_link_local: 'on', deploy: 'on', redeploy: 'on', service: 'app', 'env.NODE_DOMAIN': 'evil.example.org', username: 'mallory', role: 'admin', password: 'a long password 1', name: 'x.zim', url: 'http://127.0.0.1/x.zim' };

  async function expectRefusedUnchanged(who: Agent, label: string, cases: { method: string; path: string; params: Record<string, string> }[]) {
    expect(cases.length, label).toBeGreaterThan(5);
    const before = b.snapshot();
    for (const c of cases) {
      const url = concretePath(c.path, c.params);
      const res = await who.agent[c.method.toLowerCase() as 'post'](url).type('form').send({ _csrf: who.csrf, ...form });
      const allowed = notFoundIsRefusal(c.path) ? [403, 404, 409, 410] : [403];
      expect(allowed, `${label}: ${c.method} ${url} → ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
    }
    expect(b.snapshot(), label).toEqual(before);
    expect(b.node.services.jobs.holder(PLAIN), label).toBeUndefined();
    const replicas = await execa('docker', ['service', 'inspect', `${PLAIN}_web`, '--format', '{{.Spec.Mode.Replicated.Replicas}}']);
    expect(replicas.stdout.trim(), label).toBe('1');
  }

  it('enumerates the app routes, so the table below cannot pass vacuously', () => {
    const paths = writes().map((r) => `${r.method} ${r.path}`);
    for (const a of ['stop', 'start', 'restart', 'deploy', 'config', 'upgrade', 'rollback', 'undeploy', 'remove', 'adopt']) expect(paths).toContain(`POST /apps/:stack/${a}`);
    expect(paths).toContain('POST /install/:recipe');
  });

  it('a guest is refused every state-changing route, on every app', async () => {
    const cases = writes()
      .filter((r) => !OWN_SESSION.has(`${r.method} ${r.path}`))
      .flatMap((r) => [PLAIN, stackNameFor(SOCKET), b.selfStack].map((stack) => ({ ...r, params: { stack, recipe: 'lores-test-app', name: 'lores-test-app', id: '1' } })));
    await expectRefusedUnchanged(b.as.guest, 'guest', cases);
  });

  it('a steward is refused every state-changing route on a stack the node does not manage', async () => {
    const cases = writes()
      .filter((r) => routeParams(r.path).includes('stack'))
      .map((r) => ({ ...r, params: { stack: PLAIN } }));
    await expectRefusedUnchanged(b.as.steward, 'steward on an unmanaged stack', cases);
  });

  it('a steward is refused every state-changing route on an app whose recipe mounts the Docker socket, and the node’s own', async () => {
    const appRoutes = writes().filter((r) => routeParams(r.path).includes('stack') || routeParams(r.path).includes('recipe'));
    const cases = appRoutes.flatMap((r) => [stackNameFor(SOCKET), b.selfStack].map((stack) => ({ ...r, params: { stack, recipe: 'lores-node' } })));
    await expectRefusedUnchanged(b.as.steward, 'steward on a socket-mounting recipe', cases);
  });

  it('a steward is refused every other state-changing route but the few named above', async () => {
    const cases = writes()
      .filter((r) => !routeParams(r.path).some((p) => p === 'stack' || p === 'recipe'))
      .filter((r) => !OWN_SESSION.has(`${r.method} ${r.path}`) && !STEWARD_MAY.has(`${r.method} ${r.path}`))
      .map((r) => ({ ...r, params: { id: '1' } }));
    await expectRefusedUnchanged(b.as.steward, 'steward on admin routes', cases);
  });
});
