// kill -9 of the node in the middle of a backup (restic running, its lock taken): restic dies with it, the next node
// marks the job interrupted and releases the stale lock, `restic check` passes and the next backup works.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dataDirOf, deployBackupApp, removeBackupApp, resticCli } from '../support/backup-app.ts';
import { loginOverHttp, postForm } from '../support/http-login.ts';
import { within } from '../support/poll.ts';
import { haveDocker } from '../support/requirements.ts';
import { startNode, type NodeProcess } from '../support/server.ts';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });
const dockerThere = await haveDocker();
const STACK = `br${randomBytes(3).toString('hex')}`;
const PASSWORD = 'restart test password';

/** Processes whose environment names this repository (restic runs the node started). */
function resticProcessesFor(repository: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`RESTIC_REPOSITORY=${repository}`)) pids.push(Number(pid));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

describe.skipIf(!dockerThere)('a backup cut by kill -9 of the node', () => {
  let work: string;
  let repository: string;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'backup-restart-'));
    repository = path.join(work, 'repo');
    writeFileSync(path.join(work, 'admin-password'), `${PASSWORD}\n`, { mode: 0o600 });
    await deployBackupApp(STACK);
    await within('the test app runs', 60_000, async () => (await execa('docker', ['ps', '-q', '-f', `label=com.docker.stack.namespace=${STACK}`])).stdout.trim() !== '');
    writeFileSync(path.join(dataDirOf(STACK, 'db'), 'data.txt'), 'rows\n');
    // Enough that restic is still at it when the node is killed (about 400 MB of incompressible data).
    await execa('dd', ['if=/dev/urandom', `of=${path.join(dataDirOf(STACK, 'db'), 'big.bin')}`, 'bs=1M', 'count=400', 'status=none']);
  });

  afterAll(async () => {
    for (const n of nodes) await n.kill('SIGKILL');
    await removeBackupApp(STACK);
    rmSync(work, { recursive: true, force: true });
  });

  it('ends interrupted; restic died with the node; its lock is released; check passes; the next backup works', async () => {
    const first = await startNode({ adminPasswordFile: path.join(work, 'admin-password') });
    nodes.push(first);
    const auth = await loginOverHttp(first.url, 'admin', PASSWORD);
    expect((await postForm(first.url, '/settings/backups', auth, { repository })).status).toBe(200);
    // Deployed from elsewhere, so read-only until the admin adopts it (once the node's live model shows it running).
    await within('the admin adopts the test app', 30_000, async () => (await postForm(first.url, `/apps/${STACK}/adopt`, auth, {})).status === 303);
    const started = await postForm(first.url, `/apps/${STACK}/backups`, auth, {});
    expect(started.status).toBe(303);
    const jobPath = started.headers.get('location')!;
    const page = (n: NodeProcess, a: typeof auth) => fetch(`${n.url}${jobPath}`, { headers: { cookie: a.cookie } }).then((r) => r.text());
    await within('restic reports progress', 60_000, async () => /data-phase>Backing up: \d+ %/.test(await page(first, auth)), { detail: () => first.output().slice(-2000) });
    expect(resticProcessesFor(repository).length).toBeGreaterThan(0);

    await first.kill('SIGKILL');
    await within('restic died with the node', 10_000, () => resticProcessesFor(repository).length === 0);
    const cli = resticCli(repository, path.join(first.dataDir, 'secrets', 'restic-password'));
    expect((await cli.run(['list', 'locks'])).stdout.trim()).not.toBe(''); // the dead run's lock is still there

    const second = await startNode({ dataDir: first.dataDir, adminPasswordFile: path.join(work, 'admin-password') });
    nodes.push(second);
    const auth2 = await loginOverHttp(second.url, 'admin', PASSWORD);
    expect(await page(second, auth2)).toContain('data-state="interrupted"');
    await within('the node released the stale lock', 30_000, () => second.output().includes('released restic locks'), { detail: () => second.output().slice(-2000) });
    expect((await cli.run(['list', 'locks'])).stdout.trim()).toBe('');
    const check = await cli.run(['check']);
    expect(check.exitCode, check.stderr).toBe(0);

    const next = await postForm(second.url, `/apps/${STACK}/backups`, auth2, {});
    expect(next.status).toBe(303);
    const nextPath = next.headers.get('location')!;
    await within('the next backup succeeds', 180_000, async () => {
      const html = await fetch(`${second.url}${nextPath}`, { headers: { cookie: auth2.cookie } }).then((r) => r.text());
      if (html.includes('data-state="failed"')) throw new Error(html.slice(html.indexOf('<h2>Output'), html.indexOf('<h2>Output') + 2000));
      return html.includes('data-state="succeeded"');
    });
    expect((await cli.run(['snapshots', '--json'])).stdout).toContain(`lores-app=${STACK}`);
  });
});
