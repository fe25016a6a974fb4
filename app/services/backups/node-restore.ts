// Disaster recovery: a brand-new node, given the repository and its password, takes back the last backup of the
// node (or a chosen one): its database (people, settings, job and audit history) and abra's folder (every app's
// config). Run from the command line while the node is stopped; then each app's data is restored from its page.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { restic, ResticError } from '../../adapters/restic/restic.ts';
import { createStore } from '../../store/index.ts';
import { auditLog } from '../audit.ts';
import { passwordFileOf, repositorySchema } from './repository.ts';

export const NODE_SNAPSHOT_TAG = 'lores-node=self';
const DB_FILE = 'lores-node.sqlite';

export type NodeRestoreResult = { snapshot: string; time: string; people: number; apps: number; jobs: number };

export async function restoreNode(o: { repository: string; passwordFile: string; dataDir: string; abraDir: string; resticBin: string; snapshot?: string; force?: boolean; now?: () => number }): Promise<NodeRestoreResult> {
  const now = o.now ?? Date.now;
  const repository = repositorySchema.parse(o.repository);
  const dbPath = path.join(o.dataDir, DB_FILE);
  if (existsSync(dbPath) && !o.force) {
    const store = createStore(o.dataDir);
    const people = store.users.list().length;
    store.close();
    if (people > 0) throw new Error(`${o.dataDir} already holds a node with ${people} people: restoring would replace it. Stop the node and add --force to replace it anyway.`);
  }
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  // The given password becomes the node's, so that the restored node goes on backing up into the same repository.
  const passwordFile = passwordFileOf(o.dataDir);
  mkdirSync(path.dirname(passwordFile), { recursive: true, mode: 0o700 });
  const password = readFileSync(o.passwordFile, 'utf8').trim();
  if (!password) throw new Error(`${o.passwordFile} is empty.`);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });

  const r = restic({ bin: o.resticBin, repository, passwordFile, cacheDir: path.join(o.dataDir, 'restic-cache') });
  const snaps = await r.snapshots([NODE_SNAPSHOT_TAG]).catch((err: unknown) => Promise.reject(err instanceof ResticError ? new Error(err.message) : err));
  const snap = o.snapshot ? snaps.find((s) => s.id.startsWith(o.snapshot!)) : snaps.sort((a, b) => a.time.localeCompare(b.time)).at(-1);
  if (!snap) throw new Error(o.snapshot ? `The repository has no node snapshot ${o.snapshot}.` : 'The repository holds no backup of a node.');

  const scratch = mkdtempSync(path.join(o.dataDir, 'restore-'));
  try {
    await r.restore(snap.id, { target: scratch });
    const staged = path.join(scratch, snap.paths[0]!);
    if (!existsSync(path.join(staged, DB_FILE))) throw new Error(`Snapshot ${snap.shortId} holds no database.`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
    renameSync(path.join(staged, DB_FILE), dbPath);
    let apps = 0;
    if (existsSync(path.join(staged, 'abra'))) {
      mkdirSync(o.abraDir, { recursive: true });
      cpSync(path.join(staged, 'abra'), o.abraDir, { recursive: true, force: true, verbatimSymlinks: true });
      const servers = path.join(o.abraDir, 'servers');
      apps = existsSync(servers) ? readdirSync(servers, { recursive: true }).filter((f) => String(f).endsWith('.env')).length : 0;
    }
    const store = createStore(o.dataDir); // migrates a database from an older node
    try {
      // Jobs running when the copy was made (this backup itself) did not run on in this node.
      const unfinished = store.jobs.unfinished();
      for (const job of unfinished) store.jobs.finish(job.id, 'interrupted', { error: 'This node was rebuilt from a backup taken while this job ran.' }, now());
      // Sessions belonged to the old node's browsers.
      for (const user of store.users.list()) store.sessions.removeForUser(user.id);
      store.settings.set('backup_repository', repository, 'command line', now());
      auditLog(store.audit, now).record({ name: 'command line', ip: null }, 'node.restored', { detail: { snapshot: snap.shortId, taken: snap.time, repository } });
      return { snapshot: snap.shortId, time: snap.time, people: store.users.list().length, apps, jobs: store.jobs.list({ limit: 100_000 }).length };
    } finally {
      store.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
