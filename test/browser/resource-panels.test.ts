// The resource panels in Chromium at 390 px: the dashboard fetches "This server" and the app page the app's CPU and
// memory (htmx, under the node's CSP), and both fit the phone's width.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_PASSWORD, testNode, type TestNode } from '../support/app.ts';
import { closePage, cspErrors, openPage, type BrowserPage } from '../support/browser.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 120_000 });
const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(3).toString('hex');
const STACK = `panels_${id}`;
const PHONE = { width: 390, height: 844 };

describe.skipIf(!canRun)('resource panels on a phone', () => {
  let node: TestNode;
  let server: Server;
  let base: string;
  let b: BrowserPage;

  beforeAll(async () => {
    await ensureTestImage();
    await deployStack(STACK, coopCloudStack(STACK, { recipe: 'custom-html', version: '1.0.0+1', domain: `${id}.panels.test` }));
    node = await testNode({}, { live: true });
    server = createServer(node.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    b = await openPage(30_000);
    await b.page.setViewportSize(PHONE);
  }, 90_000);

  afterAll(async () => {
    await closePage(b ?? {});
    await new Promise((resolve) => server?.close(resolve));
    node?.close();
    await removeStack(STACK);
  }, 60_000);

  it('the dashboard shows this server’s figures, the app page the app’s, within 390 px', async () => {
    const { page } = b;
    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/`);
    await page.locator('#node-figures').waitFor();
    expect(await page.locator('#node-figures [data-reading="memory"]').textContent()).toMatch(/free of/);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);

    await page.goto(`${base}/apps/${STACK}`);
    // The task may still be starting: the panel asks again every 15 s; a reload asks at once.
    for (let i = 0; i < 20 && !(await page.locator('#app-figures').count()); i++) {
      await page.waitForTimeout(1500);
      node.clock.advance(10_000);
      await page.reload();
      await page.locator('#app-resources h2').waitFor();
      await page.waitForTimeout(2500);
    }
    await page.locator('#app-figures').waitFor();
    expect(Number(await page.locator('#app-figures [data-reading="memory"]').getAttribute('data-bytes'))).toBeGreaterThan(0);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    expect(cspErrors(b.errors), b.errors.join('\n')).toEqual([]);
  });
});
