// Debian's Chromium driven by playwright-core, as the browser tests share it.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM } from './requirements.ts';

/** Headless, as root, with the background traffic this offline machine refuses turned off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Console errors and uncaught page errors, to check that nothing was blocked by the Content Security Policy. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

export const cspErrors = (errors: string[]) => errors.filter((e) => /content security policy/i.test(e));

export type BrowserPage = { browser: Browser; context: BrowserContext; page: Page; errors: string[] };

/** A browser, one page with the given action timeout, and the errors its console reports. */
export async function openPage(actionTimeoutMs: number): Promise<BrowserPage> {
  const browser = await launchChromium();
  const context = await browser.newContext();
  context.setDefaultTimeout(actionTimeoutMs);
  context.setDefaultNavigationTimeout(actionTimeoutMs);
  const page = await context.newPage();
  return { browser, context, page, errors: watchErrors(page) };
}

/** Closes it all, printing console errors that were not CSP violations (those fail the tests themselves). */
export async function closePage(b: Partial<BrowserPage>): Promise<void> {
  const others = (b.errors ?? []).filter((e) => !cspErrors([e]).length);
  if (others.length) console.log(`console errors on the node's pages that were not CSP violations:\n${others.join('\n')}`);
  await b.context?.close().catch(() => {});
  await b.browser?.close().catch(() => {});
}
