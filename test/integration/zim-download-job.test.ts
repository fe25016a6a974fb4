// ZIM downloads as jobs, against hostile or broken mirrors: what cannot get better fails at once, a trickling mirror
// is dropped at the floor (configured short here: 1 KB/s over 3 s), and every line the job writes reads as a sentence.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchCatalogue, type ZimEntry } from '../../app/adapters/kiwix/opds.ts';
import { testNode, type TestNode } from '../support/app.ts';
import { startKiwixFixture, type KiwixFixture } from '../support/kiwix-fixture-server.ts';

const BIG = 'lores_slow_test_2024-01.zim';
const SIZE = 1024 * 1024 + 333;
const DOMAIN = `dl${randomBytes(3).toString('hex')}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
const actor = { name: 'sam', ip: '127.0.0.1' };

describe('ZIM download jobs against hostile mirrors', () => {
  let work: string;
  let zimDir: string;
  let fixture: KiwixFixture;
  let slow: KiwixFixture;
  let node: TestNode;
  let entry: ZimEntry;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-zimjob-'));
    writeFileSync(path.join(work, BIG), randomBytes(SIZE));
    const books = [{ name: BIG, path: path.join(work, BIG), title: 'Slow test', language: 'eng', category: 'other' }];
    fixture = await startKiwixFixture({ books });
    slow = await startKiwixFixture({ books, faults: { trickleEveryMs: 100 } });
    const abraDir = path.join(work, 'abra');
    const zimRoot = path.join(work, 'zims');
    zimDir = path.join(zimRoot, 'kiwix');
    mkdirSync(path.join(abraDir, 'servers', 'default'), { recursive: true });
    mkdirSync(zimDir, { recursive: true });
    writeFileSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`), `TYPE=kiwix:1.0.0+3.8.2\nDOMAIN=${DOMAIN}\nZIM_FILES_PATH=${zimDir}\n`);
    node = await testNode({ ABRA_DIR: abraDir, ZIM_ROOT: zimRoot, KIWIX_CATALOGUE_URL: fixture.url, NETWORK_FLOOR_SECONDS: '3' });
    entry = (await fetchCatalogue(fixture.url, { q: 'slow' })).entries[0]!;
  });

  afterAll(async () => {
    node?.services.jobs.abortAll();
    node?.close();
    await Promise.all([fixture?.close(), slow?.close()]);
    rmSync(work, { recursive: true, force: true });
  });

  beforeEach(() => {
    fixture.reset();
    slow.requests.length = 0;
    rmSync(path.join(zimDir, BIG), { force: true });
    rmSync(path.join(zimDir, `${BIG}.part`), { force: true });
  });

  /** Runs a download job to its end: its row, its output lines and how long it took. */
  async function runJob(from: ZimEntry = entry) {
    const t0 = performance.now();
    const job = node.services.zims.downloads.start(STACK, from, actor);
    const row = await node.services.jobs.finished(job.id);
    const lines = node.services.store.jobs.output(job.id).map((l) => l.line);
    return { row, lines, seconds: (performance.now() - t0) / 1000 };
  }
  const metalinkRequests = () => fixture.requests.filter((r) => r.path.endsWith('.meta4')).length;
  /** Every line a steward reads is a sentence: it ends with a full stop, and joined parts are separated by one. */
  const expectSentences = (lines: string[]) => {
    for (const line of lines) expect(line, line).toMatch(/[.!?]$/);
  };

  it('fails at once on a Metalink without a sha-256: asking again cannot add one', async () => {
    fixture.faults.meta4WithoutHash = true;
    const { row, lines, seconds } = await runJob();
    expect(row.state).toBe('failed');
    expect(row.error).toBe(`The Metalink file at ${new URL(fixture.url).host} cannot be used: it has no sha-256 hash, so the download could not be verified.`);
    expect(metalinkRequests()).toBe(1);
    expect(lines.join('\n')).not.toMatch(/Trying again/);
    expect(seconds).toBeLessThan(2); // not the 25 s of retries it took before
    expectSentences(lines);
  });

  it('fails at once on a Metalink the server refuses (404)', async () => {
    fixture.faults.meta4Status = 404;
    const { row, lines, seconds } = await runJob();
    expect(row.error).toBe(`The Metalink file at ${new URL(fixture.url).host} could not be read: it answered HTTP 404 Not Found.`);
    expect(metalinkRequests()).toBe(1);
    expect(seconds).toBeLessThan(2);
    expectSentences(lines);
  });

  it('drops a mirror that sends one byte every 100 ms at the floor, fails within the window, and says so in sentences', async () => {
    // The trickling fixture's own Metalink lists only itself.
    const { row, lines, seconds } = await runJob({ ...entry, downloadUrl: slow.meta4Url(BIG) });
    expect(row.state).toBe('failed');
    expect(row.error).toMatch(
      new RegExp(`^Could not download ${BIG.replace(/\./g, '\\.')}: 127\\.0\\.0\\.1:\\d+ stalled: it sent only \\d+ B in the last 3\\.\\d s, below the minimum of 1 KB/s\\. \\d+ B of 1\\.0 MB are kept: resuming continues from there\\.$`),
    );
    expect(row.error).not.toMatch(/What was downloaded is kept/);
    expect(seconds).toBeLessThan(3 + 2);
    expect(slow.rangesFor(BIG)).toHaveLength(1);
    expectSentences(lines);
  });

  it('switches from a trickling first mirror to the second one and finishes, every line a sentence', async () => {
    fixture.faults.meta4MirrorsFirst = [slow.url];
    const { row, lines, seconds } = await runJob();
    expect(row.state, lines.join('\n')).toBe('succeeded');
    expect(slow.rangesFor(BIG)).toEqual([undefined]);
    expect(fixture.rangesFor(BIG)).toHaveLength(1);
    expect(fixture.rangesFor(BIG)[0]).toMatch(/^bytes=\d+-$/); // what the slow mirror sent was kept
    expect(seconds).toBeLessThan(3 + 5);
    expect(lines.join('\n')).toContain('2 mirror(s)');
    expectSentences(lines);
  });
});
