// First run in a real Chromium against the real node process: setup, people, roles, logout, no-JS and a phone screen.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../support/requirements.ts';
import { cspErrors, fillLogin, launchChromium, watchErrors } from '../support/browser.ts';
import { REPO_ROOT, startNode, type NodeProcess } from '../support/server.ts';

const ADMIN_PASSWORD = 'first admin password';
const STEWARD_PASSWORD = 'sam steward password';
const ACTION_TIMEOUT_MS = 15_000;

describe.skipIf(!haveChromium())('first run in a real browser', () => {
  let browser: Browser;
  let node: NodeProcess;
  let setupDone = false;
  const contexts: BrowserContext[] = [];

  async function newContext(options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
    const context = await browser.newContext(options);
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
    contexts.push(context);
    return context;
  }

  /** Fill the login form on the current page and wait for the dashboard. */
  async function logIn(page: Page, username: string, password: string): Promise<void> {
    await fillLogin(page, username, password);
    await page.waitForURL(`${node.url}/`);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
  }

  beforeAll(async () => {
    browser = await launchChromium();
    // No Docker here on purpose: the dashboard must be empty whatever else runs on this machine's swarm,
    // and pages must still render, with a banner saying Docker does not answer.
    node = await startNode({ env: { DOCKER_SOCKET: '/nonexistent/docker.sock' } });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    if (node) {
      await node.stop();
      rmSync(node.dataDir, { recursive: true, force: true });
    }
  });

  it('sets up the node, adds a steward, and keeps the steward out of admin pages', async () => {
    const token = node.setupToken();
    expect(token, `no setup token in the log:\n${node.output()}`).toBeTruthy();

    const context = await newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);

    // A fresh node sends the first visitor to the setup page.
    await page.goto(node.url);
    await page.waitForURL(`${node.url}/setup`);
    await page.getByRole('heading', { name: 'Set up this node' }).waitFor();
    await page.getByLabel('Setup token').fill(token!);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByLabel('Password again').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Create admin and log in' }).click();

    // Logged in as admin, on the dashboard with its empty state: without Docker it says so, not "No apps yet" (#21).
    await page.waitForURL(`${node.url}/`);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    await page.getByText('The node cannot reach Docker right now').waitFor();
    await page.getByRole('alert').getByText('Docker does not answer').waitFor();
    setupDone = true;
    expect(await page.evaluate<string>('typeof window.htmx')).toBe('object');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: /admin/ }).textContent()).toMatch(/admin\s+admin/);
    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'dashboard.png'), fullPage: true });

    // People, through the nav.
    await nav.getByRole('link', { name: 'People' }).click();
    await page.waitForURL(`${node.url}/users`);
    await page.getByRole('heading', { name: 'People', level: 1 }).waitFor();
    expect(await page.title()).toBe('People · LoRes Node');

    // Add a steward.
    const addForm = page.locator('form[action="/users"]');
    await addForm.getByLabel('Username').fill('sam');
    await addForm.getByLabel('Role').selectOption('steward');
    await addForm.getByLabel('Password').fill(STEWARD_PASSWORD);
    await addForm.getByRole('button', { name: 'Add' }).click();
    await page.waitForURL(`${node.url}/users?notice=added`);
    await page.getByRole('status').filter({ hasText: 'User added.' }).waitFor();
    const samRow = page.locator('tr[data-username="sam"]');
    await samRow.waitFor();
    expect((await samRow.locator('td').allTextContents()).slice(0, 3).map((t) => t.trim())).toEqual(['sam', 'steward', 'active']);

    // Log out with the header button.
    await page.locator('header').getByRole('button', { name: 'Log out', exact: true }).click();
    await page.waitForURL(/\/login(\?|$)/);
    await expect(page.getByRole('navigation', { name: 'Main' }).count()).resolves.toBe(0);

    // Log in as the steward.
    await logIn(page, 'sam', STEWARD_PASSWORD);
    await page.getByText('The node cannot reach Docker right now').waitFor();
    const samNav = page.getByRole('navigation', { name: 'Main' });
    await samNav.getByRole('link', { name: 'Apps' }).waitFor();
    expect(await samNav.getByRole('link', { name: /sam/ }).textContent()).toMatch(/sam\s+steward/);
    expect(await samNav.getByRole('link', { name: 'People' }).count()).toBe(0);
    expect(await samNav.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    expect(await samNav.getByRole('link', { name: 'Settings' }).count()).toBe(0);
    // The steward's dashboard does not ask them to set the domain: that is an admin's job.
    expect(await page.getByRole('link', { name: 'set the node’s domain' }).count()).toBe(0);

    // Going to /users directly is refused.
    const denied = await page.goto(`${node.url}/users`);
    expect(denied?.status()).toBe(403);
    await page.getByRole('heading', { name: 'Not allowed', level: 1 }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('This needs the admin role');
    expect(await page.title()).toBe('Not allowed · LoRes Node');
    expect(await page.locator('tr[data-username]').count()).toBe(0);

    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
  });

  it('works with JavaScript disabled: log in as admin and open People', async () => {
    expect(setupDone, 'needs the first-run test above to have set up the admin').toBe(true);
    const context = await newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const errors = watchErrors(page);

    const res = await page.goto(`${node.url}/users`);
    expect(res?.status()).toBe(200);
    await page.waitForURL(`${node.url}/login?next=%2Fusers`);
    await fillLogin(page, 'admin', ADMIN_PASSWORD);

    // The `next` field brings a plain form post back to where the person was going.
    await page.waitForURL(`${node.url}/users`);
    await page.getByRole('heading', { name: 'People', level: 1 }).waitFor();
    await page.locator('tr[data-username="sam"]').waitFor();
    expect(await page.evaluate<string>('typeof window.htmx').catch(() => 'no JS')).not.toBe('object');

    // Plain links work too.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Apps' }).click();
    await page.waitForURL(`${node.url}/`);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();

    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
  });

  it('fits a phone screen', async () => {
    expect(setupDone, 'needs the first-run test above to have set up the admin').toBe(true);
    const context = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const errors = watchErrors(page);

    await page.goto(`${node.url}/login`);
    await logIn(page, 'admin', ADMIN_PASSWORD);

    for (const [pagePath, heading] of [['/', 'Apps'], ['/users', 'People'], ['/audit', 'Audit log'], ['/settings', 'Settings']] as const) {
      const res = await page.goto(`${node.url}${pagePath}`);
      expect(res?.status(), pagePath).toBe(200);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      const nav = page.getByRole('navigation', { name: 'Main' });
      expect(await nav.isVisible(), `nav visible on ${pagePath}`).toBe(true);
      expect(await nav.getByRole('link', { name: 'People' }).isVisible(), `People link visible on ${pagePath}`).toBe(true);
      expect(await page.locator('header').getByRole('button', { name: 'Log out', exact: true }).isVisible()).toBe(true);
      const fits = await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth + 1');
      const widths = await page.evaluate<string>('`${document.documentElement.scrollWidth} > ${window.innerWidth}`');
      expect(fits, `no horizontal overflow on ${pagePath} (${widths})`).toBe(true);
    }

    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
  });
});
