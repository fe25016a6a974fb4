// A ZIM download survives the node being killed (kill -9) mid-way: the restarted node goes on by itself, from the
// part file (re-hashed once), with a Range request for exactly the bytes it lacks, and verifies the whole file.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginOverHttp, postForm } from '../support/http-login.ts';
import { startKiwixFixture, type KiwixFixture } from '../support/kiwix-fixture-server.ts';
import { within } from '../support/poll.ts';
import { startNode, type NodeProcess } from '../support/server.ts';

vi.setConfig({ testTimeout: 120_000 });
const BIG = 'lores_restart_2024-01.zim';
const DOMAIN = 'kiwix.restart.lores.test';
const STACK = 'kiwix_restart_lores_test';
const PASSWORD = 'restart test admin password';

describe('a ZIM download across a node restart', () => {
  let work: string;
  let zimRoot: string;
  let zimDir: string;
  let dataDir: string;
  let fixture: KiwixFixture;
  let node: NodeProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-zimrestart-'));
    writeFileSync(path.join(work, BIG), randomBytes(6 * 1024 * 1024));
    fixture = await startKiwixFixture({ books: [{ name: BIG, path: path.join(work, BIG), title: 'Restart test', bookName: 'lores_restart', language: 'eng' }] });
    zimRoot = path.join(work, 'zims');
    zimDir = path.join(zimRoot, 'kiwix');
    mkdirSync(zimDir, { recursive: true });
    dataDir = path.join(work, 'data');
    // A Kiwix app as abra leaves it after `app new` (not deployed: no Kiwix runs, which the job says and accepts).
    const servers = path.join(dataDir, 'abra', 'servers', 'default');
    mkdirSync(servers, { recursive: true });
    writeFileSync(path.join(servers, `${DOMAIN}.env`), `TYPE=kiwix:1.0.0+3.8.2\nDOMAIN=${DOMAIN}\nZIM_FILES_PATH=${zimDir}\n`);
    writeFileSync(path.join(work, 'password'), PASSWORD);
    env = { ZIM_ROOT: zimRoot, KIWIX_CATALOGUE_URL: fixture.url, ABRA_BIN: '/bin/false', LOG_LEVEL: 'info' };
  });

  afterAll(async () => {
    await node?.kill('SIGKILL');
    await fixture?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('goes on by itself after kill -9, asking only for the missing bytes, and verifies', async () => {
    node = await startNode({ dataDir, adminPasswordFile: path.join(work, 'password'), env });
    const auth = await loginOverHttp(node.url, 'admin', PASSWORD);
    const page = await (await fetch(`${node.url}/apps/${STACK}/zims?q=restart`, { headers: { cookie: auth.cookie } })).text();
    const entry = /name="id" value="([^"]+)"/.exec(page)?.[1];
    expect(entry, page.slice(0, 2000)).toBeTruthy();
    // Slow enough to be cut off part-way (the downloader writes in 2 MiB blocks).
    fixture.faults.bytesPerSecond = 1024 * 1024;
    const res = await postForm(node.url, `/apps/${STACK}/zims/download`, auth, { id: entry!, q: 'restart' });
    expect(res.status).toBe(303);
    const part = path.join(zimDir, `${BIG}.part`);
    await within('2 MiB on disk', 30_000, () => existsSync(part) && statSync(part).size >= 2 * 1024 * 1024);
    await node.kill('SIGKILL');
    const kept = statSync(part).size;
    expect(kept).toBeLessThan(6 * 1024 * 1024);
    fixture.requests.length = 0;
    fixture.faults.bytesPerSecond = undefined;

    node = await startNode({ dataDir, adminPasswordFile: path.join(work, 'password'), env });
    await within('the download finishes after the restart', 60_000, () => existsSync(path.join(zimDir, BIG)));
    expect(existsSync(part)).toBe(false);
    expect(fixture.rangesFor(BIG)).toEqual([`bytes=${kept}-`]);
    expect(readFileSync(path.join(zimDir, BIG)).equals(readFileSync(path.join(work, BIG)))).toBe(true);
    expect((statSync(path.join(zimDir, BIG)).mode & 0o777).toString(8)).toBe('644');
    expect(node.output()).toContain('ZIM downloads cut off by the last stop go on');
    // The job history tells the story: the first one interrupted, the second one verified.
    const auth2 = await loginOverHttp(node.url, 'admin', PASSWORD);
    const jobs = await (await fetch(`${node.url}/jobs`, { headers: { cookie: auth2.cookie } })).text();
    expect(jobs.match(/zim-download/g)?.length).toBeGreaterThanOrEqual(2);
  });
});
