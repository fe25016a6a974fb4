// "This server" and an app's CPU and memory, on the real swarm: a running app's figures come from Docker's stats
// (non-zero memory), a stack with nothing running says so, and the dashboard and the app page carry the panels,
// which stay inside a phone's width.
import { randomBytes } from 'node:crypto';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, ADMIN_PASSWORD, testNode, type TestNode } from '../support/app.ts';
import { within } from '../support/poll.ts';
import { haveDocker } from '../support/requirements.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 90_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const STACK = `health_${id}`;
const IDLE = `healthidle_${id}`;

describe.skipIf(!dockerThere)('resource panels (real swarm)', () => {
  let node: TestNode;
  let cookie: string;
  const get = (url: string, htmx = false) => {
    const req = supertest(node.app).get(url).set('Cookie', cookie);
    return htmx ? req.set('HX-Request', 'true') : req;
  };

  beforeAll(async () => {
    await ensureTestImage();
    await deployStack(STACK, coopCloudStack(STACK, { recipe: 'custom-html', version: '1.0.0+1', domain: `${id}.health.test`, services: { web: {} } }));
    await deployStack(IDLE, { app: { replicas: 0 } });
    node = await testNode({}, { live: true });
    const s = node.services.sessions.start((await node.services.people.authenticate('admin', ADMIN_PASSWORD))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookie = `lores_session=${s.token}`;
  }, 90_000);

  afterAll(async () => {
    node?.close();
    await removeStack(STACK);
    await removeStack(IDLE);
  }, 60_000);

  it('an app with running containers: its memory (non-zero) and CPU, summed over them, from Docker’s stats', async () => {
    // Both services' tasks running on this node (the swarm starts them within seconds).
    const { value: html } = await within('both containers measured', 60_000, async () => {
      await new Promise((r) => setTimeout(r, 1000)); // past the 10 s keep only when needed: node.clock moves below
      node.clock.advance(10_000);
      const res = await get(`/apps/${STACK}/resources`, true).expect(200);
      return /data-reading="containers">2 running/.test(res.text) ? res.text : undefined;
    });
    const bytes = Number(/data-bytes="(\d+)"/.exec(html)?.[1]);
    expect(bytes).toBeGreaterThan(0);
    console.log(`app_memory_bytes: ${bytes}`);
    expect(html).toMatch(/data-reading="cpu">(under 1|\d+) % of this server’s CPU</);
    expect(html).not.toContain('<html'); // the part, for htmx
    // Without JavaScript, the same figures as a page.
    const page = await get(`/apps/${STACK}/resources`).expect(200);
    expect(page.text).toContain('<html');
    expect(page.text).toMatch(/data-reading="memory" data-bytes="\d+"/);
  });

  it('a stack with nothing running says so; an unknown one is not found', async () => {
    const res = await get(`/apps/${IDLE}/resources`, true).expect(200);
    expect(res.text).toContain('No container of this app is running on this server now.');
    await get(`/apps/nosuch_${id}/resources`, true).expect(404);
  });

  it('this server: both disks, memory, uptime, and the temperature or "not available"', async () => {
    const res = await get('/server', true).expect(200);
    expect(res.text).toContain(`data-disk="${node.dataDir}"`);
    expect(res.text).toMatch(/data-disk="[^"]+">[\d.]+ [KMGT]?B free of [\d.]+ [KMGT]?B \(\d+ % used\)|data-disk="[^"]+">this folder is not there/);
    expect(res.text).toMatch(/data-reading="memory">[\d.]+ [KMGT]?B free of [\d.]+ [KMGT]?B</);
    expect(res.text).toMatch(/data-reading="uptime">\d+ (minute|hour|day)/);
    expect(res.text).toMatch(/data-reading="temperature"[^>]*>(-?[\d.]+ °C|not available on this server)/);
    const page = await get('/server').expect(200);
    expect(page.text).toContain('<h2>This server</h2>');
  });

  it('the dashboard and the app page fetch the panels when they show, with links for a browser without JavaScript', async () => {
    const dash = await get('/').expect(200);
    expect(dash.text).toMatch(/hx-get="\/server" hx-trigger="load, every 30s"/);
    expect(dash.text).toContain('<a href="/server">');
    const app = await get(`/apps/${STACK}`).expect(200);
    expect(app.text).toContain(`hx-get="/apps/${STACK}/resources"`);
    expect(app.text).toContain(`<a href="/apps/${STACK}/resources">`);
  });

  it('guests may look too (they see apps), and only after logging in', async () => {
    await supertest(node.app).get('/server').expect(303);
    await supertest(node.app).get(`/apps/${STACK}/resources`).expect(303);
    const guest = await addUser(node, 'gus', 'guest');
    const g = node.services.sessions.start((await node.services.people.authenticate(guest.username, guest.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    const res = await supertest(node.app).get(`/apps/${STACK}/resources`).set('Cookie', `lores_session=${g.token}`).set('HX-Request', 'true').expect(200);
    expect(res.text).toMatch(/data-reading="memory" data-bytes="[1-9]\d*"/);
  });
});
