// Neighbours as ZIM mirrors: C copies a verified ZIM file from B over HTTP with the node's own resumable, verified
// downloader; the connection is cut halfway and the copy resumes; a tampered file on B, or a Metalink whose hash is
// not the one C kept from the book's original catalogue entry, is caught and nothing is published.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn } from '../support/app.ts';
import { within } from '../support/poll.ts';
import { close, listen, pair, regionNode, type Running } from '../support/region.ts';

const BOOK = 'wikipedia_en_region_maxi_2026-02.zim';
const TAMPERED = 'wikipedia_en_tampered_mini_2026-02.zim';
const OTHER = 'wikipedia_en_swapped_mini_2026-02.zim';
// Large enough that most of it is not yet in the sockets' kernel buffers when the connection is cut.
const SIZE = 32 * 1024 * 1024 + 321;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ZIM files from a neighbour', () => {
  let B: Running, C: Running;
  const book = randomBytes(SIZE);
  const tampered = randomBytes(300_000);
  const swapped = randomBytes(200_000);
  let cDir: string;

  beforeAll(async () => {
    B = await regionNode('bravo', [{ domain: 'kiwix.bravo.test', recipe: 'kiwix', zims: [
      { file: BOOK, bytes: book, sha256: sha(book) },
      // B keeps the original hash, but the bytes on its disk were changed since (same size).
      { file: TAMPERED, bytes: tampered, sha256: sha(randomBytes(300_000)) },
      { file: OTHER, bytes: swapped, sha256: sha(swapped) },
    ] }]);
    // A file put there by hand: no Metalink hash kept, so B does not offer it.
    writeFileSync(path.join(B.base, 'zims', 'kiwix.bravo.test', 'unverified_en_all_2026-01.zim'), randomBytes(1000));
    C = await regionNode('charlie', [{ domain: 'kiwix.charlie.test', recipe: 'kiwix' }]);
    cDir = path.join(C.base, 'zims', 'kiwix.charlie.test');
    await Promise.all([B, C].map(listen));
    await pair(B, C);
    // 8 MB/s: the copy takes about four seconds, long enough to cut it on the way.
    C.node.services.settings.setDownloadLimit(8192, 'test');
  });
  afterAll(async () => {
    for (const r of [B, C]) {
      await close(r);
      r.node.close();
      rmSync(r.base, { recursive: true, force: true });
    }
  });

  async function copy(fileName: string): Promise<number> {
    const { agent, csrf } = await loggedIn(C.node);
    const peer = C.node.services.store.region.peers()[0]!.id;
    const page = await agent.get('/apps/kiwix_charlie_test/zims/neighbours').expect(200);
    expect(page.text).toContain(`data-zim="${fileName}"`);
    const res = await agent.post('/apps/kiwix_charlie_test/zims/from-neighbour').type('form').send({ _csrf: csrf, peer, fileName });
    expect(res.status, res.text.slice(0, 500)).toBe(303);
    return Number(/\/jobs\/(\d+)/.exec(res.headers.location!)![1]);
  }
  const output = (id: number) => C.node.services.store.jobs.output(id).map((l) => l.line).join('\n');

  it('offers only verified files, and copies one over a connection cut on the way: it resumes and verifies', async () => {
    const jobId = await copy(BOOK);
    const { agent } = await loggedIn(C.node);
    expect((await agent.get('/apps/kiwix_charlie_test/zims/neighbours').expect(200)).text).not.toContain('unverified_en_all_2026-01');
    const part = path.join(cDir, `${BOOK}.part`);
    await within('half the file on C', 30_000, () => existsSync(part) && statSync(part).size > SIZE / 4);
    await close(B); // the cable is pulled
    await new Promise((r) => setTimeout(r, 500));
    const cutAt = statSync(part).size;
    expect(cutAt).toBeLessThan(SIZE);
    await listen(B); // and plugged back in: the downloader's retry picks up with a Range request
    const job = await C.node.services.jobs.finished(jobId);
    expect(job.state, output(jobId)).toBe('succeeded');
    expect(sha(readFileSync(path.join(cDir, BOOK)))).toBe(sha(book));
    expect(output(jobId)).toMatch(/after [2-9] request\(s\)/);
    // C keeps the hash: it can serve the book to its own neighbours now.
    expect(C.node.services.store.region.keptHash(BOOK)?.sha256).toBe(sha(book));
  });

  it('a tampered file on the neighbour is caught by the hash: nothing is published', async () => {
    const jobId = await copy(TAMPERED);
    const job = await C.node.services.jobs.finished(jobId);
    expect(job.state).toBe('failed');
    expect(job.error ?? output(jobId)).toMatch(/sha-256 does not match/);
    expect(readdirSync(cDir).filter((f) => f.startsWith(TAMPERED))).toEqual([]);
  });

  it('a neighbour whose Metalink gives another hash than the one C kept from the original catalogue is refused before a byte is copied', async () => {
    // C once read the book's Metalink from library.kiwix.org and kept its hash; B's copy is a different file.
    C.node.services.store.region.keepHash({ fileName: OTHER, sha256: sha(randomBytes(16)), size: swapped.length, source: 'https://download.kiwix.org/zim/x.meta4', keptAt: Date.now() });
    const jobId = await copy(OTHER);
    const job = await C.node.services.jobs.finished(jobId);
    expect(job.state).toBe('failed');
    expect(job.error ?? output(jobId)).toMatch(/original catalogue entry/);
    expect(readdirSync(cDir).filter((f) => f.startsWith(OTHER))).toEqual([]);
  });

  it('a node that is not paired gets no file, even with a grant it signed itself', async () => {
    const url = `${B.url}/region/peer/zims/${BOOK}?node=${'0'.repeat(20)}&exp=${Date.now() + 60_000}&sig=AAAA`;
    expect((await fetch(url)).status).toBe(403);
  });
});
