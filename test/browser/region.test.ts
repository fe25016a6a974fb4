// Pairing and the region page in a real Chromium: two nodes on loopback (real apps on real ports, own SQLite), an
// admin on each in their own browser context. alpha's admin asks bravo to pair and reads the code; bravo's admin
// types it; alpha's region page then shows bravo's apps and books, and follows bravo going away by itself (htmx).
import { rmSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD } from '../support/app.ts';
import { closePage, cspErrors, logIn, openPage, type BrowserPage } from '../support/browser.ts';
import { haveChromium } from '../support/requirements.ts';
import { close, listen, regionNode, type Running } from '../support/region.ts';

const canRun = haveChromium();
const TIMEOUT = 15_000;

const logInAsAdmin = (page: Page, base: string) => logIn(page, base, { password: ADMIN_PASSWORD, from: '/login', landsOn: (u) => !u.pathname.startsWith('/login') });

describe.skipIf(!canRun)('pairing and the region page in Chromium', () => {
  let A: Running, B: Running;
  let b: BrowserPage;
  let onBravo: { context: BrowserContext; page: Page };

  beforeAll(async () => {
    A = await regionNode('alpha', [], { REGION_POLL_SECONDS: '1' });
    B = await regionNode('bravo', [{ domain: 'kiwix.bravo.test', recipe: 'kiwix', zims: [{ file: 'wikipedia_en_medicine_maxi_2026-01.zim', bytes: 8192 }] }], { REGION_POLL_SECONDS: '1' });
    await Promise.all([A, B].map(listen));
    A.node.services.region.start(); // polls bravo every second once paired (no LAN_ADDRESS: no mDNS)
    b = await openPage(TIMEOUT);
    const context = await b.browser.newContext();
    context.setDefaultTimeout(TIMEOUT);
    onBravo = { context, page: await context.newPage() };
  });
  afterAll(async () => {
    await onBravo?.context.close().catch(() => {});
    await closePage(b);
    for (const r of [A, B]) {
      await close(r);
      r.node.close();
      rmSync(r.base, { recursive: true, force: true });
    }
  });

  it('alpha asks bravo to pair; a wrong code is refused; the right code pairs both; alpha’s page shows bravo’s apps and books', async () => {
    const page = b.page;
    await logInAsAdmin(page, A.url);
    await page.getByRole('link', { name: 'Region' }).click();
    await page.waitForURL(`${A.url}/region`);
    await page.getByText('Pair with a node by its address or a pairing link').click();
    await page.getByLabel('Its address').fill(B.url);
    await page.getByRole('button', { name: 'Ask it to pair' }).click();
    const code = (await page.locator('#pair-code').innerText()).trim();
    expect(code).toMatch(/^\d{6}$/);

    const other = onBravo.page;
    await logInAsAdmin(other, B.url);
    await other.goto(`${B.url}/region`);
    const request = other.locator('[data-request="alpha"]');
    await request.getByLabel('Code shown on alpha').fill(String((Number(code) + 3) % 1_000_000).padStart(6, '0'));
    await request.getByRole('button', { name: 'Pair' }).click();
    await expect.poll(() => other.locator('#region-error').innerText()).toContain('The code is wrong.');
    await other.locator('[data-request="alpha"]').getByLabel('Code shown on alpha').fill(code);
    await other.locator('[data-request="alpha"]').getByRole('button', { name: 'Pair' }).click();
    await expect.poll(() => other.locator('#region-notice').innerText()).toContain('Paired with alpha.');
    await expect.poll(() => other.locator('[data-peer="alpha"]').count()).toBe(1);

    // alpha's page refreshes its list of nodes by itself (htmx, every 5 s).
    const bravo = page.locator('[data-peer="bravo"]');
    await expect.poll(() => bravo.locator('[data-reachable]').getAttribute('data-reachable'), { timeout: TIMEOUT }).toBe('yes');
    await expect.poll(() => bravo.innerText()).toContain('kiwix.bravo.test');
    expect(await bravo.innerText()).toContain('wikipedia_en_medicine_maxi_2026-01');
    await page.screenshot({ path: '/tmp/lores-region-paired.png', fullPage: true });
  });

  it('bravo goes away: the open page says so with the age of its copy, and that it is back when it returns', async () => {
    const page = b.page;
    const bravo = page.locator('[data-peer="bravo"]');
    await close(B);
    await expect.poll(() => bravo.locator('[data-reachable]').getAttribute('data-reachable'), { timeout: TIMEOUT }).toBe('no');
    expect(await bravo.innerText()).toMatch(/showing its copy from/);
    expect(await bravo.innerText()).toContain('wikipedia_en_medicine_maxi_2026-01');
    await listen(B);
    await expect.poll(() => bravo.locator('[data-reachable]').getAttribute('data-reachable'), { timeout: TIMEOUT }).toBe('yes');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: '/tmp/lores-region-phone.png', fullPage: true });
    expect(cspErrors(b.errors)).toEqual([]);
  });
});
