// The node's one backup repository: where it is (a setting an admin picks) and its password (a file only the node
// reads, 0600 in the data folder's secrets/: never in SQLite, never in a log or a job's output).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { restic, ResticError, type Restic } from '../../adapters/restic/restic.ts';
import type { Store } from '../../store/index.ts';
import { parseOrRefuse } from '../../validation.ts';
import { UserFacingError } from '../errors.ts';

const REPOSITORY_KEY = 'backup_repository';

/** A restic repository as an admin types it: a host path, sftp:…, s3:…, rest:…, b2:… — one line, not an option. */
export const repositorySchema = z
  .string()
  .trim()
  .min(1, 'is empty')
  .max(500, 'is longer than 500 characters')
  .regex(/^[^\s-][^\0\r\n]*$/, 'must be one line, not starting with “-” or a space')
  .refine((r) => r.startsWith('/') || /^(sftp|s3|rest|b2|azure|gs|swift|rclone):/.test(r), 'must be an absolute path, or start with sftp:, s3:, rest:, b2:, azure:, gs:, swift: or rclone:');

export const passwordFileOf = (dataDir: string) => path.join(dataDir, 'secrets', 'restic-password');

export function backupRepository(deps: { store: Store; dataDir: string; resticBin: string; now: () => number }) {
  const passwordFile = passwordFileOf(deps.dataDir);
  const cacheDir = path.join(deps.dataDir, 'restic-cache');

  const at = (repository: string): Restic => restic({ bin: deps.resticBin, repository, passwordFile, cacheDir });

  function writePassword(password: string): void {
    mkdirSync(path.dirname(passwordFile), { recursive: true, mode: 0o700 });
    const tmp = `${passwordFile}.new`;
    writeFileSync(tmp, `${password}\n`, { mode: 0o600 });
    renameSync(tmp, passwordFile);
  }

  return {
    passwordFile,
    /** The repository's address, when an admin has set one. */
    location: (): string | undefined => deps.store.settings.get(REPOSITORY_KEY) || undefined,
    hasPassword: () => existsSync(passwordFile) && readFileSync(passwordFile, 'utf8').trim().length > 0,

    /** restic for the configured repository, or a clear refusal. */
    restic(): Restic {
      const repository = this.location();
      if (!repository || !this.hasPassword()) throw new UserFacingError('No backup repository is set up yet: an admin sets one on the Settings page.', 409);
      return at(repository);
    },

    /**
     * Points the node at a repository. With no password given, a new one is generated (and returned, to be shown
     * once) and the repository created; with one (an existing repository, a node being rebuilt), it must open.
     * A failure changes nothing.
     */
    async setUp(input: { repository: unknown; password?: string }, by: string | null): Promise<{ repository: string; generatedPassword?: string; created: boolean }> {
      const repository = parseOrRefuse(repositorySchema, input.repository, { value: 'The repository' });
      const given = input.password?.trim();
      if (given !== undefined && given !== '' && given.length < 12) throw new UserFacingError('The repository password must be at least 12 characters.');
      const password = given || (this.hasPassword() ? undefined : randomBytes(24).toString('base64url'));
      // Try it with the password in a scratch file first, so a failure leaves the node's password alone.
      const old = this.hasPassword() ? readFileSync(passwordFile, 'utf8') : undefined;
      if (password) writePassword(password);
      let created = false;
      try {
        const r = at(repository);
        if (!(await r.exists())) {
          if (given) throw new UserFacingError(`There is no restic repository at ${repository} to open with that password.`);
          await r.init();
          created = true;
        }
      } catch (err) {
        if (old !== undefined) writePassword(old.trim());
        else if (password) writeFileSync(passwordFile, '', { mode: 0o600 });
        if (err instanceof ResticError) throw new UserFacingError(err.message, 502);
        throw err;
      }
      deps.store.settings.set(REPOSITORY_KEY, repository, by, deps.now());
      return { repository, created, ...(password && !given ? { generatedPassword: password } : {}) };
    },
  };
}
export type BackupRepository = ReturnType<typeof backupRepository>;
