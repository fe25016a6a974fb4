// /healthz against the real Docker daemon, and against a socket where nothing answers.
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNode, type TestNode } from '../support/app.ts';
import { DOCKER_SOCKET, haveDocker } from '../support/requirements.ts';

const dockerThere = await haveDocker();

describe.skipIf(!dockerThere)('healthz with Docker', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await testNode({ DOCKER_SOCKET });
  });
  afterAll(() => node.close());

  it('reports the process, the store and the real daemon, without login', async () => {
    const res = await supertest(node.app).get('/healthz').expect(200);
    expect(res.body.status).toBe('ok');
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
    const res = await supertest(node.app).get('/healthz').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.docker).toEqual({ ok: false, error: expect.stringContaining('ENOENT') });
    node.close();
  });
});
