// The node's own backup and disaster recovery: node A backs itself up (database copied while it runs, abra's folder);
// a brand-new node B, given only the repository and its password, takes back people, settings, job and audit
// history and every app's config, and goes on with the same repository.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import supertest from 'supertest';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { addUser, csrfFrom, loggedIn, testNode, type TestNode } from '../support/app.ts';
import { REPO_ROOT } from '../support/server.ts';
import { haveDocker } from '../support/requirements.ts';

vi.setConfig({ testTimeout: 120_000 });
const dockerThere = await haveDocker(); // the node's services talk to Docker (the live model); restic is real

describe.skipIf(!dockerThere)('disaster recovery: node A → node B through the backup repository', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'dr-'));
  const repository = path.join(work, 'repo');
  const abraA = path.join(work, 'abra-a');
  const dataB = path.join(work, 'data-b');
  const abraB = path.join(work, 'abra-b');
  const envFile = 'servers/default/wiki.example.org.env';
  let a: TestNode | undefined;
  let b: TestNode | undefined;
  afterAll(() => {
    a?.close();
    b?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('backs up node A while it runs, and node B restores it from the command line', async () => {
    mkdirSync(path.join(abraA, 'servers', 'default'), { recursive: true });
    writeFileSync(path.join(abraA, envFile), 'TYPE=wiki:1.0.0\nDOMAIN=wiki.example.org\n');
    a = await testNode({ ABRA_DIR: abraA });
    await addUser(a, 'sam', 'steward', 'sam password 123');
    a.services.settings.setNodeDomain('node-a.example.org', 'admin');
    const { agent, csrf } = await loggedIn(a);
    const setUp = await agent.post('/settings/backups').type('form').send({ _csrf: csrf, repository }).expect(200);
    expect(setUp.text).toContain('data-password');
    const passwordCopy = path.join(work, 'password-kept-elsewhere');
    copyFileSync(a.services.backupRepo.passwordFile, passwordCopy);

    const res = await agent.post('/node/backups').type('form').send({ _csrf: csrf }).expect(303);
    const jobId = Number(/\/jobs\/(\d+)/.exec(res.headers.location!)![1]);
    const job = await a.services.jobs.finished(jobId);
    expect(job.state, a.services.store.jobs.output(jobId).map((l) => l.line).join('\n')).toBe('succeeded');
    const page = await agent.get('/node/backups').expect(200);
    expect(page.text).toMatch(/data-snapshot="[0-9a-f]{8}"/);
    const auditA = a.services.store.audit.page({ limit: 100 }).length;
    const jobsA = a.services.store.jobs.list({ limit: 100 }).map((j) => j.id);

    // Node B: nothing but the repository's address and the password.
    const cli = await execa(process.execPath, ['app/cli.ts', 'restore-node', '--repository', repository, '--password-file', passwordCopy], {
      cwd: REPO_ROOT,
      env: { DATA_DIR: dataB, ABRA_DIR: abraB, LOG_LEVEL: 'silent' },
      reject: false,
    });
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/2 people, 1 app configs/);

    b = await testNode({ DATA_DIR: dataB, ABRA_DIR: abraB });
    expect(b.services.store.users.list().map((u) => u.username).sort()).toEqual(['admin', 'sam']);
    expect(b.services.settings.current().nodeDomain).toBe('node-a.example.org');
    expect(b.services.store.jobs.list({ limit: 100 }).map((j) => j.id)).toEqual(jobsA);
    // The backup job was running when its own copy was made: on B it says so instead of spinning forever.
    expect(b.services.store.jobs.byId(jobId)).toMatchObject({ state: 'interrupted', error: expect.stringContaining('rebuilt from a backup') });
    const auditB = b.services.store.audit.page({ limit: 200 });
    expect(auditB.length).toBeGreaterThanOrEqual(auditA);
    expect(auditB.map((e) => e.action)).toContain('node.restored');
    expect(readFileSync(path.join(abraB, envFile), 'utf8')).toContain('TYPE=wiki:1.0.0');

    // Sam logs into B with the password set on A; B sees A's snapshots and backs up into the same repository.
    const login = supertest.agent(b.app);
    const form = await login.get('/login').expect(200);
    await login.post('/login').type('form').send({ _csrf: csrfFrom(form.text), username: 'sam', password: 'sam password 123' }).expect(303);
    expect(b.services.backupRepo.location()).toBe(repository);
    expect((await b.services.backups.snapshots(null)).length).toBe(1);
    const again = await b.services.jobs.finished(b.services.backups.backUpNode({ name: 'admin', ip: null }).id);
    expect(again.state).toBe('succeeded');
    expect((await b.services.backups.snapshots(null)).length).toBe(2);
  });

  it('refuses to overwrite a node that has people, unless told to', async () => {
    const cli = await execa(process.execPath, ['app/cli.ts', 'restore-node', '--repository', repository, '--password-file', path.join(work, 'password-kept-elsewhere')], {
      cwd: REPO_ROOT,
      env: { DATA_DIR: dataB, ABRA_DIR: abraB, LOG_LEVEL: 'silent' },
      reject: false,
    });
    expect(cli.exitCode).toBe(1);
    expect(cli.stderr).toContain('already holds a node with 2 people');
  });
});
