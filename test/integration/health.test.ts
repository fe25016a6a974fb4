// /healthz against the real Docker daemon, and against a socket where nothing answers.
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn, testNode, type TestNode } from '../support/app.ts';
import { within } from '../support/poll.ts';
import { DOCKER_SOCKET, haveDocker } from '../support/requirements.ts';

const dockerThere = await haveDocker();

describe.skipIf(!dockerThere)('healthz with Docker', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await testNode({ DOCKER_SOCKET });
  });
  afterAll(() => node.close());

  it('answers up or down without login, and nothing more', async () => {
    const res = await supertest(node.app).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  // Was "without login": the pid, memory and versions help an attacker; a logged-in admin still sees them.
  it('reports the process, the store and the real daemon to a logged-in admin', async () => {
    const { agent } = await loggedIn(node);
    // Docker gets 1.5 s per look (a health check must not hang); a daemon busy with other tests may need a second look.
    const { value: res } = await within('/healthz to find Docker answering', 20_000, async () => {
      const r = await agent.get('/healthz').expect(200);
      return r.body.docker?.ok ? r : undefined;
    });
    expect(res.body.status).toBe('ok');
    expect(res.body.process.pid).toBe(process.pid);
    expect(res.body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.body.store.ok).toBe(true);
    expect(res.body.docker.ok).toBe(true);
    expect(res.body.docker.swarm).toBe('active');
    expect(res.body.docker.apiVersion).toMatch(/^1\.\d+$/);
  });
});

describe('healthz with Docker down', () => {
  it('stays 200 and says Docker does not answer', async () => {
    const node = await testNode({ DOCKER_SOCKET: '/nonexistent/docker.sock' });
    expect((await supertest(node.app).get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
    const { agent } = await loggedIn(node);
    const res = await agent.get('/healthz').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.docker).toEqual({ ok: false, error: expect.stringContaining('ENOENT') });
    node.close();
  });
});
