// Every state-changing route refuses without a session and without a CSRF token, so a route added later cannot slip past.
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn, testNode, type TestNode } from '../support/app.ts';
import { concretePath, listRoutes } from '../support/routes.ts';

// The only state-changing routes reachable before login; they still need the pre-login CSRF token.
const PUBLIC_WRITES = new Set(['POST /login', 'POST /setup']);
// git over HTTP for laptops (routes/git.ts): HTTP Basic auth with an access token, never a session or a CSRF token.
const GIT_ROUTE = /^\/git\//;

describe('route guards', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await testNode();
  });
  afterAll(() => node.close());

  const writes = () => listRoutes(node.app).filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method));

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
    const pages = listRoutes(node.app).filter((r) => r.method === 'GET' && !['/login', '/setup', '/healthz', '/favicon.ico'].includes(r.path) && !r.path.startsWith('/assets') && !GIT_ROUTE.test(r.path));
    expect(pages.length).toBeGreaterThan(3);
    for (const r of pages) {
      const res = await supertest(node.app).get(concretePath(r.path));
      expect(res.status, r.path).toBe(303);
      expect(res.headers.location).toMatch(/^\/login\?next=/);
    }
  });
});
