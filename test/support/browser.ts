// Debian's Chromium driven by playwright-core, as the browser tests share it.
import { chromium, type Browser, type Page } from 'playwright-core';
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
