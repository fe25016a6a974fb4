// Disk full, as a steward meets it: a Kiwix app whose ZIM folder is a small real file system (tmpfs). The download
// job fails with one clear sentence, nothing reaches the library, and the folder is left as it was.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { startKiwixFixture, type KiwixFixture } from '../support/kiwix-fixture-server.ts';

const BIG = 'lores_disk_2024-01.zim';
const DOMAIN = 'kiwix.disk.lores.test';
const STACK = 'kiwix_disk_lores_test';

describe('a ZIM download onto a full disk', () => {
  let work: string;
  let zimDir: string;
  let fixture: KiwixFixture;
  let node: TestNode;
  let cookie: string;
  let csrf: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-zimdisk-'));
    writeFileSync(path.join(work, BIG), randomBytes(3 * 1024 * 1024));
    fixture = await startKiwixFixture({ books: [{ name: BIG, path: path.join(work, BIG), title: 'Disk test', bookName: 'lores_disk', language: 'eng' }] });
    const zimRoot = path.join(work, 'zims');
    zimDir = path.join(zimRoot, 'kiwix');
    mkdirSync(zimDir, { recursive: true });
    // A 1 MiB file system: the 3 MiB download cannot fit (we run as root, as CI does).
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', zimDir]);
    const abraDir = path.join(work, 'abra');
    mkdirSync(path.join(abraDir, 'servers', 'default'), { recursive: true });
    writeFileSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`), `TYPE=kiwix:1.0.0+3.8.2\nDOMAIN=${DOMAIN}\nZIM_FILES_PATH=${zimDir}\n`);
    node = await testNode({ ABRA_DIR: abraDir, ZIM_ROOT: zimRoot, KIWIX_CATALOGUE_URL: fixture.url });
    const steward = await addUser(node, 'dee', 'steward');
    const s = node.services.sessions.start((await node.services.people.authenticate(steward.username, steward.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookie = `lores_session=${s.token}`;
    csrf = s.session.csrfToken;
  });

  afterAll(async () => {
    node?.close();
    await fixture?.close();
    await execa('umount', [zimDir], { reject: false });
    rmSync(work, { recursive: true, force: true });
  });

  it('fails the job clearly before writing, and leaves nothing in the library', async () => {
    const page = await supertest(node.app).get(`/apps/${STACK}/zims?q=disk`).set('Cookie', cookie).expect(200);
    const id = /name="id" value="([^"]+)"/.exec(page.text)![1]!;
    const res = await supertest(node.app).post(`/apps/${STACK}/zims/download`).set('Cookie', cookie).type('form').send({ _csrf: csrf, id, q: 'disk' }).expect(303);
    const job = await node.services.jobs.finished(Number(res.headers.location!.split('/').pop()));
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/^Not enough free disk for lores_disk_2024-01\.zim: it needs 3\.0 MB more plus .* to spare, and .* is free\./);
    expect(readdirSync(zimDir)).toEqual([]);
    expect(fixture.rangesFor(BIG)).toEqual([]); // refused before asking for a byte
  });
});
