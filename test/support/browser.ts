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

export type LogIn = {
  username?: string;
  password: string;
  /** The page to open first; anything but `/login` must send a visitor to the login page. Default `/`. */
  from?: string;
  /** Where the login must land: a path on `base` (default: `from`, or `/` when starting at `/login`) or a test of the URL. */
  landsOn?: string | ((url: URL) => boolean);
};

/** Fills the login form showing on `page` and sends it. */
export async function fillLogin(page: Page, username: string, password: string): Promise<void> {
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Logs in through the node's login form at `base`, the way a person does, and waits until it has let them in. */
export async function logIn(page: Page, base: string, opts: LogIn): Promise<void> {
  const from = opts.from ?? '/';
  await page.goto(`${base}${from}`);
  if (from !== '/login') await page.waitForURL(/\/login(\?|$)/);
  await fillLogin(page, opts.username ?? 'admin', opts.password);
  const landsOn = opts.landsOn ?? (from === '/login' ? '/' : from);
  await page.waitForURL(typeof landsOn === 'string' ? `${base}${landsOn}` : landsOn);
  if (landsOn === '/') await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
}
