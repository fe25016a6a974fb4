// The config repository seen in Chromium: a laptop's pushed edit shows as an app's pending changes, "Deploy these
// changes" redeploys it as a job, and the app's history says who did what. Real git, abra double, real swarm.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';
import { closePage, cspErrors, logIn, openPage, type BrowserPage } from '../support/browser.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStackAndObjects } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 300_000 });
const canRun = haveChromium() && (await haveDocker());
const DOMAIN = `c${randomBytes(3).toString('hex')}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');

describe.skipIf(!canRun)('pending changes from a laptop, in Chromium', () => {
  let node: TestNode;
  let server: Server;
  let base: string;
  let work: string;
  let b: BrowserPage;

  const git = (cwd: string, args: string[]) =>
    execa('git', args, { cwd, reject: false, env: { HOME: work, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'robin', GIT_AUTHOR_EMAIL: 'robin@laptop.example', GIT_COMMITTER_NAME: 'robin', GIT_COMMITTER_EMAIL: 'robin@laptop.example' } });
  const serviceEnv = async () => (await execa('docker', ['service', 'inspect', `${STACK}_app`, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'])).stdout;

  beforeAll(async () => {
    await ensureTestImage();
    work = mkdtempSync(path.join(tmpdir(), 'lores-browser-repo-'));
    node = await testNode({ ABRA_DIR: path.join(work, 'abra'), ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '90', NODE_DOMAIN: 'lores.test' }, { full: true });
    server = createServer(node.app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await addUser(node, 'sam', 'steward');
    await addUser(node, 'robin', 'steward', 'robin password 1');
    const sam = { name: 'sam', ip: '127.0.0.1', role: 'steward' as const };
    const job = await node.services.lifecycle.install({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain: DOMAIN, deploy: true, form: { 'env.GREETING': 'page' } }, sam);
    expect((await node.services.jobs.finished(job.id)).state).toBe('succeeded');
    // robin's laptop: clone with a token, change the greeting, push.
    const robin = node.services.people.list().find((p) => p.username === 'robin')!;
    const token = node.services.accessTokens.create(robin.id, 'laptop', 'admin').token;
    const copy = path.join(work, 'laptop');
    expect((await git(work, ['clone', '-q', `${base.replace('://', `://robin:${token}@`)}/git/servers.git`, copy])).exitCode).toBe(0);
    const file = path.join(copy, `${DOMAIN}.env`);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^GREETING=.*$/m, 'GREETING=laptop'));
    await git(copy, ['commit', '-qam', 'Greet from robin’s laptop']);
    const pushed = await git(copy, ['push', '-q', 'origin', 'main']);
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    b = await openPage(15_000);
  }, 240_000);

  afterAll(async () => {
    await closePage(b ?? {});
    server?.close();
    node?.close();
    await removeStackAndObjects(STACK);
    if (work) rmSync(work, { recursive: true, force: true });
  }, 90_000);

  it('shows the pending diff, deploys it as a job, then shows no pending changes and who did what', async () => {
    const { page } = b;
    await logIn(page, base, { username: 'sam', password: 'steward password 1', from: '/login', landsOn: (u) => !u.pathname.startsWith('/login') });

    await page.goto(`${base}/apps/${STACK}`);
    await page.getByRole('link', { name: 'Pending changes and history' }).click();
    await page.waitForURL(`${base}/apps/${STACK}/changes`);
    const diff = page.getByLabel(`Pending changes to ${DOMAIN}`);
    await expect.poll(() => diff.locator('.diff-add').allTextContents()).toEqual(['+GREETING=laptop']);
    expect(await diff.locator('.diff-del').allTextContents()).toEqual(['-GREETING=page']);
    expect(await page.locator('.pending-commits').textContent()).toContain('robin');

    // Phone-sized: the diff scrolls inside itself, the page does not scroll sideways.
    await page.setViewportSize({ width: 390, height: 800 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByRole('button', { name: 'Deploy these changes' }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    await page.locator('#job-state [data-state="succeeded"], #job-state [data-state="failed"]').waitFor({ timeout: 180_000 });
    expect(await page.locator('#job-state [data-state]').getAttribute('data-state')).toBe('succeeded');
    expect(await serviceEnv()).toContain('GREETING=laptop');

    await page.goto(`${base}/apps/${STACK}/changes`);
    await page.locator('#no-pending').waitFor();
    const history = await page.locator('ul.history li').allTextContents();
    // Deploying changed no file, so it made no commit (the deploy is in the app's job history): robin's edit is newest.
    expect(history).toHaveLength(2);
    expect(history[0]).toMatch(/Greet from robin’s laptop — robin <robin@laptop\.example>/);
    expect(history[1]).toMatch(/Install .*: lores-test-app 1\.0\.0\+1\.0, deployed — sam <sam@lores\.test>/);
    expect(cspErrors(b.errors)).toEqual([]);
  });
});
