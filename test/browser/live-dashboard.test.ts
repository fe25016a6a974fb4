// Live updates in a real Chromium against the real node process and the real swarm: a scale from outside
// shows on the open dashboard and the open app page over SSE, without a reload; and behind a proxy that answers
// 502 while the node is away (Traefik during a restart), the page is back within seconds of the node.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_SOCKET, haveChromium, haveDocker } from '../support/requirements.ts';
import { cspErrors, launchChromium, logIn, watchErrors } from '../support/browser.ts';
import { startGateway, type Gateway } from '../support/gateway.ts';
import { startNode, type NodeProcess } from '../support/server.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';

const ADMIN_PASSWORD = 'live dashboard admin password';
const ACTION_TIMEOUT_MS = 15_000;
/** How long the page may lag behind Docker: once `docker service ls` shows a change, the open page must show it
 *  within this time. (The node itself adds well under a second; see the integration tests.) */
const LIVE_TIMEOUT_MS = 30_000;
/** How long swarm itself may take to converge. On a busy machine (a benchmark on the same daemon) starting one
 *  task has taken over 40 s; that is Docker's time, not the node's, so it is waited for separately. */
const DOCKER_TIMEOUT_MS = 120_000;

const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(3).toString('hex');
const STACK = `live${id}_lores_test`;
const DOMAIN = `live-${id}.node.example.org`;
const SERVICE = `${STACK}_app`;

/** Matches an element whose whole text is `text`, e.g. exactly "2 of 2" (not "12 of 12"). */
const exactly = (text: string) => new RegExp(`^\\s*${text.replace('/', '\\/')}\\s*$`);

describe.skipIf(!canRun)('live dashboard in a real browser', () => {
  let browser: Browser;
  let node: NodeProcess;
  let secretDir: string;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext();
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
    contexts.push(context);
    // Count SSE connections that opened (htmx-ext-sse fires htmx:sseOpen, which bubbles to the document).
    // Init scripts are injected by the browser, not by the page, so the Content Security Policy does not apply.
    await context.addInitScript({
      content: "window.__sseOpen = 0; document.addEventListener('htmx:sseOpen', () => { window.__sseOpen += 1; });",
    });
    const page = await context.newPage();
    return { page, errors: watchErrors(page) };
  }

  /** Waits until the page's live connection is open, so a change made now cannot fall before it. */
  async function waitForLive(page: Page): Promise<void> {
    await page.waitForFunction('window.__sseOpen > 0', undefined, { timeout: ACTION_TIMEOUT_MS });
  }

  /** Logs in as the admin created from ADMIN_PASSWORD_FILE, through `base` (the node, or a proxy in front of it). */
  const logInAsAdmin = (page: Page, base: string) => logIn(page, base, { password: ADMIN_PASSWORD });

  /** Marks the current document; a full reload or navigation would drop the mark. */
  const mark = (page: Page) => page.evaluate('window.__marker = 1');
  const marked = (page: Page) => page.evaluate<unknown>('window.__marker');

  const scale = (replicas: number) => execa('docker', ['service', 'scale', '--detach', `${SERVICE}=${replicas}`]);

  /** What `docker service ls` says about the app service: running/desired, e.g. "2/2". */
  const dockerReplicas = async () =>
    (await execa('docker', ['service', 'ls', '--filter', `name=${SERVICE}`, '--format', '{{.Name}} {{.Replicas}}'], { reject: false })).stdout
      .split('\n')
      .find((l) => l.startsWith(`${SERVICE} `))
      ?.slice(SERVICE.length + 1)
      .trim();

  /** Resolves when Docker itself shows `replicas` (running/desired); returns when that was. */
  async function dockerShows(replicas: string): Promise<number> {
    const until = Date.now() + DOCKER_TIMEOUT_MS;
    let seen: string | undefined;
    while (Date.now() < until) {
      seen = await dockerReplicas();
      if (seen === replicas) return Date.now();
      await new Promise((r) => setTimeout(r, 200));
    }
    const ps = await execa('docker', ['service', 'ps', '--no-trunc', SERVICE], { reject: false });
    throw new Error(`Docker itself did not reach ${replicas} for ${SERVICE} within ${DOCKER_TIMEOUT_MS} ms (it shows ${seen}):\n${ps.stdout}${ps.stderr}`);
  }

  /**
   * Waits, without touching the page, until `locator` reads exactly `replicas`: at most LIVE_TIMEOUT_MS after
   * Docker shows the same. Returns how long the page took from the call, and how far it lagged behind Docker.
   */
  async function pageFollows(page: Page, locator: Locator, replicas: string): Promise<{ ms: number; lagMs: number }> {
    const started = Date.now();
    // The page says "1 of 1" where `docker service ls` says 1/1.
    const target = locator.filter({ hasText: exactly(replicas.replace('/', ' of ')) });
    let dockerAt: number | undefined;
    let dockerError: Error | undefined;
    const docker = dockerShows(replicas).then(
      (at) => (dockerAt = at),
      (err: Error) => (dockerError = err),
    );
    try {
      for (;;) {
        if ((await target.count()) > 0) {
          const pageAt = Date.now();
          await docker;
          return { ms: pageAt - started, lagMs: Math.max(0, pageAt - (dockerAt ?? pageAt)) };
        }
        if (dockerError) throw dockerError;
        if (dockerAt !== undefined && Date.now() - dockerAt > LIVE_TIMEOUT_MS) {
          const shown = await locator.allTextContents().catch(() => []);
          throw new Error(`${page.url()} still shows ${JSON.stringify(shown)}, ${LIVE_TIMEOUT_MS} ms after Docker showed ${replicas}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await docker;
    }
  }

  beforeAll(async () => {
    await ensureTestImage();
    await deployStack(STACK, { app: { ...coopCloudStack(STACK, { recipe: 'custom-html', version: '1.0.0+1', domain: DOMAIN }).app, replicas: 1 } });
    secretDir = mkdtempSync(path.join(tmpdir(), 'lores-secret-'));
    const adminPasswordFile = path.join(secretDir, 'admin_password');
    writeFileSync(adminPasswordFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    node = await startNode({ adminPasswordFile, env: { DOCKER_SOCKET } });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (node) {
      await node.stop();
      rmSync(node.dataDir, { recursive: true, force: true });
    }
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
    await removeStack(STACK, 60_000);
  }, 120_000);

  it('shows a scale from outside on the open dashboard, then on the open app page, without a reload', async () => {
    const { page, errors } = await newPage();

    await logInAsAdmin(page, node.url);

    // The app's card, once its one task runs. The first paint may predate that; the live push brings it.
    const card = page.locator(`li[data-stack="${STACK}"]`);
    const cardReplicas = card.locator('.replicas');
    await card.getByRole('link', { name: DOMAIN, exact: true }).waitFor();
    await pageFollows(page, cardReplicas, '1/1');
    await waitForLive(page);
    await mark(page);

    await scale(2);
    const up = await pageFollows(page, cardReplicas, '2/2');
    console.log(`dashboard showed 2/2 ${up.ms} ms after \`docker service scale\`, ${up.lagMs} ms after \`docker service ls\` did`);
    expect(await marked(page), 'the dashboard was reloaded instead of updated in place').toBe(1);
    expect(page.url()).toBe(`${node.url}/`);
    expect(await card.getAttribute('data-status')).toBe('running');
    expect(await page.getByRole('alert').filter({ hasText: 'Docker does not answer' }).count()).toBe(0);

    // The app page follows the same way.
    await page.goto(`${node.url}/apps/${STACK}`);
    await page.getByRole('heading', { name: DOMAIN, level: 1 }).waitFor();
    const row = page.locator(`tr[data-service="${SERVICE}"]`);
    const rowReplicas = row.locator('td.replicas');
    const appReplicas = page.locator('dl.facts dd.replicas');
    await pageFollows(page, rowReplicas, '2/2');
    expect(await row.locator('li.task.state-running').count()).toBe(2);
    await waitForLive(page);
    await mark(page);

    await scale(1);
    const down = await pageFollows(page, rowReplicas, '1/1');
    console.log(`app page showed 1/1 ${down.ms} ms after \`docker service scale\`, ${down.lagMs} ms after \`docker service ls\` did`);
    await appReplicas.filter({ hasText: exactly('1 of 1') }).waitFor();
    // The task that was stopped leaves the list once swarm is done with it.
    await page.waitForFunction(`document.querySelectorAll('tr[data-service="${SERVICE}"] li.task').length === 1`, undefined, {
      timeout: DOCKER_TIMEOUT_MS,
    });
    expect(await marked(page), 'the app page was reloaded instead of updated in place').toBe(1);
    expect(page.url()).toBe(`${node.url}/apps/${STACK}`);

    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
  }, 4 * (DOCKER_TIMEOUT_MS + LIVE_TIMEOUT_MS));

  it('is back within seconds of the node behind a proxy that answered 502 meanwhile, and follows changes again', async () => {
    const gateway: Gateway = await startGateway(node.port);
    try {
      const { page, errors } = await newPage();
      await logInAsAdmin(page, gateway.url);
      const card = page.locator(`li[data-stack="${STACK}"]`);
      const cardReplicas = card.locator('.replicas');
      await pageFollows(page, cardReplicas, '1/1');
      await waitForLive(page);
      await mark(page);
      const opened = async () => Number(await page.evaluate('window.__sseOpen'));
      const openedBefore = await opened();

      // The node is away: the live stream is cut, and every new request gets a 502, as Traefik answers.
      gateway.down();
      await page.locator('[sse-connect][data-reconnecting]').waitFor();
      // Long enough that htmx's own back-off (0.5 s doubling, up to 64 s) would wait another ~13 s from here.
      const AWAY_MS = 20_000;
      await new Promise((r) => setTimeout(r, AWAY_MS));
      const badGateways = gateway.badGateways;
      gateway.up();
      const backAt = Date.now();
      // Polled from here: a polling waitForFunction would evaluate a string in the page, which its CSP forbids.
      await expect.poll(opened, { timeout: 30_000, interval: 100 }).toBeGreaterThan(openedBefore);
      const backMs = Date.now() - backAt;
      console.log(`behind a 502-answering proxy for ${AWAY_MS / 1000} s: ${badGateways} tries, back ${backMs} ms after the node`);
      expect(backMs, 'the page should reconnect about every 2 s, not after a growing back-off').toBeLessThan(6000);
      expect(badGateways, 'steady tries while away, not a back-off').toBeGreaterThanOrEqual(8);
      await page.locator('[sse-connect]:not([data-reconnecting])').waitFor();
      expect(gateway.openStreams('/live'), 'one live stream, not one per try').toBe(1);
      expect(await opened()).toBe(openedBefore + 1);

      // The new connection carries swaps again, on the same document.
      await scale(2);
      await pageFollows(page, cardReplicas, '2/2');
      expect(await marked(page), 'the dashboard was reloaded instead of reconnected').toBe(1);
      expect(gateway.openStreams('/live')).toBe(1);
      expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    } finally {
      await gateway.close();
    }
  }, 2 * (DOCKER_TIMEOUT_MS + LIVE_TIMEOUT_MS));
});
