// A steward's first day (#21): risky actions ask first, pages offer only what can apply to the person and the app,
// and a node that cannot reach Docker says so calmly.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, loggedIn, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';
import { haveDocker } from '../support/requirements.ts';

vi.setConfig({ testTimeout: 120_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const DOMAIN = `sd${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');

describe('when the node cannot reach Docker', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await testNode({ DOCKER_SOCKET: path.join(tmpdir(), `no-docker-${id}.sock`) }, { live: true });
  });
  afterAll(() => node?.close());

  it('the dashboard says so instead of “No apps on this node yet”', async () => {
    expect(node.services.model.status.stale).toBe(true);
    const { agent } = await loggedIn(node);
    const page = await agent.get('/').expect(200);
    expect(page.text).toContain('The node cannot reach Docker right now');
    expect(page.text).not.toContain('No apps on this node yet');
  });
});

describe.skipIf(!dockerThere)('confirmations and the actions a page offers', () => {
  let node: TestNode;
  let abraDir: string;
  let steward: Awaited<ReturnType<typeof loggedIn>>;
  let guest: Awaited<ReturnType<typeof loggedIn>>;
  const jobCount = () => node.services.store.jobs.list({ limit: 100 }).length;

  beforeAll(async () => {
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '90' }, { full: true });
    await addUser(node, 'sam', 'steward');
    await addUser(node, 'gus', 'guest', 'guest password 1');
    steward = await loggedIn(node, 'sam', 'steward password 1');
    guest = await loggedIn(node, 'gus', 'guest password 1');
    // Installed at the oldest version and not deployed: nothing runs on the swarm.
    const job = await node.services.lifecycle.install({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain: DOMAIN, deploy: false, form: {} }, { name: 'admin', ip: null, role: 'admin' });
    expect((await node.services.jobs.finished(job.id)).state).toBe('succeeded');
  }, 120_000);
  afterAll(() => {
    node?.close();
    rmSync(abraDir, { recursive: true, force: true });
  });

  it('Stop and Undeploy without `confirmed` lead to a page that asks first, and start nothing', async () => {
    const before = jobCount();
    for (const action of ['stop', 'undeploy']) {
      const res = await steward.agent.post(`/apps/${STACK}/${action}`).type('form').send({ _csrf: steward.csrf });
      expect(res.status, res.text.slice(0, 300)).toBe(303);
      expect(res.headers.location).toBe(`/apps/${STACK}/${action}`);
    }
    expect(jobCount()).toBe(before);
    const stop = await steward.agent.get(`/apps/${STACK}/stop`).expect(200);
    expect(stop.text).toContain(`Stop ${DOMAIN}?`);
    expect(stop.text).toContain('People using it will not reach it until it is started again.');
    expect(stop.text).toMatch(new RegExp(`<form method="post" action="/apps/${STACK}/stop"[^]*name="confirmed"`));
    const undeploy = await steward.agent.get(`/apps/${STACK}/undeploy`).expect(200);
    expect(undeploy.text).toContain(`Undeploy ${DOMAIN}?`);
    expect(undeploy.text).toMatch(new RegExp(`<form method="post" action="/apps/${STACK}/undeploy"[^]*name="confirmed"`));
    // A guest gets neither the page nor the action.
    expect((await guest.agent.get(`/apps/${STACK}/stop`)).status).toBe(403);
    expect((await guest.agent.post(`/apps/${STACK}/stop`).type('form').send({ _csrf: guest.csrf })).status).toBe(403);
  });

  it('offers Upgrade only when a newer version exists and Roll back only when an older one does', async () => {
    const page = (await steward.agent.get(`/apps/${STACK}`).expect(200)).text;
    expect(page).toContain(`href="/apps/${STACK}/upgrade"`);
    expect(page).not.toContain(`href="/apps/${STACK}/rollback"`);
  });

  it('a guest is not offered Install (the menu says Recipes) nor any action on an app', async () => {
    const home = (await guest.agent.get('/').expect(200)).text;
    const nav = /<nav aria-label="Main">([^]*?)<\/nav>/.exec(home)![1]!;
    expect(nav).not.toContain('>Install<');
    expect(nav).toContain('>Recipes<');
    expect((await steward.agent.get('/').expect(200)).text).toMatch(/<nav aria-label="Main">[^]*>Install<[^]*<\/nav>/);
    const recipes = (await guest.agent.get('/recipes').expect(200)).text;
    expect(recipes).not.toContain('href="/install/');
    const app = (await guest.agent.get(`/apps/${STACK}`).expect(200)).text;
    for (const action of ['stop', 'deploy', 'undeploy', 'restart', 'config', 'upgrade', 'rollback', 'remove', 'backups', 'adopt']) {
      expect(app, action).not.toContain(`/apps/${STACK}/${action}"`);
    }
  });

  it('the install page names the CPU fit once (no “CPU: CPU: unknown”)', async () => {
    const form = (await steward.agent.get('/install/lores-test-app?version=1.0.0%2B1.0').expect(200)).text;
    const text = form.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');
    expect(text).toMatch(/Its images: (built for this CPU|not for this CPU|CPU support )/);
    expect(text).not.toMatch(/CPU:\s*CPU:/);
  });
});
