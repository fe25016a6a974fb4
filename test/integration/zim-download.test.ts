// The ZIM downloader against a local stand-in for the Kiwix catalogue and mirrors, with every fault switched on in
// turn. Files are random bytes (a few MB) so each test takes well under a second or two.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchMeta4 } from '../../app/adapters/kiwix/meta4.ts';
import { CatalogueError, fetchCatalogue } from '../../app/adapters/kiwix/opds.ts';
import {
  cancelDownload,
  downloadZim,
  freeSpaceMargin,
  partBytes,
  ZimDownloadError,
  type DownloadProgress,
  type DownloadZimOptions,
} from '../../app/services/zim/download.ts';
import { RemoteReadError } from '../../app/adapters/remote/fetch-text.ts';
import { formatBytes } from '../../app/services/resource-fit.ts';
import { FIXTURE_EXTRA_ENTRIES, startKiwixFixture, type KiwixFixture } from '../support/kiwix-fixture-server.ts';
import { available } from '../support/requirements.ts';

const BIG = 'wikipedia_en_test_maxi_2024-01.zim';
const SMALL = 'gutenberg_fr_test_2024-02.zim';
const BIG_SIZE = 2 * 1024 * 1024 + 12_345; // odd, so no boundary lines up by luck
const SMALL_SIZE = 300_001;
/** Over two of the resume check's 4 MiB reads, so its two buffers take turns. */
const LONG = 'wikipedia_en_long_mini_2024-03.zim';
const LONG_SIZE = 9 * 1024 * 1024 + 777;

let work: string;
let fixture: KiwixFixture;
let bigBytes: Buffer;
let longBytes: Buffer;
let lib: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'lores-zim-'));
  bigBytes = randomBytes(BIG_SIZE);
  writeFileSync(path.join(work, BIG), bigBytes);
  writeFileSync(path.join(work, SMALL), randomBytes(SMALL_SIZE));
  longBytes = randomBytes(LONG_SIZE);
  writeFileSync(path.join(work, LONG), longBytes);
  fixture = await startKiwixFixture({
    books: [
      { name: BIG, path: path.join(work, BIG), title: 'Test Wikipedia', language: 'eng', category: 'wikipedia' },
      { name: SMALL, path: path.join(work, SMALL), title: 'Livres de test', language: 'fra', category: 'gutenberg', summary: 'Des livres' },
      { name: LONG, path: path.join(work, LONG), title: 'Long Wikipedia', language: 'eng', category: 'wikipedia' },
    ],
  });
});

afterAll(async () => {
  await fixture?.close();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  fixture.reset();
  lib = mkdtempSync(path.join(work, 'library-'));
});

/** Options for a book as the catalogue and its Metalink describe it; quick retries for tests. */
function optsFor(name: string, over: Partial<DownloadZimOptions> = {}): DownloadZimOptions {
  return {
    urls: [fixture.fileUrl(name)],
    size: fixture.size(name),
    sha256: fixture.sha256(name),
    dir: lib,
    fileName: name,
    minFreeBytes: 0,
    retryDelayMs: 10,
    ...over,
  };
}

async function failure(p: Promise<unknown>): Promise<ZimDownloadError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ZimDownloadError);
    return err as ZimDownloadError;
  }
  throw new Error('expected the download to fail');
}

const libraryFiles = (dir = lib) => (existsSync(dir) ? readdir(dir) : []);
const readdir = (dir: string) => execFileSync('ls', ['-A', dir], { encoding: 'utf8' }).split('\n').filter(Boolean);

/**
 * A fetch whose bodies count the bytes actually handed to the reader (highWaterMark 0: nothing is queued, so a cut
 * cannot drop counted bytes): what the downloader received from each response, exactly.
 */
function countingFetch(delivered: number[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body) return res;
    const i = delivered.push(0) - 1;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          delivered[i]! += value.byteLength;
          controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

describe('catalogue and Metalink from the fixture', () => {
  it('lists books, skips the malformed and path-trick entries, and filters', async () => {
    const all = await fetchCatalogue(fixture.url, { count: 50 });
    expect(all.entries.map((e) => e.fileName).sort()).toEqual([SMALL, BIG, LONG].sort());
    expect(all.skipped).toHaveLength(FIXTURE_EXTRA_ENTRIES);
    expect(all.skipped.map((s) => s.reason).join(' ')).toMatch(/no download link.*plain \.zim/);
    expect(all.total).toBe(3 + FIXTURE_EXTRA_ENTRIES);

    const fra = await fetchCatalogue(fixture.url, { lang: 'fra' });
    expect(fra.entries.map((e) => e.fileName)).toEqual([SMALL]);
    expect(fra.entries[0]).toMatchObject({ size: SMALL_SIZE, language: 'fra', category: 'gutenberg', downloadUrl: fixture.meta4Url(SMALL) });
    expect((await fetchCatalogue(fixture.url, { q: 'livres' })).entries).toHaveLength(1);
    expect((await fetchCatalogue(fixture.url, { maxSize: SMALL_SIZE })).entries.map((e) => e.fileName)).toEqual([SMALL]);
    expect((await fetchCatalogue(fixture.url, { category: 'wikipedia' })).entries.map((e) => e.fileName).sort()).toEqual([BIG, LONG].sort());
    const page2 = await fetchCatalogue(fixture.url, { start: 1, count: 1 });
    expect(page2).toMatchObject({ start: 1, perPage: 1 });
  });

  it('says clearly when the catalogue is down or unreachable', async () => {
    fixture.faults.catalogueDown = true;
    await expect(fetchCatalogue(fixture.url)).rejects.toThrow(CatalogueError);
    await expect(fetchCatalogue(fixture.url)).rejects.toThrow(/could not be read: it answered HTTP 500/);

    const gone = await startKiwixFixture({ books: [] });
    await gone.close();
    await expect(fetchCatalogue(gone.url)).rejects.toThrow(/could not be read: connection refused/);
  });

  it('goes from catalogue entry to Metalink to a verified file', async () => {
    const entry = (await fetchCatalogue(fixture.url, { lang: 'eng' })).entries[0]!;
    const meta = await fetchMeta4(entry.downloadUrl);
    expect(meta).toEqual({ fileName: BIG, size: BIG_SIZE, sha256: fixture.sha256(BIG), urls: [fixture.fileUrl(BIG)] });
    const progress: DownloadProgress[] = [];
    const result = await downloadZim({ ...meta, dir: lib, minFreeBytes: 0, onProgress: (p) => progress.push(p) });

    const dest = path.join(lib, BIG);
    expect(result).toEqual({ path: dest, bytes: BIG_SIZE, resumedFrom: 0, attempts: 1 });
    expect(readFileSync(dest).equals(bigBytes)).toBe(true);
    expect(statSync(dest).mode & 0o777).toBe(0o644);
    expect(libraryFiles()).toEqual([BIG]);
    expect(fixture.rangesFor(BIG)).toEqual([undefined]);
    expect(progress.at(-1)).toMatchObject({ done: BIG_SIZE, total: BIG_SIZE, secondsLeft: 0, phase: 'downloading' });
    expect(progress.length).toBeLessThan(10); // throttled, not one per chunk
  });
});

describe('downloadZim faults', () => {
  it('resumes from the right byte after a cut connection, and verifies', async () => {
    fixture.faults.cutAfterBytes = 1_000_003;
    const delivered: number[] = [];
    const result = await downloadZim(optsFor(BIG, { fetch: countingFetch(delivered) }));

    expect(delivered[0]).toBeGreaterThan(0);
    expect(delivered[0]).toBeLessThanOrEqual(1_000_003);
    expect(fixture.rangesFor(BIG)).toEqual([undefined, `bytes=${delivered[0]}-`]);
    expect(delivered[0]! + delivered[1]!).toBe(BIG_SIZE);
    expect(result).toMatchObject({ attempts: 2, resumedFrom: 0 });
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
    expect(libraryFiles()).toEqual([BIG]);
  });

  it('with its own HTTP client too, resumes from exactly the byte where the connection was cut', async () => {
    fixture.faults.cutAfterBytes = 1_000_003;
    const result = await downloadZim(optsFor(BIG));
    // The server handed 1 000 003 bytes to the kernel before closing; every one of them reaches us before the end.
    expect(fixture.rangesFor(BIG)).toEqual([undefined, 'bytes=1000003-']);
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('keeps going through a connection that is cut again and again, as long as bytes arrive', async () => {
    fixture.faults.cutAfterBytes = 400_000;
    fixture.faults.cutTimes = 'always';
    const result = await downloadZim(optsFor(BIG, { retries: 2 }));
    const ranges = fixture.rangesFor(BIG);
    expect(ranges.length).toBeGreaterThanOrEqual(6);
    const starts = ranges.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? '')?.[1]));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('gives up clearly after bounded retries when no byte arrives, keeping nothing in the library', async () => {
    fixture.faults.cutAfterBytes = 0;
    fixture.faults.cutTimes = 'always';
    const err = await failure(downloadZim(optsFor(BIG, { retries: 2 })));
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/Gave up downloading .* after 3 tries in a row without progress/);
    // Nothing arrived, so nothing is kept, and the message does not claim otherwise.
    expect(err.message).toMatch(new RegExp(`^Gave up downloading ${BIG.replace(/\./g, '\\.')} after 3 tries in a row without progress \\(127\\.0\\.0\\.1:\\d+: [^)]+\\)\\.$`));
    expect(err.partKept).toBe(false);
    expect(fixture.rangesFor(BIG)).toHaveLength(3);
    expect(existsSync(path.join(lib, BIG))).toBe(false);
    expect(existsSync(path.join(lib, `${BIG}.part`))).toBe(false);
  });

  it('refuses a corrupted download: no .zim, and the damaged part is deleted', async () => {
    fixture.faults.corruptByteAt = 1_234_567;
    const err = await failure(downloadZim(optsFor(BIG)));
    expect(err.code).toBe('hash-mismatch');
    expect(err.message).toMatch(/sha-256 does not match.*deleted\.$/);
    expect(err.message.startsWith(`${BIG} arrived complete but`)).toBe(true); // a sentence already: not wrapped again
    expect(err.message).not.toMatch(/kept/);
    expect(err.partKept).toBe(false);
    expect(fixture.rangesFor(BIG)).toHaveLength(1); // the only mirror sent these bytes: asking it again cannot help
    expect(libraryFiles()).toEqual([]);
  });

  it.each([
    ['a Content-Length that is too big', 'content-length', false, /announced \d+ bytes, but the file has \d+ bytes/],
    ['a Content-Length that is too big for a range', 'content-length', true, /announced \d+ bytes for the \d+ bytes from 1000/],
    ['a Content-Range total that disagrees', 'content-range', true, /says the file has \d+ bytes, but the file has/],
    ['more bytes than the file has', 'extra-bytes', false, /sent more than the \d+ bytes .* should have/],
    ['more bytes than the range has', 'extra-bytes', true, /sent more than the \d+ bytes .* should have/],
  ] as const)('refuses a server that lies about size (%s): clear error, nothing in the library', async (_what, lie, resuming, message) => {
    fixture.faults.lie = lie;
    // A part file makes the request a Range request (206 and Content-Range).
    if (resuming) writeFileSync(path.join(lib, `${BIG}.part`), bigBytes.subarray(0, 1000));
    const err = await failure(downloadZim(optsFor(BIG)));
    expect(err.code).toBe('size-mismatch');
    expect(err.message).toMatch(message);
    expect(existsSync(path.join(lib, BIG))).toBe(false);
    expect(libraryFiles().filter((f) => f.endsWith('.zim'))).toEqual([]);
  });

  it('starts over correctly when the server ignores Range', async () => {
    fixture.faults.ignoreRange = true;
    writeFileSync(path.join(lib, `${BIG}.part`), randomBytes(100_000)); // garbage: must not survive
    const result = await downloadZim(optsFor(BIG));
    expect(fixture.rangesFor(BIG)).toEqual(['bytes=100000-']);
    expect(result.attempts).toBe(1);
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('survives a node restart: a new call resumes from the part file, re-hashes it once, and verifies', async () => {
    fixture.faults.bytesPerSecond = 2 * 1024 * 1024;
    const stop = new AbortController();
    const first = await failure(
      downloadZim(
        optsFor(BIG, {
          signal: stop.signal,
          onProgress: (p) => {
            if (p.done >= 600_000) stop.abort();
          },
        }),
      ),
    );
    expect(first.code).toBe('aborted');
    expect(first.partKept).toBe(true);
    const kept = await partBytes(lib, BIG);
    expect(kept).toBeGreaterThanOrEqual(600_000);
    expect(kept).toBeLessThan(BIG_SIZE);
    expect(readFileSync(path.join(lib, `${BIG}.part`)).equals(bigBytes.subarray(0, kept))).toBe(true);

    delete fixture.faults.bytesPerSecond;
    fixture.requests.length = 0;
    const phases = new Set<string>();
    const result = await downloadZim(optsFor(BIG, { onProgress: (p) => phases.add(p.phase) }));
    expect(result.resumedFrom).toBe(kept);
    expect(fixture.rangesFor(BIG)).toEqual([`bytes=${kept}-`]);
    expect(phases).toEqual(new Set(['checking', 'downloading']));
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
    expect(libraryFiles()).toEqual([BIG]);
  });

  it('verifies a part file that is already complete without downloading again', async () => {
    writeFileSync(path.join(lib, `${BIG}.part`), bigBytes);
    const result = await downloadZim(optsFor(BIG));
    expect(result).toMatchObject({ resumedFrom: BIG_SIZE, attempts: 0 });
    expect(fixture.rangesFor(BIG)).toEqual([]);
  });

  it('re-hashes a long part file read by read, in order (else it would not verify), then downloads only the rest', async () => {
    const kept = 8 * 1024 * 1024 + 4321; // three reads: 4 MiB, 4 MiB, the odd rest
    writeFileSync(path.join(lib, `${LONG}.part`), longBytes.subarray(0, kept));
    const checked: number[] = [];
    const result = await downloadZim(optsFor(LONG, { onProgress: (p) => p.phase === 'checking' && checked.push(p.done) }));
    expect(result.resumedFrom).toBe(kept);
    expect(checked.length).toBeGreaterThan(0); // throttled to a few a second
    expect(checked.every((done) => done > 0 && done <= kept)).toBe(true);
    expect(fixture.rangesFor(LONG)).toEqual([`bytes=${kept}-`]);
    expect(readFileSync(result.path).equals(longBytes)).toBe(true);
  });

  it('cancel deletes the part file', async () => {
    fixture.faults.bytesPerSecond = 1024 * 1024;
    const stop = new AbortController();
    await failure(downloadZim(optsFor(BIG, { signal: stop.signal, onProgress: (p) => p.done > 100_000 && stop.abort() })));
    expect(await partBytes(lib, BIG)).toBeGreaterThan(0);
    expect(await cancelDownload(lib, BIG)).toBe(true);
    expect(libraryFiles()).toEqual([]);
    expect(await cancelDownload(lib, BIG)).toBe(false);
    await expect(cancelDownload(lib, '../x.zim')).rejects.toThrow(/file name/);
  });

  it('roughly honours the bandwidth limit, reports speed and time left, and a changed limit applies while running', async () => {
    // More than the socket buffers hold, so reads keep coming while the bucket paces them: several progress samples.
    const limit = 1024 * 1024;
    const progress: DownloadProgress[] = [];
    let t0 = performance.now();
    await downloadZim(optsFor(BIG, { bytesPerSecond: limit, onProgress: (p) => progress.push(p) }));
    const limited = (performance.now() - t0) / 1000;
    // 2 MiB at 1 MiB/s ≈ 2 s, less the quarter-second burst the bucket allows.
    expect(limited).toBeGreaterThan(1.2);
    expect(limited).toBeLessThan(8);
    const measured = progress.filter((p) => p.bytesPerSecond > 0 && p.done < p.total);
    expect(measured.length).toBeGreaterThan(0);
    for (const p of measured) {
      // Loose: the bucket's first burst and a busy machine bunching reads both skew a sample.
      expect(p.bytesPerSecond).toBeGreaterThan(limit / 8);
      expect(p.bytesPerSecond).toBeLessThan(limit * 8);
      expect(p.secondsLeft).toBeGreaterThanOrEqual(0);
    }
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(limited * 4) + 4); // at most 4 a second, plus the first and last

    // 2 MB at 64 KiB/s would take ~32 s; lifting the limit after the first 32 kB finishes at once.
    rmSync(path.join(lib, BIG));
    let rate = 64 * 1024;
    t0 = performance.now();
    await downloadZim(optsFor(BIG, { bytesPerSecond: () => rate, onProgress: (p) => void (p.done > 32 * 1024 && (rate = 0)) }));
    expect((performance.now() - t0) / 1000).toBeLessThan(5);
  });

  it('refuses to overwrite an existing file, and with replace keeps the old one until the new one is verified', async () => {
    const dest = path.join(lib, SMALL);
    writeFileSync(dest, 'old');
    const err = await failure(downloadZim(optsFor(SMALL)));
    expect(err.code).toBe('exists');
    expect(fixture.rangesFor(SMALL)).toEqual([]); // refused before any byte moved

    fixture.faults.bytesPerSecond = 1024 * 1024;
    let seenWhileDownloading = '';
    await downloadZim(optsFor(SMALL, { replace: true, onProgress: (p) => void (p.done > 0 && p.done < p.total && (seenWhileDownloading = readFileSync(dest, 'utf8'))) }));
    expect(seenWhileDownloading).toBe('old');
    expect(statSync(dest).size).toBe(SMALL_SIZE);
    expect(libraryFiles()).toEqual([SMALL]);
  });

  it.each(['chunked', 'close'] as const)('reads a %s-framed body (no Content-Length), and resumes one', async (framing) => {
    fixture.faults.framing = framing;
    fixture.faults.cutAfterBytes = 700_001;
    const result = await downloadZim(optsFor(BIG));
    expect(fixture.rangesFor(BIG)).toHaveLength(2);
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('follows a redirect to the mirror, keeping the Range header', async () => {
    writeFileSync(path.join(lib, `${BIG}.part`), bigBytes.subarray(0, 5000));
    const result = await downloadZim(optsFor(BIG, { urls: [`${fixture.url}/redirect/${BIG}`] }));
    expect(fixture.requests.filter((r) => r.path.endsWith(BIG)).map((r) => [r.path, r.range])).toEqual([
      [`/redirect/${BIG}`, 'bytes=5000-'],
      [`/zim/${BIG}`, 'bytes=5000-'],
    ]);
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('treats a connection that goes silent as cut, and resumes', async () => {
    fixture.faults.stallAfterBytes = 500_000;
    const result = await downloadZim(optsFor(BIG, { stallTimeoutMs: 300 }));
    const ranges = fixture.rangesFor(BIG);
    expect(ranges).toHaveLength(2);
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('pauses promptly even while held back by the bandwidth limit', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 150);
    const t0 = performance.now();
    const err = await failure(downloadZim(optsFor(BIG, { bytesPerSecond: 32 * 1024, signal: stop.signal })));
    expect(err.code).toBe('aborted');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('backs off and retries a mirror that is briefly unavailable (503)', async () => {
    fixture.faults.unavailableTimes = 2;
    const result = await downloadZim(optsFor(SMALL));
    expect(result.attempts).toBe(3);
    expect(statSync(result.path).size).toBe(SMALL_SIZE);
  });

  it('falls over to the next mirror when one refuses', async () => {
    const result = await downloadZim(optsFor(SMALL, { urls: [`${fixture.url}/zim/missing.zim`, fixture.fileUrl(SMALL)] }));
    expect(statSync(result.path).size).toBe(SMALL_SIZE);
  });

  it('says which mirrors failed when none works, in whole sentences, asking each only once', async () => {
    const host = new URL(fixture.url).host;
    const err = await failure(downloadZim(optsFor(SMALL, { urls: [`${fixture.url}/zim/missing.zim`] })));
    expect(err.code).toBe('http');
    expect(err.message).toBe(`Could not download ${SMALL}: ${host} answered HTTP 404 Not Found.`);
    expect(fixture.requests.filter((r) => r.path === '/zim/missing.zim')).toHaveLength(1);

    fixture.requests.length = 0;
    const both = await failure(downloadZim(optsFor(SMALL, { urls: [`${fixture.url}/zim/missing.zim`, `${fixture.url}/zim/gone.zim`] })));
    expect(both.message).toBe(`No mirror would send ${SMALL}: ${host} answered HTTP 404 Not Found; ${host} answered HTTP 404 Not Found.`);
    expect(fixture.requests).toHaveLength(2);
  });

  it('words a refusal after some bytes as sentences: the reason, then what is kept, only as much as is on disk', async () => {
    fixture.faults.lie = 'content-range';
    writeFileSync(path.join(lib, `${BIG}.part`), bigBytes.subarray(0, 1000));
    const err = await failure(downloadZim(optsFor(BIG)));
    expect(err.message).toMatch(new RegExp(`^Could not download ${BIG.replace(/\./g, '\\.')}: 127\\.0\\.0\\.1:\\d+ says the file has \\d+ bytes, but the file has ${BIG_SIZE} bytes\\. 1000 B of 2\\.0 MB are kept: resuming continues from there\\.$`));
    expect(err.partKept).toBe(true);
    expect(await partBytes(lib, BIG)).toBe(1000);
  });

  it('words a pause by what is kept: the bytes on disk, or that nothing was', async () => {
    const stop = new AbortController();
    stop.abort();
    const early = await failure(downloadZim(optsFor(BIG, { signal: stop.signal })));
    expect(early.message).toBe(`The download of ${BIG} was paused before any of it was kept.`);
    expect(existsSync(path.join(lib, `${BIG}.part`))).toBe(false);

    fixture.faults.bytesPerSecond = 1024 * 1024;
    const later = new AbortController();
    const paused = await failure(downloadZim(optsFor(BIG, { signal: later.signal, onProgress: (p) => p.done > 300_000 && later.abort() })));
    const kept = await partBytes(lib, BIG);
    expect(kept).toBeGreaterThan(300_000);
    expect(paused.message).toBe(`The download of ${BIG} was paused; the ${formatBytes(kept)} downloaded so far are kept to resume from.`);
  });

  it('refuses a second download of the same file at the same time', async () => {
    fixture.faults.bytesPerSecond = 1024 * 1024;
    const first = downloadZim(optsFor(SMALL));
    const err = await failure(downloadZim(optsFor(SMALL)));
    expect(err.code).toBe('busy');
    await first;
  });

  it.each(['../evil.zim', 'a/b.zim', 'x.zim/../../y.zim', 'notes.txt', '.hidden.zim'])('refuses the path trick %j before touching anything', async (fileName) => {
    const err = await failure(downloadZim(optsFor(SMALL, { fileName })));
    expect(err.code).toBe('invalid');
    expect(libraryFiles()).toEqual([]);
    expect(existsSync(path.join(lib, '..', 'evil.zim'))).toBe(false);
  });

  it('refuses a missing library folder and bad Metalink values', async () => {
    expect((await failure(downloadZim(optsFor(SMALL, { dir: path.join(lib, 'nope') })))).code).toBe('missing-dir');
    expect((await failure(downloadZim(optsFor(SMALL, { sha256: 'abc' })))).code).toBe('invalid');
    expect((await failure(downloadZim(optsFor(SMALL, { size: 0 })))).code).toBe('invalid');
    expect((await failure(downloadZim(optsFor(SMALL, { urls: ['file:///etc/passwd'] })))).code).toBe('invalid');
  });

  it('keeps a margin of free disk: max(64 MiB, 2 %)', () => {
    expect(freeSpaceMargin(1024)).toBe(64 * 1024 * 1024);
    expect(freeSpaceMargin(100 * 1024 ** 3)).toBe(Math.ceil(100 * 1024 ** 3 * 0.02));
  });
});

describe('slow and stalled mirrors', () => {
  /** Short for the test; the node's default is 1 KB/s over 60 s. */
  const floor = { minBytesPerSecond: 1024, windowMs: 3000 };
  let slow: KiwixFixture;

  beforeAll(async () => {
    slow = await startKiwixFixture({ books: [{ name: BIG, path: path.join(work, BIG) }], faults: { trickleEveryMs: 100 } });
  });
  afterAll(async () => {
    await slow?.close();
  });
  beforeEach(() => {
    slow.requests.length = 0;
  });

  it('fails a mirror that sends one byte every 100 ms once the floor window is over, saying it stalled and what is kept', async () => {
    const t0 = performance.now();
    const err = await failure(downloadZim(optsFor(BIG, { urls: [slow.fileUrl(BIG)], floor })));
    const seconds = (performance.now() - t0) / 1000;
    expect(err.code).toBe('network');
    const m = new RegExp(
      `^Could not download ${BIG.replace(/\./g, '\\.')}: 127\\.0\\.0\\.1:\\d+ stalled: it sent only (\\d+) B in the last 3\\.\\d s, below the minimum of 1 KB/s\\. (\\d+) B of 2\\.0 MB are kept: resuming continues from there\\.$`,
    ).exec(err.message);
    expect(m, err.message).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0); // it was never silent: only the floor could catch it
    expect(Number(m![2])).toBe(await partBytes(lib, BIG));
    expect(err.partKept).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(2.9);
    expect(seconds).toBeLessThan(3 + 1.5); // the window, a tick, and a busy machine
    expect(slow.rangesFor(BIG)).toHaveLength(1); // too slow is not retried on the same mirror
  });

  it('moves on from the trickling mirror to the next one in the Metalink, and resumes there', async () => {
    const t0 = performance.now();
    const result = await downloadZim(optsFor(BIG, { urls: [slow.fileUrl(BIG), fixture.fileUrl(BIG)], floor }));
    expect((performance.now() - t0) / 1000).toBeLessThan(3 + 2.5);
    expect(slow.rangesFor(BIG)).toEqual([undefined]);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(fixture.rangesFor(BIG)[0] ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0); // what the slow mirror sent is kept, not fetched again
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('a bandwidth limit of our own below the floor does not count against the mirror', async () => {
    // 512 B/s of our own over a 1 KB/s floor: the download is slow because we ask it to be, and must go on.
    fixture.faults.bytesPerSecond = 64 * 1024;
    const stop = new AbortController();
    const progress: DownloadProgress[] = [];
    const run = downloadZim(optsFor(SMALL, { floor, bytesPerSecond: 512, signal: stop.signal, onProgress: (p) => progress.push(p) }));
    const outcome = run.then(
      () => undefined,
      (err: ZimDownloadError) => err,
    );
    await new Promise((r) => setTimeout(r, 4500));
    stop.abort();
    const err = await outcome;
    expect(err?.message).toMatch(/was paused/);
    expect(progress.at(-1)!.done).toBeGreaterThan(0);
  });

  it('shows what is on disk during a stall: progress goes on by the clock, and the bytes received are written', async () => {
    fixture.faults.stallAfterBytes = 1_000_000; // inside the first 2 MiB block: before, it sat in memory until the cut
    const progress: DownloadProgress[] = [];
    const stop = new AbortController();
    const run = downloadZim(optsFor(BIG, { stallTimeoutMs: 30_000, signal: stop.signal, onProgress: (p) => progress.push({ ...p }) }));
    const until = Date.now() + 5000;
    while (Date.now() < until && (await partBytes(lib, BIG)) < 1_000_000) await new Promise((r) => setTimeout(r, 50));
    expect(await partBytes(lib, BIG)).toBe(1_000_000);
    const seen = progress.length;
    // No byte arrives meanwhile; the 250 ms ticker reports anyway (given up to 5 s on a loaded machine).
    const reportsBy = Date.now() + 5000;
    while (Date.now() < reportsBy && progress.length - seen < 3) await new Promise((r) => setTimeout(r, 50));
    const during = progress.slice(seen);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.every((p) => p.done === 1_000_000 && p.phase === 'downloading')).toBe(true);
    expect(progress.at(-1)!.bytesPerSecond).toBeLessThan(progress.filter((p) => p.bytesPerSecond > 0)[0]?.bytesPerSecond ?? Infinity); // slowing towards 0
    stop.abort();
    const err = await failure(run);
    expect(err.message).toBe(`The download of ${BIG} was paused; the ${formatBytes(1_000_000)} downloaded so far are kept to resume from.`);
    expect(readFileSync(path.join(lib, `${BIG}.part`)).equals(bigBytes.subarray(0, 1_000_000))).toBe(true);
  });
});

describe('a mirror that sends a damaged copy', () => {
  let bad: KiwixFixture;

  beforeAll(async () => {
    bad = await startKiwixFixture({ books: [{ name: BIG, path: path.join(work, BIG) }], faults: { corruptByteAt: 1_234_567 } });
  });
  afterAll(async () => {
    await bad?.close();
  });
  beforeEach(() => {
    bad.requests.length = 0;
  });

  it('starts over from a mirror that sent none of the damaged bytes, and verifies', async () => {
    const result = await downloadZim(optsFor(BIG, { urls: [bad.fileUrl(BIG), fixture.fileUrl(BIG)] }));
    expect(bad.rangesFor(BIG)).toEqual([undefined]);
    expect(fixture.rangesFor(BIG)).toEqual([undefined]); // from byte 0: nothing of the damaged copy is kept
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });

  it('fails once every mirror has sent a damaged copy, asking each only once', async () => {
    fixture.faults.corruptByteAt = 99;
    const err = await failure(downloadZim(optsFor(BIG, { urls: [bad.fileUrl(BIG), fixture.fileUrl(BIG)] })));
    expect(err.code).toBe('hash-mismatch');
    expect(err.message).toMatch(new RegExp(`^${BIG.replace(/\./g, '\\.')} arrived complete 2 times \\(the last from another mirror\\) but its sha-256 never matched the catalogue's \\(got [0-9a-f]{12}…, expected [0-9a-f]{12}…\\); the damaged download was deleted\\.$`));
    expect(err.partKept).toBe(false);
    expect([bad.rangesFor(BIG), fixture.rangesFor(BIG)]).toEqual([[undefined], [undefined]]);
    expect(libraryFiles()).toEqual([]);
  });
});

describe('Metalink and catalogue reads: a deadline and a floor', () => {
  const floor = { minBytesPerSecond: 1024, windowMs: 2000 };

  it('cuts a Metalink server that trickles at the floor, saying so', async () => {
    fixture.faults.trickleMeta4EveryMs = 100;
    const t0 = performance.now();
    const err = await fetchMeta4(fixture.meta4Url(SMALL), { floor, timeoutMs: 30_000 }).catch((e: Error) => e);
    const seconds = (performance.now() - t0) / 1000;
    expect(err).toBeInstanceOf(CatalogueError);
    expect((err as Error).message).toMatch(/^The Metalink file at 127\.0\.0\.1:\d+ could not be read: it sent only \d+ B in the last 2\.\d s, below the minimum of 1 KB\/s\.$/);
    expect(((err as Error).cause as RemoteReadError).retryable).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(1.9);
    expect(seconds).toBeLessThan(2 + 1.5);
  });

  it('keeps its deadline over the body too, with no floor', async () => {
    fixture.faults.trickleMeta4EveryMs = 100;
    const t0 = performance.now();
    await expect(fetchMeta4(fixture.meta4Url(SMALL), { floor: { minBytesPerSecond: 0, windowMs: 1000 }, timeoutMs: 2000 })).rejects.toThrow(/could not be read: no answer within 2 s\.$/);
    expect((performance.now() - t0) / 1000).toBeLessThan(3.5);
  });

  it('tells a refusal that cannot get better (404, no hash) from one that might (503)', async () => {
    fixture.faults.meta4Status = 404;
    const gone = await fetchMeta4(fixture.meta4Url(SMALL)).catch((e: Error) => e);
    expect((gone as Error).message).toMatch(/could not be read: it answered HTTP 404 Not Found\.$/);
    expect(((gone as Error).cause as RemoteReadError).retryable).toBe(false);
    fixture.faults.meta4Status = 503;
    const busy = await fetchMeta4(fixture.meta4Url(SMALL)).catch((e: Error) => e);
    expect(((busy as Error).cause as RemoteReadError).retryable).toBe(true);
    fixture.faults.meta4Status = 429;
    expect((((await fetchMeta4(fixture.meta4Url(SMALL)).catch((e: Error) => e)) as Error).cause as RemoteReadError).retryable).toBe(true);
  });
});

describe('disk full', () => {
  let disk: string;
  let mounted = false;

  beforeAll(() => {
    disk = mkdtempSync(path.join(work, 'disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0755', 'tmpfs', disk], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      // Without the 4 MB disk the resume-after-room checks cannot run: CI must have it; elsewhere /dev/full stands in.
      available('the disk-full resume checks on a 4 MB tmpfs', `cannot mount a tmpfs (${String((err as Error).message).split('\n')[0]})`, 'run the tests as root, as CI does');
      console.warn('disk-full tests: using /dev/full and a huge margin instead');
    }
  });

  afterAll(() => {
    if (mounted) execFileSync('umount', [disk]);
  });

  it('refuses up front when the disk cannot hold the rest of the file plus the margin', async () => {
    const dir = mkdtempSync(path.join(disk, 'lib-'));
    // On the 4 MB tmpfs the real default margin (64 MiB) cannot fit; without one, ask for an impossible margin.
    const err = await failure(downloadZim(optsFor(BIG, { dir, minFreeBytes: mounted ? undefined : Number.MAX_SAFE_INTEGER / 2 })));
    expect(err.code).toBe('no-space');
    expect(err.message).toMatch(/Not enough free disk for .*: it needs 2\.0 MB more plus .* to spare/);
    expect(fixture.rangesFor(BIG)).toEqual([]);
    expect(libraryFiles(dir)).toEqual([]);
    rmSync(dir, { recursive: true });
  });

  it('fails clearly when the disk fills mid-download, keeps the part, publishes nothing, and resumes once there is room', async () => {
    const dir = mkdtempSync(path.join(disk, 'lib-'));
    const filler = path.join(disk, 'filler');
    let filled = false;
    if (!mounted) symlinkSync('/dev/full', path.join(dir, `${BIG}.part`)); // every write fails with ENOSPC
    // The disk passes the up-front check (4 MB free, 2 MB needed), then something else takes most of it.
    const fill = (p: DownloadProgress) => {
      if (!mounted || filled || p.done === 0) return;
      filled = true;
      const free = Number(execFileSync('df', ['--output=avail', '-B1', disk], { encoding: 'utf8' }).split('\n')[1]);
      writeFileSync(filler, Buffer.alloc(Math.max(0, free - 1024 * 1024)));
    };
    const err = await failure(downloadZim(optsFor(BIG, { dir, onProgress: fill })));
    expect(err.code).toBe('disk-full');
    expect(err.message).toMatch(/disk is full/);
    expect(existsSync(path.join(dir, BIG))).toBe(false);
    if (!mounted) return;

    expect(err.partKept).toBe(true);
    const kept = await partBytes(dir, BIG);
    expect(kept).toBeGreaterThan(0);
    expect(readFileSync(path.join(dir, `${BIG}.part`)).equals(bigBytes.subarray(0, kept))).toBe(true);

    rmSync(filler);
    fixture.requests.length = 0;
    const result = await downloadZim(optsFor(BIG, { dir }));
    expect(result.resumedFrom).toBe(kept);
    expect(fixture.rangesFor(BIG)).toEqual([`bytes=${kept}-`]);
    expect(readFileSync(result.path).equals(bigBytes)).toBe(true);
  });
});

describe('https mirrors', () => {
  let tlsFixture: KiwixFixture | undefined;
  let cert = '';

  beforeAll(async () => {
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(work, 'key.pem'), '-out', path.join(work, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    } catch (err) {
      // Fails in CI; elsewhere the two tests below skip, saying so.
      available('https mirror tests', `openssl could not make a certificate (${String((err as Error).message).split('\n')[0]})`, 'apt-get install openssl');
      return;
    }
    cert = readFileSync(path.join(work, 'cert.pem'), 'utf8');
    tlsFixture = await startKiwixFixture({
      books: [{ name: SMALL, path: path.join(work, SMALL) }],
      tls: { key: readFileSync(path.join(work, 'key.pem'), 'utf8'), cert },
    });
  });

  afterAll(async () => {
    await tlsFixture?.close();
  });

  it('downloads over TLS from a mirror whose CA it is given, and resumes there', async (ctx) => {
    if (!tlsFixture) return ctx.skip();
    tlsFixture.faults.cutAfterBytes = 100_001;
    const result = await downloadZim({ ...optsFor(SMALL), urls: [tlsFixture.fileUrl(SMALL)], ca: cert });
    expect(tlsFixture.rangesFor(SMALL)).toHaveLength(2);
    expect(statSync(result.path).size).toBe(SMALL_SIZE);
  });

  it('refuses a mirror whose certificate it cannot trust, without retrying', async (ctx) => {
    if (!tlsFixture) return ctx.skip();
    const err = await failure(downloadZim({ ...optsFor(SMALL), urls: [tlsFixture.fileUrl(SMALL)] }));
    expect(err.code).toBe('http');
    expect(err.message).toMatch(/TLS certificate is not trusted/);
    expect(libraryFiles()).toEqual([]);
  });
});
