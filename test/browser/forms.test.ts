// A refused form on a phone (390 × 844, Chromium): the same page comes back with what was typed in the field and the
// note right beside it (aria-invalid, aria-describedby), inside the screen, not an error page (#21, #16). The login
// page keeps the username after a wrong password; the Settings page keeps a wrong domain with its note.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePage, cspErrors, openPage, type BrowserPage } from '../support/browser.ts';
import { haveChromium } from '../support/requirements.ts';
import { startNode, type NodeProcess } from '../support/server.ts';

const ADMIN_PASSWORD = 'forms browser admin password';
const PHONE = { width: 390, height: 844 };

/** The note that describes `control`, and where it sits next to it. */
async function noteOf(page: Page, control: Locator): Promise<{ text: string; gap: number; inside: boolean }> {
  expect(await control.getAttribute('aria-invalid')).toBe('true');
  const id = await control.getAttribute('aria-describedby');
  expect(id).toBeTruthy();
  const note = page.locator(`[id="${id}"]`);
  const [box, noteBox] = [await control.boundingBox(), await note.boundingBox()];
  expect(box && noteBox).toBeTruthy();
  return {
    text: ((await note.textContent()) ?? '').trim(),
    // How far below the field the note starts: beside it, not somewhere else on the page.
    gap: noteBox!.y - (box!.y + box!.height),
    inside: noteBox!.x >= 0 && noteBox!.x + noteBox!.width <= PHONE.width && box!.x + box!.width <= PHONE.width,
  };
}

describe.skipIf(!haveChromium())('refused forms on a phone keep what was typed, the note beside the field (Chromium)', () => {
  let b: BrowserPage;
  let node: NodeProcess;
  let secretDir: string;

  beforeAll(async () => {
    secretDir = mkdtempSync(path.join(tmpdir(), 'lores-secret-'));
    const adminPasswordFile = path.join(secretDir, 'admin_password');
    writeFileSync(adminPasswordFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    node = await startNode({ adminPasswordFile });
    b = await openPage(15_000);
    await b.page.setViewportSize(PHONE);
  }, 120_000);

  afterAll(async () => {
    await closePage(b ?? {});
    if (node) {
      await node.stop();
      rmSync(node.dataDir, { recursive: true, force: true });
    }
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  });

  it('login: a wrong password keeps the username, the password is empty', async () => {
    const { page } = b;
    await page.goto(`${node.url}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    expect(page.url()).toBe(`${node.url}/login`);
    expect(await page.getByLabel('Username').inputValue()).toBe('admin');
    expect(await page.getByLabel('Password').inputValue()).toBe('');
    expect(await page.locator('main').textContent()).not.toContain('Back to the start');

    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${node.url}/`);
  });

  it('settings: a wrong domain comes back in its field with the note right under it, within 390 px', async () => {
    const { page } = b;
    await page.goto(`${node.url}/settings`);
    const domain = page.getByLabel('The node’s domain');
    await domain.fill('library node.test');
    await page.getByLabel('Download limit for ZIM files, in KB/s').fill('300');
    await page.getByRole('button', { name: 'Save', exact: true }).first().click();
    await page.getByRole('alert').filter({ hasText: 'Nothing was changed' }).waitFor();
    // The refused page swapped in by htmx runs nothing the Content Security Policy blocks.
    expect(cspErrors(b.errors), cspErrors(b.errors).join('\n')).toEqual([]);

    expect(await domain.inputValue()).toBe('library node.test');
    expect(await page.getByLabel('Download limit for ZIM files, in KB/s').inputValue()).toBe('300');
    const note = await noteOf(page, domain);
    expect(note.text).toMatch(/must be a domain name/);
    expect(note.gap).toBeGreaterThanOrEqual(0);
    expect(note.gap).toBeLessThan(40);
    expect(note.inside).toBe(true);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: path.join(tmpdir(), 'lores-forms-settings-390.png'), fullPage: false });

    // Typed as a URL, the same domain is cleaned up and saved.
    await domain.fill('https://Kiwix.Library.test/');
    await page.getByRole('button', { name: 'Save', exact: true }).first().click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await page.getByLabel('The node’s domain').inputValue()).toBe('kiwix.library.test');
    expect(await page.getByLabel('The node’s domain').getAttribute('aria-invalid')).toBeNull();
  });
});
