// The ZIM library through the real app: the bundled Kiwix recipe deployed on the real swarm (stand-in kiwix-serve),
// a local OPDS + mirror fixture serving real tiny ZIMs, and downloads as jobs with every fault the issue names.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE } from '../support/abra.ts';
import { noteBeside, shownValue } from '../support/forms.ts';
import { startKiwixFixture, type KiwixFixture } from '../support/kiwix-fixture-server.ts';
import { ensureKiwixImage, makeTestZim, type TestZim } from '../support/kiwix.ts';
import { haveDocker } from '../support/requirements.ts';
import { freePort, REPO_ROOT } from '../support/server.ts';
import { within as poll } from '../support/poll.ts';
import { removeStackAndObjects } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const DOMAIN = `z${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');

describe.skipIf(!dockerThere)('ZIM library: find, download (resumable, verified), serve, update, remove', () => {
  let node: TestNode;
  let fixture: KiwixFixture;
  let abraDir: string;
  let zimRoot: string;
  let zimDir: string;
  let work: string;
  let port: number;
  let cookie: string;
  let csrf: string;
  let guestCookie: string;
  const zims: Record<'old' | 'new' | 'med', TestZim> = {} as never;
  /** Not a real ZIM: big enough to be paused halfway through at a throttled rate. */
  const BIG = 'lores_big_2024-01.zim';

  const get = (url: string, c = cookie) => supertest(node.app).get(url).set('Cookie', c);
  const post = (url: string, form: Record<string, string> = {}, c = cookie) => supertest(node.app).post(url).set('Cookie', c).type('form').send({ _csrf: csrf, ...form });
  const jobOf = async (res: { status: number; headers: Record<string, string>; text: string }) => {
    expect(res.status, res.text.slice(0, 400)).toBe(303);
    const jobId = Number(/^\/jobs\/(\d+)$/.exec(res.headers.location ?? '')?.[1]);
    expect(jobId, res.headers.location).toBeGreaterThan(0);
    return jobId;
  };
  const output = (jobId: number) => node.services.store.jobs.output(jobId).map((l) => l.line).join('\n');
  const jobState = (jobId: number) => () => `${JSON.stringify(node.services.store.jobs.byId(jobId))}\n${output(jobId)}`;
  /** Polls for a value; the job's row and output go into the failure when one is named. */
  const within = async <T,>(what: string, ms: number, check: () => Promise<T | undefined | false>, jobId?: number) =>
    (await poll(what, ms, check, { detail: jobId ? jobState(jobId) : undefined })).value;
  const entryId = async (fileName: string, query = 'q=lores') => {
    const page = await get(`/apps/${STACK}/zims?${query}`).expect(200);
    const row = new RegExp(`data-zim="${fileName.replace(/\./g, '\\.')}"[\\s\\S]*?name="id" value="([^"]+)"`).exec(page.text);
    if (!row) throw new Error(`${fileName} has no Download button on the page`);
    return row[1]!;
  };
  const download = (fileName: string, extra: Record<string, string> = {}) => entryId(fileName).then((entry) => post(`/apps/${STACK}/zims/download`, { id: entry, q: 'lores', ...extra }));
  const kiwix = (p: string) => fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(5000) }).then(async (r) => ({ status: r.status, text: await r.text() }));
  const inFolder = () => readdirSync(zimDir).sort();

  beforeAll(async () => {
    await ensureKiwixImage();
    work = mkdtempSync(path.join(tmpdir(), 'lores-zimlib-work-'));
    zims.old = await makeTestZim(path.join(work, 'src'), { name: 'lores_wiki_2024-01', title: 'LoRes wiki (old)', articleText: `The old wiki ${id} says hello.` });
    zims.new = await makeTestZim(path.join(work, 'src'), { name: 'lores_wiki_2025-03', title: 'LoRes wiki', articleText: `The new wiki ${id} says hello.` });
    zims.med = await makeTestZim(path.join(work, 'src'), { name: 'lores_med_2024-06', title: 'LoRes medicine', articleText: `Drink water ${id}.` });
    writeFileSync(path.join(work, BIG), randomBytes(3 * 1024 * 1024));
    fixture = await startKiwixFixture({
      books: [
        { name: 'lores_wiki_2024-01.zim', path: zims.old.path, title: 'LoRes wiki (old)', bookName: 'lores_wiki', date: '2024-01-15', language: 'eng', category: 'wikipedia' },
        { name: 'lores_wiki_2025-03.zim', path: zims.new.path, title: 'LoRes wiki', bookName: 'lores_wiki', date: '2025-03-01', language: 'eng', category: 'wikipedia' },
        { name: 'lores_med_2024-06.zim', path: zims.med.path, title: 'LoRes medicine', bookName: 'lores_med', date: '2024-06-01', language: 'fra', category: 'other' },
        { name: BIG, path: path.join(work, BIG), title: 'LoRes big', bookName: 'lores_big', date: '2024-01-15', language: 'eng', category: 'other' },
      ],
    });
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    zimRoot = mkdtempSync(path.join(tmpdir(), 'lores-zimroot-'));
    zimDir = path.join(zimRoot, 'kiwix');
    mkdirSync(zimDir);
    chmodSync(zimRoot, 0o755);
    chmodSync(zimDir, 0o755);
    port = await freePort();
    node = await testNode(
      { ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: path.join(REPO_ROOT, 'recipes'), ABRA_TIMEOUT_SECONDS: '150', ZIM_ROOT: zimRoot, KIWIX_CATALOGUE_URL: fixture.url },
      { full: true },
    );
    const steward = await addUser(node, 'zoe', 'steward');
    const s = node.services.sessions.start((await node.services.people.authenticate(steward.username, steward.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookie = `lores_session=${s.token}`;
    csrf = s.session.csrfToken;
    const guest = await addUser(node, 'gil', 'guest');
    guestCookie = `lores_session=${node.services.sessions.start((await node.services.people.authenticate(guest.username, guest.password))!, { ip: '127.0.0.1', userAgent: 'test' }).token}`;
    const install = await jobOf(
      await post('/install/kiwix', {
        domain: DOMAIN,
        'env.ZIM_FILES_PATH': zimDir,
        'overlay.compose.lan.yml': 'on',
        'enable.KIWIX_LAN_PORT': 'on',
        'env.KIWIX_LAN_PORT': String(port),
        deploy: 'on',
      }),
    );
    const job = await node.services.jobs.finished(install);
    expect(job.state, output(install)).toBe('succeeded');
    await within('kiwix-serve answers on the LAN port', 90_000, async () => (await kiwix('/catalog/v2/root.xml')).status === 200);
  });

  afterAll(async () => {
    node?.services.jobs.abortAll();
    node?.close();
    await fixture?.close();
    await removeStackAndObjects(STACK, 60_000);
    for (const d of [abraDir, zimRoot, work]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('lists the Kiwix app, browses and filters the catalogue, and leaves malformed and path-trick entries out', async () => {
    expect((await get('/zims').expect(200)).text).toContain(`href="/apps/${STACK}/zims"`);
    const app = await get(`/apps/${STACK}`).expect(200);
    expect(app.text).toContain(`href="/apps/${STACK}/zims"`);
    // The LAN overlay's host-mode port, as a link a steward on the LAN can follow.
    expect(app.text).toContain(`data-lan-port="${port}"`);
    // Open buttons: the app's address, and its LAN port for people on the local network.
    expect(app.text).toMatch(new RegExp(`<a class="button" href="https://${DOMAIN.replace(/\./g, '\\.')}"[^>]*data-open-app>Open</a>`));
    expect(app.text).toMatch(new RegExp(`href="http://127\\.0\\.0\\.1:${port}/"[^>]*data-open-lan>Open on the local network</a>`));
    const dashboard = await get('/').expect(200);
    expect(dashboard.text).toMatch(new RegExp(`data-stack="${STACK}"[\\s\\S]*?href="https://${DOMAIN.replace(/\./g, '\\.')}"[^>]*data-open-app>Open</a>`));
    const all = await get(`/apps/${STACK}/zims?q=lores`).expect(200);
    for (const f of ['lores_wiki_2024-01.zim', 'lores_wiki_2025-03.zim', 'lores_med_2024-06.zim']) expect(all.text).toContain(`data-zim="${f}"`);
    expect(all.text).toContain('From the catalogue just now');
    const french = await get(`/apps/${STACK}/zims?lang=fra`).expect(200);
    expect(french.text).toContain('data-zim="lores_med_2024-06.zim"');
    expect(french.text).not.toContain('data-zim="lores_wiki_2025-03.zim"');
    const unfiltered = await get(`/apps/${STACK}/zims?category=wikipedia`).expect(200);
    expect(unfiltered.text).not.toContain('evil');
    const any = await get(`/apps/${STACK}/zims?start=0`).expect(200);
    expect(any.text).toMatch(/malformed catalogue entr/);
    // A language name instead of its code: the library page comes back with the search as typed, the note beside it (#21).
    const english = await get(`/apps/${STACK}/zims?lang=English&q=lores`).expect(400);
    expect(english.text).toContain('<h2>Find content</h2>');
    expect(shownValue(english.text, 'lang', 'browse')).toBe('English');
    expect(shownValue(english.text, 'q', 'browse')).toBe('lores');
    expect(noteBeside(english.text, 'lang', 'browse')).toMatch(/Language must be ISO-639-3 codes such as eng or fra/);
    await get(`/apps/${STACK}/zims?lang=english!`).expect(400);
    const size = await get(`/apps/${STACK}/zims?maxGB=-3`).expect(400);
    expect(noteBeside(size.text, 'maxGB', 'browse')).toMatch(/Largest size must be a number of GB above 0/);
    expect(shownValue(size.text, 'maxGB', 'browse')).toBe('-3');
    expect(inFolder()).toEqual([]);
  });

  it('says whether downloads run at full speed or limited, and to what', async () => {
    expect((await get(`/apps/${STACK}/zims`).expect(200)).text).toContain('Downloads run at full speed; on a shared uplink an admin can set a limit on the Settings page.');
    node.services.settings.setDownloadLimit(512, 'test');
    try {
      expect((await get(`/apps/${STACK}/zims`).expect(200)).text).toContain('Downloads are limited to 512 KB/s, to share the uplink');
    } finally {
      node.services.settings.setDownloadLimit(0, 'test');
    }
  });

  it('downloads with the connection cut halfway: resumes from the right byte, verifies, and Kiwix serves it without a restart', async () => {
    const size = fixture.size('lores_med_2024-06.zim');
    fixture.faults.cutAfterBytes = Math.floor(size / 2);
    const jobId = await jobOf(await download('lores_med_2024-06.zim'));
    const job = await node.services.jobs.finished(jobId);
    const ranges = fixture.rangesFor('lores_med_2024-06.zim');
    fixture.reset();
    expect(job.state, output(jobId)).toBe('succeeded');
    // The second request picked up exactly where the cut left the part file.
    expect(ranges.length).toBeGreaterThanOrEqual(2);
    expect(ranges.at(-1)).toBe(`bytes=${Math.floor(size / 2)}-`);
    expect(output(jobId)).toContain('Verified (sha-256 matches)');
    expect(output(jobId)).toContain('Kiwix serves it now.');
    expect(inFolder()).toEqual(['lores_med_2024-06.zim']);
    const page = await get(`/apps/${STACK}/zims`).expect(200);
    expect(page.text).toMatch(/data-zim="lores_med_2024-06\.zim"[\s\S]*?data-served="true"/);
    // kiwix-serve reloads its library a moment after the recipe rewrote it (it watches the file's mtime).
    const article = await within('the article is served', 20_000, async () => {
      const a = await kiwix(zims.med.urlPath);
      return a.text.includes(`Drink water ${id}.`) && a;
    });
    expect(article.text, article.text.slice(0, 1500)).toContain(`Drink water ${id}.`);
  });

  it('lists the book by its title, language and date from the ZIM itself, with an Open in Kiwix link that opens it', async () => {
    const page = await get(`/apps/${STACK}/zims`).expect(200);
    const row = /<tr data-zim="lores_med_2024-06\.zim">([\s\S]*?)<\/tr>/.exec(page.text)?.[1] ?? '';
    // The ZIM's own metadata (made with language eng), not the catalogue entry's (fra): Kiwix reads the file.
    expect(row).toContain('<strong class="zim-title">LoRes medicine</strong>');
    expect(row).toMatch(/class="zim-language">eng</);
    expect(row).toMatch(/class="zim-date">\d{4}-\d{2}-\d{2}</);
    const open = /href="([^"]+)"[^>]*data-open-in-kiwix/.exec(row)?.[1];
    const lan = /href="([^"]+)"[^>]*data-open-on-lan/.exec(row)?.[1];
    // kiwix-serve's own link for the book (3.3 serves /<book>, 3.8 /content/<book>), on the app's address.
    expect(open).toMatch(new RegExp(`^https://${DOMAIN.replace(/\./g, '\\.')}/(content/)?lores_med_2024-06$`));
    expect(lan).toBe(`http://127.0.0.1:${port}${new URL(open!).pathname}`);
    const opened = await kiwix(new URL(lan!).pathname);
    expect(opened.status).toBe(200);
    expect(opened.text).toContain('LoRes medicine');
  });

  it('refuses a download whose bytes do not match the sha-256: nothing served, nothing left', async () => {
    fixture.faults.corruptByteAt = 100;
    const jobId = await jobOf(await download('lores_wiki_2024-01.zim'));
    const job = await node.services.jobs.finished(jobId);
    fixture.reset();
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/sha-256/i);
    expect(inFolder()).toEqual(['lores_med_2024-06.zim']);
    expect((await kiwix('/catalog/v2/entries?count=-1')).text).not.toContain('lores_wiki_2024-01');
  });

  it('pauses a slow download and resumes it from its part file, then cancels it (part deleted); a guest can do neither', async () => {
    fixture.faults.bytesPerSecond = 512 * 1024;
    const jobId = await jobOf(await download(BIG));
    await within('the download runs', 20_000, async () => node.services.zims.downloads.progressFor(STACK).some((p) => p.done > 256 * 1024), jobId);
    const live = await get(`/apps/${STACK}/zims`).expect(200);
    expect(live.text).toMatch(new RegExp(`data-download="${BIG.replace(/\./g, '\\.')}"[\\s\\S]*?<progress max="100" value="\\d+"`));
    await post(`/apps/${STACK}/zims/pause`, { fileName: BIG }, guestCookie).expect(403);
    await post(`/apps/${STACK}/zims/pause`, { fileName: BIG }).expect(303);
    const paused = await node.services.jobs.finished(jobId);
    expect(paused.state).toBe('interrupted');
    expect(paused.error).toMatch(/^Paused by zoe/);
    const kept = statSync(path.join(zimDir, `${BIG}.part`)).size;
    expect(kept).toBeGreaterThan(0);
    expect((await get(`/apps/${STACK}/zims`).expect(200)).text).toContain(`data-part="${BIG}"`);
    fixture.requests.length = 0;
    const resumed = await jobOf(await post(`/apps/${STACK}/zims/resume`, { fileName: BIG }));
    await within('the resumed download runs', 20_000, async () => node.services.zims.downloads.progressFor(STACK).some((p) => p.done > kept), resumed);
    expect(output(resumed)).toMatch(/resuming after/);
    expect(fixture.rangesFor(BIG)[0]).toBe(`bytes=${kept}-`);
    await post(`/apps/${STACK}/zims/cancel`, { fileName: BIG }, guestCookie).expect(403);
    await post(`/apps/${STACK}/zims/cancel`, { fileName: BIG }).expect(303);
    expect((await node.services.jobs.finished(resumed)).error).toMatch(/^Cancelled by zoe/);
    fixture.reset();
    expect(inFolder()).toEqual(['lores_med_2024-06.zim']);
  });

  it('offers the newer dated file as an update, and replaces the old one only after the new one is verified and served', async () => {
    const first = await node.services.jobs.finished(await jobOf(await download('lores_wiki_2024-01.zim')));
    expect(first.state, output(first.id)).toBe('succeeded');
    // Without any search: "check for newer versions" asks the catalogue for every file of the book on disk.
    const plain = await get(`/apps/${STACK}/zims`).expect(200);
    expect(plain.text).not.toContain('update available');
    const page = await get(`/apps/${STACK}/zims?updates=1`).expect(200);
    expect(page.text).toMatch(/data-zim="lores_wiki_2024-01\.zim"[\s\S]*?update available: lores_wiki_2025-03\.zim/);
    // The check says what it did: both books on disk came through the node, so it knows which book each one is.
    expect(page.text).toMatch(/id="zim-updates-result"[^>]*>Checked the catalogue just now for 2 books: 1 newer version available/);
    fixture.faults.catalogueDown = true;
    const offline = await get(`/apps/${STACK}/zims?updates=1`).expect(200);
    fixture.faults.catalogueDown = false;
    expect(offline.text).toMatch(/id="zim-updates-result"[^>]*>Could not check for newer versions: [^<]*500/);
    expect(offline.text, 'what was learnt before stays').toContain('update available: lores_wiki_2025-03.zim');
    // The answer is kept: the plain page shows it too, offline.
    expect((await get(`/apps/${STACK}/zims`).expect(200)).text).toContain('update available: lores_wiki_2025-03.zim');
    const form = /<form[^>]*zims\/download[^>]*>[\s\S]*?name="id" value="([^"]+)"[\s\S]*?name="replaces" value="([^"]+)"[\s\S]*?name="name" value="([^"]+)"/.exec(page.text)!;
    expect(form.slice(2)).toEqual(['lores_wiki_2024-01.zim', 'lores_wiki']);
    const jobId = await jobOf(await post(`/apps/${STACK}/zims/download`, { id: form[1]!, replaces: form[2]!, name: form[3]! }));
    const job = await node.services.jobs.finished(jobId);
    expect(job.state, output(jobId)).toBe('succeeded');
    expect(output(jobId)).toMatch(/Kiwix serves it now\.[\s\S]*Removed the older lores_wiki_2024-01\.zim/);
    expect(inFolder()).toEqual(['lores_med_2024-06.zim', 'lores_wiki_2025-03.zim']);
  });

  it('refuses path tricks and unknown entries, changing nothing', async () => {
    for (const fileName of ['../../etc/passwd.zim', 'x/../../y.zim', '.hidden.zim', 'notzim.txt']) {
      await post(`/apps/${STACK}/zims/cancel`, { fileName }).expect(400);
      await post(`/apps/${STACK}/zims/remove`, { fileName, confirm: fileName }).expect(400);
    }
    await post(`/apps/${STACK}/zims/download`, { id: '00000000-0000-4000-8000-00000000dead', q: 'lores' }).expect(404);
    await post(`/apps/${STACK}/zims/download`, { id: '../../x', q: 'lores' }).expect(400);
    await post(`/apps/no_such_app/zims/download`, { id: '00000000-0000-4000-8000-00000000dead' }).expect(404);
    expect(inFolder()).toEqual(['lores_med_2024-06.zim', 'lores_wiki_2025-03.zim']);
  });

  it('removes a ZIM only with its name typed, unregistering it from Kiwix first', async () => {
    const confirm = await get(`/apps/${STACK}/zims/remove?file=lores_med_2024-06.zim`).expect(200);
    expect(confirm.text).toContain('Type <code>lores_med_2024-06.zim</code> to confirm');
    const wrong = await post(`/apps/${STACK}/zims/remove`, { fileName: 'lores_med_2024-06.zim', confirm: 'lores_med' }).expect(400);
    expect(shownValue(wrong.text, 'confirm')).toBe('lores_med');
    expect(noteBeside(wrong.text, 'confirm')).toMatch(/type its file name exactly: lores_med_2024-06\.zim/);
    expect(inFolder()).toContain('lores_med_2024-06.zim');
    await post(`/apps/${STACK}/zims/remove`, { fileName: 'lores_med_2024-06.zim', confirm: 'lores_med_2024-06.zim' }).expect(303);
    expect(inFolder()).toEqual(['lores_wiki_2025-03.zim']);
    const row = node.services.store.audit.page({ limit: 1, action: 'zim.remove' })[0]!;
    expect(JSON.parse(row.detail!)).toMatchObject({ fileName: 'lores_med_2024-06.zim', unregisteredFirst: true });
    await within('Kiwix no longer lists it', 20_000, async () => !(await kiwix('/catalog/v2/entries?count=-1')).text.includes('lores_med'));
  });

  it('shows the last copy of a search, with its age, when the catalogue is down', async () => {
    node.clock.advance(2 * 3600_000);
    const s = node.services.sessions.start((await node.services.people.authenticate('zoe', 'steward password 1'))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookie = `lores_session=${s.token}`;
    csrf = s.session.csrfToken;
    fixture.faults.catalogueDown = true;
    const page = await get(`/apps/${STACK}/zims?q=lores`).expect(200);
    fixture.reset();
    expect(page.text).toMatch(/The catalogue could not be reached just now \([^)]*500[^)]*\)\. Showing the copy of this search from 2 hours ago\./);
    expect(page.text).toContain('data-zim="lores_wiki_2025-03.zim"');
  });
});
