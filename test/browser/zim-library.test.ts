// The ZIM library in a real Chromium, clicked through like a steward (issue #7): find a book in the Kiwix catalogue
// (a local OPDS + mirror stand-in), download it with a progress bar that moves on the open page, read its article
// from kiwix-serve, and delete it with a typed confirmation. The Kiwix app is the bundled recipe deployed on the real
// swarm (abra test double, the stand-in kiwix-serve image); the same flow through HTTP is
// test/integration/zim-library.test.ts.
//
// The book downloaded here is a real ZIM of about 1 MB (an article padded with incompressible text): the fixture
// sends file bodies in 64 KiB reads, so a ~36 KB tiny ZIM arrives in a single read and its bar could only jump from
// 0 to done. At 96 KiB/s the 1 MB book takes ~10 s and the bar has ~16 steps to show.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatBytes } from '../../app/services/resource-fit.ts';
import { ABRA_DOUBLE } from '../support/abra.ts';
import { closePage, cspErrors, logIn, openPage } from '../support/browser.ts';
import { loginOverHttp, postForm } from '../support/http-login.ts';
import { startKiwixFixture, type KiwixFixture } from '../support/kiwix-fixture-server.ts';
import { ensureKiwixImage, makeTestZim, type TestZim } from '../support/kiwix.ts';
import { within as poll } from '../support/poll.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { freePort, REPO_ROOT, startNode, type NodeProcess } from '../support/server.ts';
import { removeStackAndObjects } from '../support/swarm.ts';

// A real deploy that waits for a healthy kiwix-serve task, on a machine other tests keep busy.
vi.setConfig({ testTimeout: 240_000 });

const ADMIN_PASSWORD = 'zim library browser admin password';
const ACTION_TIMEOUT_MS = 15_000;
/** The install job: abra app new, then a deploy that waits for a healthy task (first probe 15 s in). */
const JOB_TIMEOUT_MS = 180_000;
/** kiwix-serve notices a new or removed file within a few seconds (the recipe rewrites its library, it polls it). */
const SERVED_TIMEOUT_MS = 60_000;
/** The download's pace: the ~1 MB book takes about 10 s. */
const BYTES_PER_SECOND = 96 * 1024;
/** The download from the click to the file in the library, with room for a loaded machine. */
const DOWNLOAD_TIMEOUT_MS = 90_000;

const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(3).toString('hex');
const DOMAIN = `zb${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
/** The book the walk-through downloads, reads and deletes. */
const BOOK = `lores_walk_${id}`;
const BOOK_FILE = `${BOOK}_2024-01.zim`;
const BOOK_TITLE = 'LoRes walk-through wiki';
const SENTENCE = `The ferry to the island ${id} leaves from the library steps at noon.`;
/** A second, small book in another language, so the results show more than one row. */
const OTHER_FILE = 'lores_med_2024-06.zim';
const OTHER_TITLE = 'LoRes medicine';

/** About 1.3 MB of text that does not compress (zstd keeps ~6 bits of each base64 character): a ~1 MB ZIM. */
function padding(): string {
  const words: string[] = [];
  let h = createHash('sha256').update(`lores padding ${id}`).digest();
  let length = 0;
  while (length < 1_300_000) {
    h = createHash('sha256').update(h).digest();
    const word = h.toString('base64url').slice(0, 40);
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ');
}

/** Polls every half second until `check` gives a value (see test/support/poll.ts). */
const within = async <T,>(what: string, ms: number, check: () => Promise<T | undefined | false>, everyMs = 500): Promise<T> => (await poll(what, ms, check, { everyMs })).value;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type Seen = { value: number; text: string; at: number };

describe.skipIf(!canRun)('the ZIM library in a real browser: find, download with live progress, read, delete', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[] = [];
  let node: NodeProcess;
  let fixture: KiwixFixture;
  let secretDir: string;
  let work: string;
  let zimRoot: string;
  let zimDir: string;
  let lanPort: number;
  let book: TestZim;
  let other: TestZim;
  const timings: Record<string, number> = {};
  let progressSeen: Seen[] = [];
  /** Each step needs the ones before it; once one fails, the rest say so instead of failing confusingly. */
  let stepsDone = 0;

  const main = () => page.locator('main');
  const nav = () => page.getByRole('navigation', { name: 'Main' });
  const libraryUrl = () => `${node.url}/apps/${STACK}/zims`;
  const inFolder = () => readdirSync(zimDir).sort();
  function needs(step: number): void {
    expect(stepsDone, `needs step ${step} to have passed`).toBeGreaterThanOrEqual(step);
  }
  /** Marks the current document; a full reload or a new document would drop the mark. */
  const mark = () => page.evaluate('window.__zimMark = 1');
  const marked = () => page.evaluate<unknown>('window.__zimMark');
  /**
   * kiwix-serve on the LAN port, asked from the test (not the browser). With node:http, not fetch: the article is
   * ~1.3 MB, and Node 24's undici (7.29) can throw an uncatchable `assert(!this.paused)` when a server closes the
   * socket while a large body is still being read (nodejs/undici#5360).
   */
  const kiwix = (p: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: lanPort, path: p, timeout: 5000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`kiwix-serve: no answer to ${p} within 5 s`)));
      req.on('error', reject);
    });

  beforeAll(async () => {
    await ensureKiwixImage();
    work = mkdtempSync(path.join(tmpdir(), 'lores-zimwalk-work-'));
    book = await makeTestZim(path.join(work, 'src'), { name: BOOK, title: BOOK_TITLE, articleText: `${SENTENCE} ${padding()}` });
    other = await makeTestZim(path.join(work, 'src'), { name: `lores_med_${id}`, title: OTHER_TITLE, articleText: `Drink water ${id}.` });
    fixture = await startKiwixFixture({
      books: [
        { name: BOOK_FILE, path: book.path, title: BOOK_TITLE, bookName: BOOK, date: '2024-01-15', language: 'eng', category: 'wikipedia', summary: 'A real ZIM, padded to about 1 MB' },
        { name: OTHER_FILE, path: other.path, title: OTHER_TITLE, bookName: 'lores_med', date: '2024-06-01', language: 'fra', category: 'other' },
      ],
    });
    secretDir = mkdtempSync(path.join(tmpdir(), 'lores-secret-'));
    const adminPasswordFile = path.join(secretDir, 'admin_password');
    writeFileSync(adminPasswordFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    // An empty ZIM folder under ZIM_ROOT, readable by the image's user (uid 1001).
    zimRoot = mkdtempSync(path.join(tmpdir(), 'lores-zimroot-'));
    zimDir = path.join(zimRoot, 'kiwix');
    mkdirSync(zimDir);
    chmodSync(zimRoot, 0o755);
    chmodSync(zimDir, 0o755);
    lanPort = await freePort();
    node = await startNode({
      adminPasswordFile,
      env: {
        // ABRA_DIR: startNode keeps abra's folder beside the node's data dir, removed with it.
        ABRA_BIN: ABRA_DOUBLE,
        BUNDLED_RECIPES_DIR: path.join(REPO_ROOT, 'recipes'),
        DOCKER_SOCKET: '/var/run/docker.sock',
        ABRA_TIMEOUT_SECONDS: '150',
        ZIM_ROOT: zimRoot,
        KIWIX_CATALOGUE_URL: fixture.url,
      },
    });
    ({ browser, context, page, errors } = await openPage(ACTION_TIMEOUT_MS));
  }, 180_000);

  afterAll(async () => {
    await closePage({ browser, context, errors });
    if (node) await node.stop();
    await fixture?.close();
    await removeStackAndObjects(STACK, 90_000);
    for (const d of [node?.dataDir, secretDir, zimRoot, work]) if (d) rmSync(d, { recursive: true, force: true });
    // makeTestZim keeps a copy of each ZIM it made under the system temp dir; these two hold this run's id.
    const cache = path.join(tmpdir(), 'lores-test-zims');
    if (existsSync(cache)) {
      for (const key of readdirSync(cache)) {
        const dir = path.join(cache, key);
        if ([`${BOOK}.zim`, `lores_med_${id}.zim`].some((f) => existsSync(path.join(dir, f)))) rmSync(dir, { recursive: true, force: true });
      }
    }
    console.info(`zim library browser timings (ms): ${JSON.stringify(timings)}`);
    if (progressSeen.length) console.info(`progress bar values seen on the open page: ${progressSeen.map((s) => `${s.value}% @${Math.round(s.at)}ms`).join(', ')}`);
  }, 180_000);

  it('1. installs Kiwix with an empty ZIM folder and a LAN port (over HTTP), and kiwix-serve answers', async () => {
    const started = Date.now();
    const auth = await loginOverHttp(node.url, 'admin', ADMIN_PASSWORD);
    const res = await postForm(node.url, '/install/kiwix', auth, {
      domain: DOMAIN,
      'env.ZIM_FILES_PATH': zimDir,
      'overlay.compose.lan.yml': 'on',
      'enable.KIWIX_LAN_PORT': 'on',
      'env.KIWIX_LAN_PORT': String(lanPort),
      deploy: 'on',
    });
    const location = res.headers.get('location') ?? '';
    expect(res.status, `${location}\n${(await res.text()).slice(0, 600)}`).toBe(303);
    expect(location).toMatch(/^\/jobs\/\d+$/);
    const state = await within('the install job ends', JOB_TIMEOUT_MS, async () => {
      const html = await (await fetch(`${node.url}${location}`, { headers: { cookie: auth.cookie } })).text();
      const s = /id="job-state"[\s\S]*?data-state="(\w+)"/.exec(html)?.[1];
      return s === 'succeeded' || s === 'failed' ? { state: s, html } : undefined;
    }, 1000);
    expect(state.state, `install job: ${state.html.replace(/<[^>]+>/g, '').replace(/\n\s*\n/g, '\n').slice(-3000)}\n--- node log ---\n${node.output().slice(-3000)}`).toBe('succeeded');
    timings.installJob = Date.now() - started;
    await within('kiwix-serve answers on the LAN port', SERVED_TIMEOUT_MS, async () => (await kiwix('/catalog/v2/root.xml')).status === 200);
    timings.installUntilServing = Date.now() - started;
    expect(inFolder()).toEqual([]);
    stepsDone = 1;
  });

  it('2. logs in, opens Libraries and the app’s library: no ZIM files yet', async () => {
    needs(1);
    await logIn(page, node.url, { password: ADMIN_PASSWORD });

    await nav().getByRole('link', { name: 'Libraries', exact: true }).click();
    await page.waitForURL(`${node.url}/zims`);
    await main().getByRole('heading', { name: 'ZIM libraries', level: 1 }).waitFor();
    const card = main().locator(`li[data-stack="${STACK}"]`);
    expect((await card.locator('.app-name').textContent())?.trim()).toBe(DOMAIN);
    expect((await card.locator('code').textContent())?.trim()).toBe(zimDir);
    await card.getByRole('link', { name: 'Open its library' }).click();
    await page.waitForURL(libraryUrl());
    await main().getByRole('heading', { name: `ZIM library · ${DOMAIN}`, level: 1 }).waitFor();
    await main().getByText('No ZIM files yet.').waitFor();
    expect(await main().getByText('Kiwix is not running').count(), 'Kiwix was deployed and answers').toBe(0);
    expect(await page.locator('#zim-library').count()).toBe(0);
    expect(await page.locator('#zim-progress li[data-download]').count()).toBe(0);
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 2;
  });

  it('3. searches the Kiwix catalogue: the books with title, language and size', async () => {
    needs(2);
    const search = page.getByRole('search');
    await search.getByRole('searchbox', { name: 'Search' }).fill('lores');
    await search.getByRole('button', { name: 'Search the Kiwix catalogue' }).click();
    await page.waitForURL((u) => u.pathname === `/apps/${STACK}/zims` && u.searchParams.get('q') === 'lores');
    await page.locator('#zim-results').waitFor();
    expect((await page.locator('#zim-catalogue-age').textContent())?.trim()).toBe('From the catalogue just now: 2 matches.');
    const rows = page.locator('#zim-results tbody tr');
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-zim')))).toEqual([BOOK_FILE, OTHER_FILE]);
    const cells = async (file: string) => (await page.locator(`#zim-results tr[data-zim="${file}"] td`).allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
    const [title, lang, , , size, date] = await cells(BOOK_FILE);
    expect(title).toContain(BOOK_TITLE);
    expect(lang).toBe('eng');
    expect(size).toBe(formatBytes(book.size));
    expect(date).toBe('2024-01-15');
    const otherCells = await cells(OTHER_FILE);
    expect(otherCells[0]).toContain(OTHER_TITLE);
    expect(otherCells[1]).toBe('fra');
    expect(otherCells[4]).toBe(formatBytes(other.size));
    for (const f of [BOOK_FILE, OTHER_FILE]) await page.locator(`#zim-results tr[data-zim="${f}"]`).getByRole('button', { name: 'Download' }).waitFor();
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 3;
  });

  it('4. downloads the book slowly: the bar moves on the open library page, then the file is in the library', async () => {
    needs(3);
    fixture.faults.bytesPerSecond = BYTES_PER_SECOND;
    const started = Date.now();
    await page.locator(`#zim-results tr[data-zim="${BOOK_FILE}"]`).getByRole('button', { name: 'Download' }).click();
    const refusal = main().getByRole('alert').first();
    await Promise.race([page.waitForURL(/\/jobs\/\d+$/), refusal.waitFor()]);
    if (!/\/jobs\/\d+$/.test(page.url())) throw new Error(`no download job started; ${page.url()} says: ${await refusal.textContent()}`);
    const jobUrl = page.url();
    await main().getByRole('heading', { name: `zim-download · ${DOMAIN}`, level: 1 }).waitFor();

    // Back to the library as a steward would: the app from the job page, then its ZIM library.
    await page.locator('#job-app').getByRole('link', { name: DOMAIN, exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}`);
    await main().getByRole('link', { name: 'ZIM library' }).click();
    await page.waitForURL(libraryUrl());
    await main().getByRole('heading', { name: `ZIM library · ${DOMAIN}`, level: 1 }).waitFor();
    timings.clickToLibraryPage = Date.now() - started;
    await mark();
    // Record every state of the download's entry, in the page, each time the live section changes.
    await page.evaluate(`(() => {
      window.__zimSeen = [];
      const record = () => {
        const li = document.querySelector('#zim-progress li[data-download="${BOOK_FILE}"]');
        const bar = li && li.querySelector('progress');
        if (!bar) return;
        const text = li.querySelector('p').textContent.replace(/\\s+/g, ' ').trim();
        const last = window.__zimSeen[window.__zimSeen.length - 1];
        if (!last || last.value !== bar.value || last.text !== text) window.__zimSeen.push({ value: bar.value, text, at: performance.now() });
      };
      record();
      new MutationObserver(record).observe(document.getElementById('zim-progress'), { subtree: true, childList: true, attributes: true, characterData: true });
    })()`);
    const seen = () => page.evaluate<Seen[]>('window.__zimSeen');
    const bar = page.locator(`#zim-progress li[data-download="${BOOK_FILE}"] progress`);
    // The entry shows up (rendered with the page or pushed), then goes when the download ends.
    await bar.waitFor({ timeout: DOWNLOAD_TIMEOUT_MS });
    await bar.waitFor({ state: 'detached', timeout: DOWNLOAD_TIMEOUT_MS });
    timings.downloadSeen = Date.now() - started;
    progressSeen = await seen();
    const values = progressSeen.map((s) => s.value);
    expect(await marked(), 'the library page was reloaded instead of updated live').toBe(1);
    expect(page.url()).toBe(libraryUrl());
    const rises = values.filter((v, i) => i > 0 && v > values[i - 1]!).length;
    expect(rises, `the bar should rise at least twice on the open page; values seen: ${values.join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(values.every((v, i) => i === 0 || v >= values[i - 1]!), `the bar never goes back: ${values.join(', ')}`).toBe(true);
    // "X of Y · speed · time left", once the speed is known.
    const unit = String.raw`[\d.]+ (?:B|KB|MB)`;
    const shape = new RegExp(String.raw`^${escape(BOOK_FILE)} — (${unit}) of ${escape(formatBytes(book.size))} · (${unit})/s · (?:\d+ s|\d+ min) left$`);
    const measured = progressSeen.filter((s) => shape.test(s.text));
    expect(measured.length, `progress texts:\n${progressSeen.map((s) => s.text).join('\n')}`).toBeGreaterThanOrEqual(2);
    expect(new Set(measured.map((s) => shape.exec(s.text)![1])).size, 'the bytes done change').toBeGreaterThanOrEqual(2);

    // The finished file is pushed into "On this node" without a reload.
    const row = page.locator(`#zim-library tr[data-zim="${BOOK_FILE}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await marked(), 'the library table came with a reload, not live').toBe(1);
    timings.clickToRowInLibrary = Date.now() - started;
    expect(await main().getByText('No ZIM files yet.').count()).toBe(0);
    // Book, language, date, size: the size moved to the fourth column (the title comes from Kiwix: step 5).
    expect((await row.locator('td').nth(3).textContent())?.trim()).toBe(formatBytes(book.size));
    expect(inFolder()).toEqual([BOOK_FILE]);
    // The job verified the file; it ends once Kiwix serves it (it waits for that after the file lands).
    const job = await within('the download job ends', SERVED_TIMEOUT_MS, async () => {
      const html = await (await context.request.get(jobUrl)).text();
      return /id="job-state"[\s\S]*?data-state="(succeeded|failed)"/.test(html) && html;
    }, 1000);
    timings.clickToJobEnd = Date.now() - started;
    expect(job, job.replace(/<[^>]+>/g, '').slice(-2000)).toMatch(/id="job-state"[\s\S]*?data-state="succeeded"/);
    expect(job).toContain('Verified (sha-256 matches)');
    expect(job).toContain('Kiwix serves it now.');
    fixture.reset();
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 4;
  });

  it('5. reads the article from kiwix-serve in a new tab', async () => {
    needs(4);
    const started = Date.now();
    // Kiwix is another site: its own tab, so its pages' console messages stay out of the node's CSP check.
    const reader = await context.newPage();
    try {
      await within('the article is served', SERVED_TIMEOUT_MS, async () => {
        const res = await reader.goto(`http://127.0.0.1:${lanPort}${book.urlPath}`);
        return res?.status() === 200 && (await reader.getByText(SENTENCE).count()) > 0;
      }, 1000);
      timings.servedAfterDownload = Date.now() - started;
      await reader.getByRole('heading', { name: 'The article' }).waitFor();
      expect(await reader.getByText(SENTENCE).first().isVisible()).toBe(true);
    } finally {
      await reader.close();
    }
    // The library page says so too, once reloaded, and opens the book in Kiwix: on its address, and on the LAN port.
    await page.reload();
    const row = page.locator(`#zim-library tr[data-zim="${BOOK_FILE}"]`);
    expect(await row.locator('td[data-served]').getAttribute('data-served')).toBe('true');
    // Served, the book is listed by the title and language the ZIM itself carries, not its file name.
    expect((await row.locator('.zim-title').textContent())?.trim()).toBe(BOOK_TITLE);
    expect((await row.locator('.zim-language').textContent())?.trim()).toBe('eng');
    expect(await row.getByRole('link', { name: 'Open in Kiwix' }).getAttribute('href')).toMatch(new RegExp(`^https://${DOMAIN.replace(/\./g, '\\.')}/(content/)?${BOOK_FILE.replace(/\.zim$/, '')}$`));
    const [opened] = await Promise.all([context.waitForEvent('page'), row.getByRole('link', { name: 'on the local network' }).click()]);
    try {
      await opened.getByRole('heading', { name: BOOK_TITLE }).waitFor({ timeout: 30_000 });
      expect(new URL(opened.url()).port).toBe(String(lanPort));
    } finally {
      await opened.close();
    }
    // Times are shown in the browser's own time zone (here India's, +05:30), the UTC moment kept in the tooltip.
    const india = await browser.newContext({ timezoneId: 'Asia/Kolkata', locale: 'en-GB', storageState: await context.storageState() });
    try {
      const jobs = await india.newPage();
      await jobs.goto(`${node.url}/jobs`);
      const started = jobs.locator('table.jobs time[datetime]').first();
      await jobs.locator('table.jobs time[data-local]').first().waitFor();
      const iso = (await started.getAttribute('datetime'))!;
      // Hours and minutes in India differ from UTC's by 5:30, so the text proves the conversion.
      const hm = (timeZone: string) => new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone }).format(new Date(iso));
      const shown = (await started.textContent())?.trim() ?? '';
      expect(shown).toContain(hm('Asia/Kolkata'));
      expect(shown).not.toContain(hm('UTC'));
      expect(shown).not.toContain('UTC');
      expect(await started.getAttribute('title')).toBe(`${iso.slice(0, 19).replace('T', ' ')} UTC`);
    } finally {
      await india.close();
    }
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 5;
  });

  it('6. deletes it only with its name typed: a wrong name is refused, the right one removes it and Kiwix stops serving it', async () => {
    needs(5);
    await page.locator(`#zim-library tr[data-zim="${BOOK_FILE}"]`).getByRole('link', { name: 'Remove…' }).click();
    await page.waitForURL(`${libraryUrl()}/remove?file=${encodeURIComponent(BOOK_FILE)}`);
    await main().getByRole('heading', { name: `Remove ${BOOK_FILE}`, level: 1 }).waitFor();
    const confirm = main().getByLabel(`Type ${BOOK_FILE} to confirm`);
    await confirm.fill(BOOK_FILE.replace(/\.zim$/, ''));
    await main().getByRole('button', { name: 'Remove for good' }).click();
    const alert = main().getByRole('alert');
    await alert.waitFor();
    // The refused form comes back with a one-line summary above it and the note beside the field (#21's forms).
    expect((await alert.textContent())?.trim()).toBe(`Nothing was changed. To remove it, type its file name exactly: ${BOOK_FILE}`);
    expect((await main().locator('.field.invalid .error-text').textContent())?.trim()).toBe(`To remove it, type its file name exactly: ${BOOK_FILE}`);
    expect(await confirm.inputValue(), 'what was typed is kept').toBe(BOOK_FILE.replace(/\.zim$/, ''));
    expect(inFolder()).toEqual([BOOK_FILE]);
    expect((await kiwix(book.urlPath)).text).toContain(SENTENCE);

    // The refusal shows the form again, with the error: the steward types the name right there.
    await confirm.fill(BOOK_FILE);
    const started = Date.now();
    await main().getByRole('button', { name: 'Remove for good' }).click();
    // Removal waits (up to 30 s) until Kiwix has let go of the file before it deletes it and returns.
    await page.waitForURL(libraryUrl(), { timeout: 60_000 });
    timings.removeClickToLibrary = Date.now() - started;
    await main().getByText('No ZIM files yet.').waitFor();
    expect(await page.locator(`tr[data-zim="${BOOK_FILE}"]`).count()).toBe(0);
    expect(inFolder()).toEqual([]);
    await within('kiwix-serve stops serving it', SERVED_TIMEOUT_MS, async () => {
      const catalogue = await kiwix('/catalog/v2/entries?count=-1');
      const article = await kiwix(book.urlPath);
      return catalogue.status === 200 && !catalogue.text.includes(BOOK) && !article.text.includes(SENTENCE);
    }, 1000);
    timings.unservedAfterRemove = Date.now() - started;
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 6;
  });

  it('7. no page of the node broke its Content Security Policy', () => {
    needs(6);
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
  });
});
