// Backups on the real swarm with a real restic: the labels decide what a snapshot holds (and the pre-hook's dump is
// in it), progress shows on the job, and a restore brings the data back byte for byte with the app running after.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { csrfFrom, loggedIn, type TestNode } from '../support/app.ts';
import { backupTestbed, dataDirOf, resticCli, treeOf, VOLUMES_DIR, type BackupTestbed } from '../support/backup-app.ts';
import { haveDocker } from '../support/requirements.ts';
import { runningContainers } from '../../app/adapters/docker/stack-mounts.ts';
import { backupScheduler } from '../../app/services/backups/schedule.ts';
import { createLogger } from '../../app/log.ts';
import { noteBeside, shownValue } from '../support/forms.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });
const dockerThere = await haveDocker();
const STACK = `bk${randomBytes(3).toString('hex')}`;
const actor = { name: 'admin', ip: null };

describe.skipIf(!dockerThere)('backups of an app, as its backup-bot-two labels say, with restic', () => {
  let bed: BackupTestbed;
  let node: TestNode;
  let work: string;
  let repository: string;
  const output = (jobId: number) => node.services.store.jobs.output(jobId).map((l) => l.line).join('\n');
  const finished = async (jobId: number) => {
    const row = await node.services.jobs.finished(jobId);
    return { row, out: output(jobId) };
  };

  beforeAll(async () => {
    bed = await backupTestbed(STACK);
    ({ node, work, repository } = bed);
    // Data in all three volumes, as the app would have written it.
    const db = dataDirOf(STACK, 'db');
    const files = dataDirOf(STACK, 'files');
    const cache = dataDirOf(STACK, 'cache');
    writeFileSync(path.join(db, 'data.txt'), 'rows of a database\n');
    writeFileSync(path.join(db, 'blob.bin'), randomBytes(1_500_000));
    mkdirSync(path.join(files, 'keep', 'sub'), { recursive: true });
    writeFileSync(path.join(files, 'keep', 'a.bin'), randomBytes(300_000));
    writeFileSync(path.join(files, 'keep', 'sub', 'b.txt'), 'b');
    chmodSync(path.join(files, 'keep', 'sub', 'b.txt'), 0o640);
    symlinkSync('sub/b.txt', path.join(files, 'keep', 'link'));
    mkdirSync(path.join(files, 'skip'));
    writeFileSync(path.join(files, 'skip', 'c.txt'), 'not backed up');
    writeFileSync(path.join(cache, 'junk'), 'left out');
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('reads the labels from the live swarm', async () => {
    const plan = await node.services.backups.planOf(STACK);
    expect(plan).toMatchObject({ service: `${STACK}_app`, preHook: 'cat /db/data.txt > /db/dump.sql', excluded: ['cache'] });
    expect(plan!.volumes).toEqual([
      { name: 'db', dockerName: `${STACK}_db`, paths: [] },
      { name: 'files', dockerName: `${STACK}_files`, paths: ['keep'] },
    ]);
  });

  it('refuses to back up before a repository is set up, and sets one up with a generated password shown once', async () => {
    expect(() => node.services.backups.backUp(STACK, actor)).toThrow(/No backup repository is set up/);
    const { agent, csrf } = await loggedIn(node);
    const settings = await agent.get('/settings').expect(200);
    expect(settings.text).toContain('restic repository');
    const res = await agent.post('/settings/backups').type('form').send({ _csrf: csrf, repository }).expect(200);
    const password = /data-password>([^<]+)</.exec(res.text)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(res.headers['cache-control']).toContain('no-store');
    // Kept as a file only the node reads, never in SQLite or the audit log.
    expect(node.services.backupRepo.hasPassword()).toBe(true);
    const audit = JSON.stringify(node.services.store.audit.page({ limit: 50 }));
    expect(audit).toContain('backup.repository');
    expect(audit).not.toContain(password);
    expect((await resticCli(repository, node.services.backupRepo.passwordFile).run(['cat', 'config'])).exitCode).toBe(0);
  });

  let first: string;
  it('backs up exactly what the labels say, with the pre-hook’s dump, with progress on the job', async () => {
    const { agent, csrf } = await loggedIn(node);
    const res = await agent.post(`/apps/${STACK}/backups`).type('form').send({ _csrf: csrf }).expect(303);
    const jobId = Number(/\/jobs\/(\d+)/.exec(res.headers.location!)![1]);
    const { row, out } = await finished(jobId);
    expect(row.state, out).toBe('succeeded');
    expect(out).toContain('pre-hook');
    expect(out).toMatch(/100 % · \d+ of \d+ files/);
    expect(out).toMatch(/Snapshot [0-9a-f]{8}/);

    const list = await node.services.backups.snapshots(STACK);
    expect(list).toHaveLength(1);
    first = list[0]!.shortId;
    expect(list[0]).toMatchObject({ trigger: 'manual', jobId });
    expect(list[0]!.bytes).toBeGreaterThan(1_800_000);

    const files = (await resticCli(repository, node.services.backupRepo.passwordFile).ls(first)).filter((n) => n.type !== 'dir').map((n) => n.path).sort();
    const db = `${VOLUMES_DIR}/${STACK}_db/_data`;
    const kept = `${VOLUMES_DIR}/${STACK}_files/_data/keep`;
    expect(files).toEqual([`${db}/blob.bin`, `${db}/data.txt`, `${db}/dump.sql`, `${kept}/a.bin`, `${kept}/link`, `${kept}/sub/b.txt`].sort());

    const page = await agent.get(`/apps/${STACK}/backups`).expect(200);
    expect(page.text).toContain(`data-snapshot="${first}"`);
    expect(page.text).toContain('manual');

    // The download: a tar.gz with the volumes under var/lib/docker/volumes/<stack>_<volume>, as backup-bot-two's.
    const dl = await agent.get(`/apps/${STACK}/backups/${first}/download`).responseType('blob').expect(200);
    expect(dl.headers['content-disposition']).toContain(`${STACK}-${first}.tar.gz`);
    const tarFile = path.join(work, 'download.tar.gz');
    writeFileSync(tarFile, dl.body as Buffer);
    const entries = (await execa('tar', ['-tzf', tarFile])).stdout.split('\n').filter((e) => !e.endsWith('/'));
    expect(entries.sort()).toEqual(files.map((f) => f.slice(1)).sort());
  });

  it('restores a snapshot byte for byte after a typed confirmation, safety snapshot first, app running after', async () => {
    const db = dataDirOf(STACK, 'db');
    const files = dataDirOf(STACK, 'files');
    const before = { db: treeOf(db), keep: treeOf(path.join(files, 'keep')) };
    // The app changes its data after the backup.
    writeFileSync(path.join(db, 'data.txt'), 'changed rows\n');
    writeFileSync(path.join(db, 'new-since.txt'), 'should go away');
    unlinkSync(path.join(files, 'keep', 'a.bin'));
    writeFileSync(path.join(files, 'keep', 'sub', 'b.txt'), 'bb');
    writeFileSync(path.join(files, 'skip', 'c.txt'), 'not backed up, changed');

    const { agent } = await loggedIn(node);
    const form = await agent.get(`/apps/${STACK}/backups/${first}/restore`).expect(200);
    const csrf = csrfFrom(form.text);
    const wrong = await agent.post(`/apps/${STACK}/backups/${first}/restore`).type('form').send({ _csrf: csrf, confirm: 'yes' }).expect(400);
    expect(wrong.text).toContain(`type the app’s name exactly: ${STACK}`);
    // The same page, what was typed kept and the note beside the field (#21).
    expect(shownValue(wrong.text, 'confirm')).toBe('yes');
    expect(noteBeside(wrong.text, 'confirm')).toContain(`type the app’s name exactly: ${STACK}`);
    expect(treeOf(db)).not.toEqual(before.db); // nothing happened

    const res = await agent.post(`/apps/${STACK}/backups/${first}/restore`).type('form').send({ _csrf: csrf, confirm: STACK }).expect(303);
    const jobId = Number(/\/jobs\/(\d+)/.exec(res.headers.location!)![1]);
    const { row, out } = await finished(jobId);
    expect(row.state, out).toBe('succeeded');
    expect(out).toContain('Safety snapshot');
    expect(out).toContain('The app is running again.');

    expect(treeOf(db)).toEqual(before.db);
    expect(treeOf(path.join(files, 'keep'))).toEqual(before.keep);
    expect(treeOf(path.join(files, 'skip'))['c.txt']).toMatch(/^file/); // not in the snapshot: left as it was
    expect(await runningContainers(node.services.docker, STACK)).toBeGreaterThan(0);

    const triggers = (await node.services.backups.snapshots(STACK)).map((s) => s.trigger).sort();
    expect(triggers).toEqual(['manual', 'pre-restore']);
    const audit = node.services.store.audit.page({ limit: 50 }).map((a) => a.action);
    expect(audit).toContain('job.restore');
  });

  it('runs a daily schedule once a day at its hour, keeps it across a restart, and prunes by its retention', async () => {
    const { agent, csrf } = await loggedIn(node);
    const hour = new Date(node.clock.now).getHours();
    const form = { _csrf: csrf, hour: String(hour), keepDaily: '1', keepWeekly: '0', keepMonthly: '0' };
    const bad = await agent.post(`/apps/${STACK}/backups/schedule`).type('form').send({ ...form, hour: '24' }).expect(400);
    expect(bad.text).toContain('The hour must be an hour from 0 to 23');
    expect(node.services.backupSchedule.of(STACK)).toBeUndefined();
    await agent.post(`/apps/${STACK}/backups/schedule`).type('form').send(form).expect(303);
    expect((await agent.get(`/apps/${STACK}/backups`).expect(200)).text).toContain(`Backed up every day at ${String(hour).padStart(2, '0')}:00`);

    const elsewhen = new Date(node.clock.now + 3600_000);
    expect(node.services.backupSchedule.tick(elsewhen).filter((j) => j.app === STACK)).toEqual([]); // not its hour
    const [job] = node.services.backupSchedule.tick(new Date(node.clock.now));
    const first = await finished(job!.id);
    expect(first.row.state, first.out).toBe('succeeded');
    expect(first.out).toContain('Pruned.');
    expect(node.services.backupSchedule.tick(new Date(node.clock.now))).toEqual([]); // once a day

    // A restart: a new scheduler over the same database does not run today's again.
    const again = backupScheduler({ store: node.services.store, backups: node.services.backups, now: () => node.clock.now, log: createLogger('silent') });
    expect(again.tick(new Date(node.clock.now))).toEqual([]);
    // Tomorrow at that hour it runs, and "keep 1 daily" leaves one scheduled snapshot (manual ones stay).
    const [next] = again.tick(new Date(node.clock.now + 24 * 3600_000));
    const second = await finished(next!.id);
    expect(second.row.state, second.out).toBe('succeeded');
    const triggers = (await node.services.backups.snapshots(STACK)).map((x) => x.trigger).sort();
    expect(triggers).toEqual(['manual', 'pre-restore', 'schedule']);
    expect(node.services.store.audit.page({ limit: 50 }).map((a) => a.action)).toContain('backup.schedule');
  });
});
