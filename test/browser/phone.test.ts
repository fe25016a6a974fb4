// Phone first (#21): every page the node serves fits a 390 px wide screen. The pages are enumerated from the app's
// own routes (a page added later is checked too), with a real installed and deployed app, its job and its recipe.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_PASSWORD, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';
import { closePage, cspErrors, logIn, openPage, type BrowserPage } from '../support/browser.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { concretePath, listRoutes } from '../support/routes.ts';
import { ensureTestImage, removeStack } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 300_000 });
const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(3).toString('hex');
// A long name, as stewards pick them: it must wrap, not widen the page.
const DOMAIN = `phone-${id}-a-rather-long-community-wiki-name.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_').slice(0, 45);
const PHONE = { width: 390, height: 844 };

// Not pages: streams, partials, downloads, the login/setup forms (no session), other nodes' routes, git over HTTP, health.
const notAPage = (p: string) =>
  ['/login', '/setup', '/healthz', '/favicon.ico', '/region/peers'].includes(p) || p.startsWith('/assets') || p.startsWith('/region/peer/') || p.startsWith('/git/') || /\/(live|stream|download)$/.test(p);
// Pages this node answers with "not here" for this app (it is not Kiwix, and has no backup yet): checked all the same.
const notForThisApp = (p: string) => p.startsWith('/apps/:stack/zims') || p === '/apps/:stack/backups/:id/restore';

describe.skipIf(!canRun)('every page on a phone (390 px)', () => {
  let node: TestNode;
  let abraDir: string;
  let server: Server;
  let base: string;
  let b: BrowserPage;
  let jobId: number;

  beforeAll(async () => {
    await ensureTestImage();
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '90' }, { full: true });
    const job = await node.services.lifecycle.install({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain: DOMAIN, deploy: true, form: {} }, { name: 'admin', ip: null, role: 'admin' });
    expect((await node.services.jobs.finished(job.id)).state).toBe('succeeded');
    jobId = job.id;
    server = createServer(node.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    b = await openPage(20_000);
    await b.page.setViewportSize(PHONE);
  }, 240_000);

  afterAll(async () => {
    await closePage(b ?? {});
    await new Promise((resolve) => server?.close(resolve));
    node?.close();
    await removeStack(STACK);
    if (abraDir) rmSync(abraDir, { recursive: true, force: true });
  }, 60_000);

  it('logs in as admin and finds no page wider than the screen', async () => {
    const { page } = b;
    await logIn(page, base, { password: ADMIN_PASSWORD, from: '/login' });
    // The measure can see an overflow: a page made wider than the screen reports it.
    expect(await page.evaluate<number>("(() => { const d = document.createElement('div'); d.style.width = '600px'; d.style.height = '1px'; document.body.append(d); return document.documentElement.scrollWidth; })()")).toBeGreaterThan(PHONE.width);

    const patterns = [...new Set(listRoutes(node.app).filter((r) => r.method === 'GET' && !notAPage(r.path)).map((r) => r.path))];
    expect(patterns.length).toBeGreaterThan(20);
    const params = { stack: STACK, recipe: 'lores-test-app', name: 'lores-test-app', id: String(jobId) };
    const results: string[] = [];
    for (const pattern of patterns) {
      const url = concretePath(pattern, params);
      const res = await page.goto(`${base}${url}`);
      const status = res?.status() ?? 0;
      if (!notForThisApp(pattern)) expect(status, `${url} answers`).toBe(200);
      const width = await page.evaluate<number>('document.documentElement.scrollWidth');
      results.push(`${width} ${status} ${url}`);
      expect(width, `${url} is ${width} px wide on a ${PHONE.width} px screen`).toBeLessThanOrEqual(PHONE.width);
    }
    console.info(`phone widths (scrollWidth status url):\n${results.join('\n')}`);
    expect(cspErrors(b.errors), b.errors.join('\n')).toEqual([]);
  });

  it('scrolls wide tables inside their own box, with a cue, and wraps the header menu', async () => {
    const { page } = b;
    await page.goto(`${base}/apps/${STACK}`);
    const wrapStyle = await page.evaluate<{ overflowX: string; cue: string }>(
      "(() => { const s = getComputedStyle(document.querySelector('.table-wrap')); return { overflowX: s.overflowX, cue: s.backgroundImage }; })()",
    );
    expect(wrapStyle.overflowX).toBe('auto');
    expect(wrapStyle.cue).toContain('gradient');
    // The header stays within the screen, however many links the menu has.
    expect(await page.locator('header.top').evaluate((el) => el.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).isVisible()).toBe(true);
  });
});
