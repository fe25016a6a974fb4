// What goes wrong with a backup repository, with a real restic against the real two-volume app: a wrong password,
// a full disk (a small tmpfs), an sftp host that does not answer. Each gives a clear message; nothing in the
// repository is lost and the app (its data, its running task) is untouched.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TestNode } from '../support/app.ts';
import { backupTestbed, dataDirOf, resticCli, treeOf, type BackupTestbed } from '../support/backup-app.ts';
import { haveDocker, inCI } from '../support/requirements.ts';
import { freePort } from '../support/server.ts';
import { runningContainers } from '../../app/adapters/docker/stack-mounts.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const dockerThere = await haveDocker();
const STACK = `bf${randomBytes(3).toString('hex')}`;
const actor = { name: 'admin', ip: null };

describe.skipIf(!dockerThere)('backup failures: clear message, nothing lost, app untouched', () => {
  let bed: BackupTestbed;
  let node: TestNode;
  let work: string;
  let repository: string;
  let tmpfs: string | undefined;
  let appTree: () => Record<string, string>;

  const backUpAndFail = async () => {
    const job = await node.services.jobs.finished(node.services.backups.backUp(STACK, actor).id);
    expect(job.state).toBe('failed');
    // The post-hook ran after restic failed (it undoes the pre-hook's work); restic's failure stays the reason.
    expect(node.services.store.jobs.output(job.id).map((l) => l.line)).toContain('post-hook ran');
    return job.error ?? '';
  };
  const appUntouched = async (before: Record<string, string>) => {
    // The pre-hook rewrites its dump on every try; everything else is as it was.
    const { ['dump.sql']: _dump, ...now } = appTree();
    const { ['dump.sql']: _was, ...was } = before;
    expect(now).toEqual(was);
    expect(await runningContainers(node.services.docker, STACK)).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    bed = await backupTestbed(STACK, { extraLabels: { 'backupbot.backup.post-hook': 'echo post-hook ran' } });
    ({ node, work, repository } = bed);
    writeFileSync(path.join(dataDirOf(STACK, 'db'), 'data.txt'), 'rows\n');
    writeFileSync(path.join(dataDirOf(STACK, 'db'), 'blob.bin'), randomBytes(3_000_000));
    appTree = () => treeOf(dataDirOf(STACK, 'db'));
    await node.services.backupRepo.setUp({ repository }, 'admin');
    const first = await node.services.jobs.finished(node.services.backups.backUp(STACK, actor).id);
    expect(first.state).toBe('succeeded');
  });

  afterAll(async () => {
    if (tmpfs) await execa('umount', [tmpfs], { reject: false });
    await bed?.close();
  });

  it('a wrong repository password: says so; the snapshots are intact and the app untouched', async () => {
    const before = appTree();
    const right = readFileSync(node.services.backupRepo.passwordFile, 'utf8');
    // Opening the repository with another password is refused, and the node's own password stays.
    await expect(node.services.backupRepo.setUp({ repository, password: 'not the right password' }, 'admin')).rejects.toThrow(/does not open with the node’s password/);
    expect(readFileSync(node.services.backupRepo.passwordFile, 'utf8')).toBe(right);
    // The password file damaged behind the node's back: the backup fails saying why.
    writeFileSync(node.services.backupRepo.passwordFile, 'a wrong password\n');
    try {
      expect(await backUpAndFail()).toMatch(/does not open with the node’s password.*Nothing was changed/);
    } finally {
      writeFileSync(node.services.backupRepo.passwordFile, right);
    }
    await appUntouched(before);
    const cli = resticCli(repository, node.services.backupRepo.passwordFile);
    expect((await cli.run(['check'])).exitCode).toBe(0);
    expect((await node.services.backups.snapshots(STACK)).length).toBe(1);
  });

  it('an sftp host that does not answer (a closed port on 127.0.0.1): says it cannot be reached', async () => {
    const before = appTree();
    const port = await freePort();
    const sftp = `sftp://root@127.0.0.1:${port}//srv/restic`;
    await expect(node.services.backupRepo.setUp({ repository: sftp }, 'admin')).rejects.toThrow(/cannot be reached/);
    expect(node.services.backupRepo.location()).toBe(repository); // the setting did not move
    // The host going away after it was set up: the backup job says the same.
    node.services.store.settings.set('backup_repository', sftp, 'test', Date.now());
    try {
      expect(await backUpAndFail()).toMatch(/cannot be reached.*Connection refused/);
    } finally {
      node.services.store.settings.set('backup_repository', repository, 'test', Date.now());
    }
    await appUntouched(before);
  });

  it('a full repository disk (a 1 MB tmpfs): says it is full; restic check passes; the app is untouched', async () => {
    tmpfs = path.join(work, 'small');
    mkdirSync(tmpfs);
    const mounted = await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tmpfs], { reject: false });
    if (mounted.exitCode !== 0) {
      if (inCI) throw new Error(`cannot mount a tmpfs: ${mounted.stderr}`);
      console.warn(`SKIPPING the full-disk case: cannot mount a tmpfs (${mounted.stderr})`);
      return;
    }
    const before = appTree();
    const small = path.join(tmpfs, 'repo');
    // A new repository there, with the node's password (it has one already: none is generated).
    expect(await node.services.backupRepo.setUp({ repository: small }, 'admin')).toEqual({ repository: small, created: true });
    try {
      expect(await backUpAndFail()).toMatch(/is full \(no space left on its disk\)/);
      await appUntouched(before);
      const check = await resticCli(small, node.services.backupRepo.passwordFile).run(['check']);
      expect(check.exitCode, check.stderr).toBe(0);
    } finally {
      node.services.store.settings.set('backup_repository', repository, 'test', Date.now());
    }
  });

  it('an S3 repository gets the keys from the Settings form (signed requests), kept out of the audit log', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(String(req.headers.authorization ?? ''));
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>no</Message></Error>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      const s3 = `s3:http://127.0.0.1:${port}/bucket`;
      await expect(node.services.backupRepo.setUp({ repository: s3, s3KeyId: 'LORESKEYID123', s3Secret: 'a-secret-key-never-logged' }, 'admin')).rejects.toThrow();
      expect(seen.some((h) => h.includes('Credential=LORESKEYID123/'))).toBe(true);
      expect(node.services.backupRepo.location()).toBe(repository); // nothing changed
      expect(node.services.backupRepo.hasS3Keys()).toBe(false); // keys that did not work are not kept
      expect(JSON.stringify(node.services.store.audit.page({ limit: 100 }))).not.toContain('a-secret-key-never-logged');
    } finally {
      server.close();
    }
  });
});
