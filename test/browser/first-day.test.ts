// A steward's first day, in a real Chromium at phone size (390×844), with no terminal step (issue #21, "Must show"):
// first-run setup with the token from the node's log → install Kiwix from the bundled recipe with the form's own
// defaults, its missing folder created by the node from the pre-flight button → deployed and serving → download a
// book from a local Kiwix catalogue → open it from the library → stop, with the confirmation page → start again.
// The node runs with the abra test double on the real swarm and the stand-in kiwix-serve image (test/support/kiwix.ts).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ABRA_DOUBLE } from '../support/abra.ts';
import { closePage, cspErrors, launchChromium, watchErrors } from '../support/browser.ts';
import { startKiwixFixture, type KiwixFixture } from '../support/kiwix-fixture-server.ts';
import { ensureKiwixImage, makeTestZim, type TestZim } from '../support/kiwix.ts';
import { within as poll } from '../support/poll.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { freePort, REPO_ROOT, startNode, type NodeProcess } from '../support/server.ts';
import { removeStackAndObjects } from '../support/swarm.ts';

// A real deploy that waits for a healthy kiwix-serve task, a download, a stop and a start, on a busy machine.
vi.setConfig({ testTimeout: 240_000 });

const PHONE = { width: 390, height: 844 };
const ADMIN_PASSWORD = 'first day admin password';
const ACTION_TIMEOUT_MS = 15_000;
/** The install job: abra app new, then a deploy that waits for a healthy task (first probe 15 s in). */
const JOB_TIMEOUT_MS = 180_000;
/** kiwix-serve notices a new file within a few seconds; Docker starts or stops a task within a minute here. */
const SETTLE_TIMEOUT_MS = 90_000;

const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(3).toString('hex');
const DOMAIN = `fd${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
const BOOK = `lores_firstday_${id}`;
const BOOK_FILE = `${BOOK}_2024-01.zim`;
const BOOK_TITLE = 'LoRes first-day wiki';
const SENTENCE = `The bus to the valley ${id} leaves from the library at dawn.`;

const within = async <T,>(what: string, ms: number, check: () => Promise<T | undefined | false>, everyMs = 1000): Promise<T> => (await poll(what, ms, check, { everyMs })).value;

describe.skipIf(!canRun)('a steward’s first day on a phone, without a terminal', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[] = [];
  let node: NodeProcess;
  let fixture: KiwixFixture;
  let work: string;
  let zimRoot: string;
  let lanPort: number;
  let book: TestZim;
  const visited = new Set<string>();
  const timings: Record<string, number> = {};
  /** Each step needs the ones before it; once one fails, the rest say so instead of failing confusingly. */
  let stepsDone = 0;
  const needs = (step: number) => expect(stepsDone, `needs step ${step} to have passed`).toBeGreaterThanOrEqual(step);

  const main = () => page.locator('main');
  const nav = () => page.getByRole('navigation', { name: 'Main' });
  const appUrl = () => `${node.url}/apps/${STACK}`;
  const libraryUrl = () => `${appUrl()}/zims`;

  /** What a steward sees on a phone: the page fits the screen's width (tables scroll inside their own box). */
  async function fitsPhone(): Promise<void> {
    const [scrollWidth, innerWidth] = await page.evaluate<[number, number]>('[document.documentElement.scrollWidth, window.innerWidth]');
    const where = new URL(page.url()).pathname;
    expect(innerWidth, `viewport on ${where}`).toBe(PHONE.width);
    expect(scrollWidth, `no horizontal overflow on ${where}`).toBeLessThanOrEqual(PHONE.width);
    visited.add(where);
  }

  /** The app page's "Running" fact, after a reload (as a steward would press reload to be sure). */
  async function runningFact(): Promise<{ running: string; status: string }> {
    await page.goto(appUrl());
    return {
      running: ((await main().locator('dl.facts dd.replicas').textContent()) ?? '').trim(),
      status: ((await main().locator('.app-head .badge').first().textContent()) ?? '').trim(),
    };
  }

  /** kiwix-serve on the LAN port, asked from the test: the status, or 0 when nothing answers. */
  const kiwixStatus = async (p: string) => {
    try {
      return (await fetch(`http://127.0.0.1:${lanPort}${p}`, { signal: AbortSignal.timeout(5000) })).status;
    } catch {
      return 0;
    }
  };

  beforeAll(async () => {
    await ensureKiwixImage();
    work = mkdtempSync(path.join(tmpdir(), 'lores-firstday-'));
    chmodSync(work, 0o755);
    book = await makeTestZim(path.join(work, 'src'), { name: BOOK, title: BOOK_TITLE, articleText: SENTENCE });
    fixture = await startKiwixFixture({
      books: [{ name: BOOK_FILE, path: book.path, title: BOOK_TITLE, bookName: BOOK, date: '2024-01-15', language: 'eng', category: 'wikipedia', summary: 'A first-day book' }],
    });
    // ZIM_ROOT does not exist yet: the node creates it from the install form's pre-flight button, not this test.
    zimRoot = path.join(work, 'zims');
    lanPort = await freePort();
    node = await startNode({
      // No admin password file: the first admin is made in the browser with the setup token the node logs.
      env: {
        ABRA_BIN: ABRA_DOUBLE,
        BUNDLED_RECIPES_DIR: path.join(REPO_ROOT, 'recipes'),
        DOCKER_SOCKET: '/var/run/docker.sock',
        ABRA_TIMEOUT_SECONDS: '150',
        ZIM_ROOT: zimRoot,
        KIWIX_CATALOGUE_URL: fixture.url,
      },
    });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
    page = await context.newPage();
    errors = watchErrors(page);
  }, 180_000);

  afterAll(async () => {
    await closePage({ browser, context, errors });
    if (node) await node.stop();
    await fixture?.close();
    await removeStackAndObjects(STACK, 90_000);
    for (const d of [node?.dataDir, work]) if (d) rmSync(d, { recursive: true, force: true });
    // makeTestZim keeps a copy of each ZIM it made under the system temp dir; this one holds this run's id.
    const cache = path.join(tmpdir(), 'lores-test-zims');
    if (existsSync(cache)) {
      for (const key of readdirSync(cache)) if (existsSync(path.join(cache, key, `${BOOK}.zim`))) rmSync(path.join(cache, key), { recursive: true, force: true });
    }
    console.info(`first-day timings (ms): ${JSON.stringify(timings)}; pages checked at 390 px: ${[...visited].join(' ')}`);
  }, 180_000);

  it('1. sets up the node in the browser with the token from its log', async () => {
    const started = Date.now();
    const token = node.setupToken();
    expect(token, `no setup token in the log:\n${node.output()}`).toBeTruthy();
    await page.goto(node.url);
    await page.waitForURL(`${node.url}/setup`);
    await page.getByRole('heading', { name: 'Set up this node' }).waitFor();
    await fitsPhone();
    await page.getByLabel('Setup token').fill(token!);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByLabel('Password again').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Create admin and log in' }).click();
    await page.waitForURL(`${node.url}/`);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    expect(await nav().getByRole('link', { name: /admin/ }).textContent()).toMatch(/admin\s+admin/);
    await fitsPhone();
    timings.setup = Date.now() - started;
    stepsDone = 1;
  });

  it('2. opens the Kiwix install form: its folder defaults under ZIM_ROOT, shown missing, and the node creates it', async () => {
    needs(1);
    await nav().getByRole('link', { name: 'Install', exact: true }).click();
    await page.waitForURL(`${node.url}/recipes`);
    await fitsPhone();
    await main().locator('a[href="/install/kiwix"]').click();
    await page.waitForURL(/\/install\/kiwix(\?|$)/);
    await main().getByRole('heading', { name: 'Install kiwix', level: 1 }).waitFor();
    await fitsPhone();
    const folder = main().getByLabel('Folder for the books');
    expect(await folder.inputValue(), 'the folder defaults to the node’s ZIM_ROOT').toBe(zimRoot);
    const preflight = main().locator(`.preflight[data-folder="${zimRoot}"]`);
    await preflight.getByText(`The folder ${zimRoot} does not exist on this server.`).waitFor();
    expect(existsSync(zimRoot)).toBe(false);

    await preflight.getByRole('button', { name: `Create the folder ${zimRoot}` }).click();
    await main().getByText(`The folder ${zimRoot} was created. It is readable by the app.`).waitFor();
    await main().getByRole('heading', { name: 'Install kiwix', level: 1 }).waitFor();
    await fitsPhone();
    // On disk: a folder owned by the node's user, that the image's user (uid 1001, one of "others") can list and enter.
    const stat = statSync(zimRoot);
    expect(stat.isDirectory()).toBe(true);
    expect(stat.uid).toBe(process.getuid!());
    expect(stat.uid).not.toBe(1001);
    expect((stat.mode & 0o777).toString(8), 'rwxr-xr-x: others read and enter').toBe('755');
    expect(readdirSync(zimRoot)).toEqual([]);
    // The form came back as it was, the pre-flight satisfied.
    expect(await folder.inputValue()).toBe(zimRoot);
    expect(await main().locator('.preflight[data-folder]').count()).toBe(0);
    stepsDone = 2;
  });

  it('3. installs with the defaults, only the domain and the LAN port filled: the job succeeds and the app runs 1 of 1', async () => {
    needs(2);
    const started = Date.now();
    await main().getByLabel('Domain', { exact: true }).fill(DOMAIN);
    const lan = main().locator('.field.overlay[data-overlay="compose.lan.yml"]');
    await lan.getByLabel('Reach this app on the local network at a port of this machine').check();
    // The overlay's port defaults to 8081, which another process here may hold: a free one instead.
    await lan.locator('input[name="env.KIWIX_LAN_PORT"]').fill(String(lanPort));
    const reach = main().locator('input[name="confirm_host_reach"]');
    if (await reach.count()) await reach.check();
    await main().getByRole('button', { name: 'Install', exact: true }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    await fitsPhone();
    const jobUrl = page.url();
    const state = await within('the install job ends', JOB_TIMEOUT_MS, async () => {
      const s = await page.locator('#job-state [data-state], #job-state[data-state]').first().getAttribute('data-state').catch(() => null);
      if (s === 'succeeded' || s === 'failed') return s;
      if (Date.now() - started > 30_000) await page.goto(jobUrl); // the live page should update itself; a reload is the fallback
      return undefined;
    }, 2000);
    expect(state, `install job: ${((await main().textContent()) ?? '').replace(/\s*\n\s*/g, '\n').slice(-3000)}\n--- node log ---\n${node.output().slice(-3000)}`).toBe('succeeded');
    timings.installJob = Date.now() - started;
    await fitsPhone();

    await page.locator('#job-app').getByRole('link', { name: DOMAIN, exact: true }).click();
    await page.waitForURL(appUrl());
    await main().getByRole('heading', { name: DOMAIN, level: 1 }).waitFor();
    const seen = await within('the app page says running 1 of 1', SETTLE_TIMEOUT_MS, async () => {
      const f = await runningFact();
      return f.running === '1 of 1' && f.status === 'running' && f;
    }, 2000);
    expect(seen).toEqual({ running: '1 of 1', status: 'running' });
    await main().locator(`a[data-open-lan][href$=":${lanPort}/"]`).waitFor();
    await fitsPhone();
    await within('kiwix-serve answers on the LAN port', SETTLE_TIMEOUT_MS, async () => (await kiwixStatus('/catalog/v2/root.xml')) === 200);
    timings.installUntilServing = Date.now() - started;
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 3;
  });

  it('4. finds a book in the Kiwix catalogue from the app’s library and downloads it: it appears with its title', async () => {
    needs(3);
    const started = Date.now();
    await nav().getByRole('link', { name: 'Libraries', exact: true }).click();
    await page.waitForURL(`${node.url}/zims`);
    await main().getByRole('heading', { name: 'ZIM libraries', level: 1 }).waitFor();
    await fitsPhone();
    const card = main().locator(`li[data-stack="${STACK}"]`);
    expect((await card.locator('code').textContent())?.trim()).toBe(zimRoot);
    await card.getByRole('link', { name: 'Open its library' }).click();
    await page.waitForURL(libraryUrl());
    await main().getByRole('heading', { name: `ZIM library · ${DOMAIN}`, level: 1 }).waitFor();
    await main().getByText('No ZIM files yet.').waitFor();
    await fitsPhone();

    const search = page.getByRole('search');
    await search.getByRole('searchbox', { name: 'Search' }).fill('first-day');
    await search.getByRole('button', { name: 'Search the Kiwix catalogue' }).click();
    await page.waitForURL((u) => u.pathname === `/apps/${STACK}/zims` && u.searchParams.get('q') === 'first-day');
    const result = page.locator(`#zim-results tr[data-zim="${BOOK_FILE}"]`);
    await result.waitFor();
    expect((await result.locator('td').first().textContent()) ?? '').toContain(BOOK_TITLE);
    await fitsPhone();
    await result.getByRole('button', { name: 'Download' }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    await main().getByRole('heading', { name: `zim-download · ${DOMAIN}`, level: 1 }).waitFor();
    await fitsPhone();

    // Back to the library; once Kiwix serves the file, the book is listed by its own title.
    const row = page.locator(`#zim-library tr[data-zim="${BOOK_FILE}"]`);
    await within('the book is in the library, served, with its title', SETTLE_TIMEOUT_MS, async () => {
      await page.goto(libraryUrl());
      // Served: kiwix-serve's own catalogue lists it (the library file it reloads from changes a few seconds earlier).
      return (await row.count()) > 0 && (await row.locator('.zim-title').textContent())?.trim() === BOOK_TITLE && (await row.locator('td[data-served]').getAttribute('data-served')) === 'true';
    }, 2000);
    timings.downloadUntilTitled = Date.now() - started;
    expect(readdirSync(zimRoot)).toEqual([BOOK_FILE]);
    expect(await row.getByRole('link', { name: 'Open in Kiwix' }).count()).toBe(1);
    await fitsPhone();
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 4;
  });

  it('5. opens the book from the library in Kiwix and reads its article in a new tab', async () => {
    needs(4);
    const row = page.locator(`#zim-library tr[data-zim="${BOOK_FILE}"]`);
    // "Open in Kiwix" goes to the app's own address (no DNS for it here); its "on the local network" link reaches this machine.
    expect(await row.getByRole('link', { name: 'Open in Kiwix' }).getAttribute('href')).toMatch(new RegExp(`^https://${DOMAIN.replace(/\./g, '\\.')}/`));
    const [reader] = await Promise.all([context.waitForEvent('page'), row.getByRole('link', { name: 'on the local network' }).click()]);
    try {
      await reader.getByRole('heading', { name: BOOK_TITLE }).waitFor({ timeout: 30_000 });
      expect(new URL(reader.url()).port).toBe(String(lanPort));
      await reader.getByRole('link', { name: 'The article' }).click();
      await reader.getByRole('heading', { name: 'The article' }).waitFor();
      expect(await reader.getByText(SENTENCE).first().isVisible()).toBe(true);
    } finally {
      await reader.close();
    }
    stepsDone = 5;
  });

  it('6. stops the app only after a confirmation page, then starts it again', async () => {
    needs(5);
    const started = Date.now();
    await page.goto(appUrl());
    await main().getByRole('heading', { name: DOMAIN, level: 1 }).waitFor();
    await main().getByRole('button', { name: 'Stop', exact: true }).click();
    await page.waitForURL(`${appUrl()}/stop`);
    await main().getByRole('heading', { name: `Stop ${DOMAIN}?`, level: 1 }).waitFor();
    await main().getByText('People using it will not reach it until it is started again.').waitFor();
    await fitsPhone();
    // Nothing stopped yet: the confirmation page only asks.
    expect(await kiwixStatus('/catalog/v2/root.xml')).toBe(200);
    await main().getByRole('button', { name: `Stop ${DOMAIN}` }).click();
    await page.waitForURL(appUrl());
    const stopped = await within('the app page says stopped', SETTLE_TIMEOUT_MS, async () => {
      const f = await runningFact();
      return f.status === 'stopped' && f;
    }, 2000);
    expect(stopped).toEqual({ running: 'stopped', status: 'stopped' });
    await fitsPhone();
    await within('kiwix-serve no longer answers', SETTLE_TIMEOUT_MS, async () => (await kiwixStatus('/catalog/v2/root.xml')) === 0);
    timings.stop = Date.now() - started;

    const restarted = Date.now();
    await main().getByRole('button', { name: 'Start', exact: true }).click();
    await page.waitForURL(appUrl());
    const running = await within('the app page says running 1 of 1 again', SETTLE_TIMEOUT_MS, async () => {
      const f = await runningFact();
      return f.running === '1 of 1' && f.status === 'running' && f;
    }, 2000);
    expect(running).toEqual({ running: '1 of 1', status: 'running' });
    await fitsPhone();
    await within('kiwix-serve answers again and serves the book', SETTLE_TIMEOUT_MS, async () => (await kiwixStatus(book.urlPath)) === 200);
    timings.start = Date.now() - restarted;
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 6;
  });
});
