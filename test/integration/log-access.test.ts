// Service logs (which often carry tokens) are for stewards and admins only, and each person follows at most a few
// at once: a real service on the local swarm, real log streams from Docker.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLogStreams } from '../../app/adapters/docker/logs.ts';
import { appsFrom } from '../../app/services/apps.ts';
import { ADMIN_PASSWORD, addUser, testNode, type TestNode } from '../support/app.ts';
import { haveDocker } from '../support/requirements.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const STACK = `logs${id}_lores_test`;
const SERVICE = `${STACK}_app`;
const CAP = 4;

describe.skipIf(!dockerThere)('who may read service logs', () => {
  let node: TestNode;
  let server: Server;
  let base: string;
  const cookies: Record<'steward' | 'guest' | 'admin', string> = { steward: '', guest: '', admin: '' };
  const open: AbortController[] = [];

  /** Opens a followed log and waits for its first bytes (the slot is taken by then); the status it answered. */
  async function follow(cookie: string): Promise<{ status: number; text?: string; controller: AbortController }> {
    const controller = new AbortController();
    const res = await fetch(`${base}/apps/${STACK}/logs/stream?service=${SERVICE}`, { headers: { Cookie: cookie }, signal: controller.signal });
    if (res.status !== 200) return { status: res.status, text: await res.text(), controller };
    open.push(controller);
    const reader = res.body!.getReader();
    await reader.read(); // `retry: 2000`
    return { status: 200, controller };
  }

  beforeAll(async () => {
    await ensureTestImage();
    const chatty = coopCloudStack(STACK, { recipe: 'chatty', version: '0.1.0+1', domain: `logs-${id}.node.example.org` });
    await deployStack(STACK, { ...chatty, app: { ...chatty.app, command: 'trap "exit 0" TERM; i=0; while true; do echo "api_token=tok$i"; i=$((i+1)); sleep 0.3; done' } });
    node = await testNode({}, { live: true });
    const people = node.services.people;
    for (const role of ['steward', 'guest'] as const) {
      const u = await addUser(node, `${role}1`, role);
      const s = node.services.sessions.start((await people.authenticate(u.username, u.password))!, { ip: '127.0.0.1', userAgent: 'test' });
      cookies[role] = `lores_session=${s.token}`;
    }
    const a = node.services.sessions.start((await people.authenticate('admin', ADMIN_PASSWORD))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookies.admin = `lores_session=${a.token}`;
    server = node.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await eventually(() => appsFrom(node.services.model).find((x) => x.stack === STACK)?.running === 1, 60_000)).toBe(true);
  }, 120_000);

  afterAll(async () => {
    for (const c of open) c.abort();
    server?.closeAllConnections();
    server?.close();
    node?.close();
    await removeStack(STACK);
  }, 60_000);

  it('refuses guests the log page and its stream, and shows them no log link', async () => {
    const page = await supertest(node.app).get(`/apps/${STACK}/logs?service=${SERVICE}`).set('Cookie', cookies.guest);
    expect(page.status).toBe(403);
    expect(page.text).not.toContain('api_token=');
    const stream = await follow(cookies.guest);
    expect(stream.status).toBe(403);
    expect(stream.text).not.toContain('api_token=');
    const appPage = await supertest(node.app).get(`/apps/${STACK}`).set('Cookie', cookies.guest).expect(200);
    expect(appPage.text).toContain(`data-service="${SERVICE}"`);
    expect(appPage.text).not.toContain('/logs?service=');
  });

  it('lets a steward read, with the log link on the app page', async () => {
    const appPage = await supertest(node.app).get(`/apps/${STACK}`).set('Cookie', cookies.steward).expect(200);
    expect(appPage.text).toContain(`/apps/${STACK}/logs?service=${SERVICE}`);
    const page = await supertest(node.app).get(`/apps/${STACK}/logs?service=${SERVICE}&tail=5`).set('Cookie', cookies.steward).expect(200);
    expect(page.text).toMatch(/api_token=tok\d+/);
    expect(page.text).toContain('sse-connect=');
  });

  it(`holds each person to ${CAP} followed logs: the next is refused with a reason, others are not affected`, async () => {
    const before = openLogStreams();
    const held = [];
    for (let i = 0; i < CAP; i++) held.push(await follow(cookies.steward));
    expect(held.map((h) => h.status)).toEqual(Array(CAP).fill(200));
    const refused = await follow(cookies.steward);
    expect(refused.status).toBe(429);
    expect(refused.text).toContain(`You already follow ${CAP} logs live`);
    // The page still shows the last lines, says why it does not follow, and asks for no stream.
    const page = await supertest(node.app).get(`/apps/${STACK}/logs?service=${SERVICE}`).set('Cookie', cookies.steward).expect(200);
    expect(page.text).toMatch(/api_token=tok\d+/);
    expect(page.text).toContain(`You already follow ${CAP} logs live`);
    expect(page.text).not.toContain('sse-connect=');
    // Another person has their own allowance.
    expect((await follow(cookies.admin)).status).toBe(200);
    // Closing one gives its slot back.
    held[0]!.controller.abort();
    expect(await eventually(async () => {
      const again = await follow(cookies.steward);
      return again.status === 200;
    }, 10_000, 200)).toBe(true);
    for (const c of open) c.abort();
    expect(await eventually(() => openLogStreams() === before, 10_000)).toBe(true);
  });
});
