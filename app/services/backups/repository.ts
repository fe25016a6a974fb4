// The node's one backup repository: where it is (a setting an admin picks) and its password (a file only the node
// reads, 0600 in the data folder's secrets/: never in SQLite, never in a log or a job's output).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { restic, ResticError, type Restic } from '../../adapters/restic/restic.ts';
import type { Store } from '../../store/index.ts';
import { parseOrRefuse } from '../../validation.ts';
import { UserFacingError } from '../../errors.ts';

/** A repository as pages show it: credentials in a URL left out. */
export { shownRepository } from '../../adapters/restic/restic.ts';

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
/** An S3-compatible backend's keys, as restic reads them from its environment; a secret file like the password. */
const backendFileOf = (dataDir: string) => path.join(dataDir, 'secrets', 'restic-backend.json');
export type BackendKeys = { AWS_ACCESS_KEY_ID?: string; AWS_SECRET_ACCESS_KEY?: string };
const keySchema = z.string().trim().max(200).regex(/^[\x21-\x7e]*$/, 'may hold only visible characters, no spaces');

export function backupRepository(deps: { store: Store; dataDir: string; resticBin: string; now: () => number }) {
  const passwordFile = passwordFileOf(deps.dataDir);
  const cacheDir = path.join(deps.dataDir, 'restic-cache');

  const backendFile = backendFileOf(deps.dataDir);
  const keys = (): BackendKeys => (existsSync(backendFile) ? (JSON.parse(readFileSync(backendFile, 'utf8')) as BackendKeys) : {});
  const writeKeys = (k: BackendKeys) => {
    mkdirSync(path.dirname(backendFile), { recursive: true, mode: 0o700 });
    writeFileSync(`${backendFile}.new`, JSON.stringify(k), { mode: 0o600 });
    renameSync(`${backendFile}.new`, backendFile);
  };
  const at = (repository: string, env: BackendKeys = keys()): Restic =>
    restic({ bin: deps.resticBin, repository, passwordFile, cacheDir, env: Object.fromEntries(Object.entries(env).filter(([, v]) => v)) as Record<string, string> });

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
    /** Whether S3 keys are kept (the page says so; it never shows them). */
    hasS3Keys: () => Boolean(keys().AWS_ACCESS_KEY_ID),
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
    async setUp(input: { repository: unknown; password?: string; s3KeyId?: unknown; s3Secret?: unknown }, by: string | null): Promise<{ repository: string; generatedPassword?: string; created: boolean }> {
      const repository = parseOrRefuse(repositorySchema, input.repository, { value: 'The repository' });
      // S3 keys: given ones replace the kept ones; none given keeps them (the form never shows the secret back).
      const keyId = input.s3KeyId ? parseOrRefuse(keySchema, input.s3KeyId, { value: 'The S3 access key id' }) : undefined;
      const secret = input.s3Secret ? parseOrRefuse(keySchema, input.s3Secret, { value: 'The S3 secret key' }) : undefined;
      const env: BackendKeys = keyId || secret ? { AWS_ACCESS_KEY_ID: keyId ?? keys().AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: secret ?? keys().AWS_SECRET_ACCESS_KEY } : keys();
      const given = input.password?.trim();
      if (given !== undefined && given !== '' && given.length < 12) throw new UserFacingError('The repository password must be at least 12 characters.');
      const password = given || (this.hasPassword() ? undefined : randomBytes(24).toString('base64url'));
      // Try it with the password in a scratch file first, so a failure leaves the node's password alone.
      const old = this.hasPassword() ? readFileSync(passwordFile, 'utf8') : undefined;
      if (password) writePassword(password);
      let created = false;
      try {
        const r = at(repository, env);
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
      if (keyId || secret) writeKeys(env);
      deps.store.settings.set(REPOSITORY_KEY, repository, by, deps.now());
      return { repository, created, ...(password && !given ? { generatedPassword: password } : {}) };
    },
  };
}
export type BackupRepository = ReturnType<typeof backupRepository>;
