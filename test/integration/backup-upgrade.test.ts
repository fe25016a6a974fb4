// The safety snapshot before an upgrade: an app with backup labels is upgraded (abra test double, real swarm) to a
// version whose start-up overwrites its data and fails its healthcheck; the swarm rolls it back, and the failed
// job's "Restore the data from before the upgrade" brings the data back in one click, audited.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { csrfFrom, loggedIn, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE } from '../support/abra.ts';
import { dataDirOf, removeBackupApp } from '../support/backup-app.ts';
import { within } from '../support/poll.ts';
import { haveDocker } from '../support/requirements.ts';
import { REPO_ROOT } from '../support/server.ts';
import { ensureTestImage } from '../support/swarm.ts';
import { runningContainers } from '../../app/adapters/docker/stack-mounts.ts';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });
const dockerThere = await haveDocker();
const DOMAIN = `u${randomBytes(3).toString('hex')}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
const RECIPES = path.join(REPO_ROOT, 'test', 'fixtures', 'backup-recipes');
const actor = { name: 'admin', ip: null, role: 'admin' as const };

describe.skipIf(!dockerThere)('a safety snapshot before every upgrade, and the one-click restore after a failed one', () => {
  let node: TestNode;
  let work: string;
  const dataFile = () => path.join(dataDirOf(STACK, 'db'), 'data.txt');
  const output = (jobId: number) => node.services.store.jobs.output(jobId).map((l) => l.line).join('\n');

  beforeAll(async () => {
    await ensureTestImage();
    work = mkdtempSync(path.join(tmpdir(), 'backup-upgrade-'));
    node = await testNode({ ABRA_DIR: path.join(work, 'abra'), ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: RECIPES, ABRA_TIMEOUT_SECONDS: '180' }, { full: true });
    const install = await node.services.lifecycle.install({ recipe: 'backup-test-app', version: '1.0.0+1.0', domain: DOMAIN, deploy: true, form: {} }, actor);
    const done = await node.services.jobs.finished(install.id);
    expect(done.state, output(install.id)).toBe('succeeded');
    writeFileSync(dataFile(), 'precious rows\n');
    await node.services.backupRepo.setUp({ repository: path.join(work, 'repo') }, 'admin');
  });

  afterAll(async () => {
    node?.close();
    await removeBackupApp(STACK);
    rmSync(work, { recursive: true, force: true });
  });

  it('is on by default; the upgrade takes it first; after the rollback one click restores the data', async () => {
    expect(node.services.backups.snapshotBeforeUpgrade()).toBe(true);
    const upgrade = await node.services.lifecycle.upgrade(DOMAIN, '1.1.0+1.1', actor, 'upgrade');
    const failed = await node.services.jobs.finished(upgrade.id);
    expect(failed.state, output(upgrade.id)).toBe('failed');
    expect(output(upgrade.id)).toContain('A safety snapshot before the upgrade');
    expect(readFileSync(dataFile(), 'utf8')).toBe('corrupted by 1.1.0\n');
    // The swarm rolled the service back to 1.0.0's image and it runs again.
    await within('the swarm rolled back', 90_000, async () => {
      const image = (await execa('docker', ['service', 'inspect', `${STACK}_app`, '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'])).stdout;
      return image.startsWith('lores-test/busybox:1') && (await runningContainers(node.services.docker, STACK)) > 0;
    });

    const { agent } = await loggedIn(node);
    const page = await agent.get(`/jobs/${upgrade.id}`).expect(200);
    expect(page.text).toContain('Restore the data from before the upgrade');
    const res = await agent.post(`/jobs/${upgrade.id}/restore-before-upgrade`).type('form').send({ _csrf: csrfFrom(page.text) }).expect(303);
    const restoreId = Number(/\/jobs\/(\d+)/.exec(res.headers.location!)![1]);
    const restored = await node.services.jobs.finished(restoreId);
    expect(restored.state, output(restoreId)).toBe('succeeded');
    expect(readFileSync(dataFile(), 'utf8')).toBe('precious rows\n');
    expect(await runningContainers(node.services.docker, STACK)).toBeGreaterThan(0);
    const audit = node.services.store.audit.page({ limit: 50 }).map((a) => a.action);
    expect(audit).toEqual(expect.arrayContaining(['backup.restore-before-upgrade', 'job.restore']));
    const triggers = (await node.services.backups.snapshots(STACK)).map((s) => s.trigger).sort();
    expect(triggers).toEqual(['pre-restore', 'pre-upgrade']);
  });

  it('can be turned off on the Settings page: the next upgrade takes none', async () => {
    const { agent } = await loggedIn(node);
    const settings = await agent.get('/settings').expect(200);
    await agent.post('/settings/backups/upgrade-snapshot').type('form').send({ _csrf: csrfFrom(settings.text) }).expect(303);
    expect(node.services.backups.snapshotBeforeUpgrade()).toBe(false);
    // The hook the upgrade job calls first, called as it would be: no snapshot now.
    const lines: string[] = [];
    const before = (await node.services.backups.snapshots(STACK)).length;
    const ctx = { job: node.services.store.jobs.list({ limit: 1 })[0]!, log: (l: string) => void lines.push(l), signal: new AbortController().signal, setPhase: () => {} };
    await node.services.backups.beforeUpgrade(ctx, STACK);
    expect(lines).toEqual([]);
    expect((await node.services.backups.snapshots(STACK)).length).toBe(before);
  });
});
