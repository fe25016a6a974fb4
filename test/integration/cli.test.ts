// The operator's command line (recipe/abra.sh calls it): reset an admin's password from a secret file, export settings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/server.ts';
import { createStore } from '../../app/store/index.ts';
import { verifyPassword } from '../../app/services/passwords.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'lores-cli-'));
const cli = (args: string[]) => execa(process.execPath, ['app/cli.ts', ...args], { cwd: REPO_ROOT, env: { DATA_DIR: dir }, reject: false });

describe('command line', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resets (or creates) the admin from a password file, and exports settings without secrets', async () => {
    writeFileSync(path.join(dir, 'pw'), 'a new admin password\n');
    const reset = await cli(['reset-admin-password', '--password-file', path.join(dir, 'pw')]);
    expect(reset.exitCode, reset.stderr).toBe(0);
    const store = createStore(dir);
    try {
      const admin = store.users.credentials('admin')!;
      expect(await verifyPassword('a new admin password', admin.passwordHash)).toBe(true);
      expect(store.audit.page({ limit: 1 })[0]).toMatchObject({ action: 'user.password-reset', actor: 'command line', target: 'admin' });
    } finally {
      store.close();
    }
    const exported = await cli(['export-config']);
    expect(JSON.parse(exported.stdout)).toEqual({ settings: { nodeDomain: '', downloadLimitKBps: 0, auditRetentionDays: 365 }, users: [{ username: 'admin', role: 'admin', disabled: false }] });
    expect(exported.stdout).not.toContain('scrypt');
  });

  it('refuses a short password and unknown commands with a clear message', async () => {
    writeFileSync(path.join(dir, 'short'), 'short\n');
    const short = await cli(['reset-admin-password', '--password-file', path.join(dir, 'short')]);
    expect(short.exitCode).toBe(1);
    expect(short.stderr).toContain('at least 10 characters');
    const bogus = await cli(['bogus']);
    expect(bogus.exitCode).toBe(1);
    expect(bogus.stderr).toContain('usage:');
  });
});
