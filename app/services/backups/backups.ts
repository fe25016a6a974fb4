// Backups of apps (as backup-bot-two's labels say) and of the node itself, into the node's restic repository, as
// durable jobs with progress; restore of a snapshot (safety snapshot first, app stopped, volumes restored, app
// started); the safety snapshot an upgrade takes first.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { runningContainerOf, execRead } from '../../adapters/docker/exec.ts';
import { ensureVolume, runningContainers, stackServices } from '../../adapters/docker/stack-mounts.ts';
import { ResticError, type BackupProgress, type Snapshot } from '../../adapters/restic/restic.ts';
import type { Logger } from '../../log.ts';
import type { BackupRun, BackupTrigger } from '../../store/backups.ts';
import type { Store } from '../../store/index.ts';
import type { JobRow } from '../../store/jobs.ts';
import type { AppPower } from '../app-power.ts';
import type { Actor } from '../audit.ts';
import { UserFacingError } from '../../errors.ts';
import { JobFailure, type JobContext, type JobRunner } from '../jobs.ts';
import { formatBytes } from '../resource-fit.ts';
import { backupPlanOf, pathsOf, volumeDataDir, type BackupPlan } from './labels.ts';
import type { BackupRepository } from './repository.ts';
import { NODE_SNAPSHOT_TAG } from './node-restore.ts';

export const BACKUP_KIND = 'backup';
export const RESTORE_KIND = 'restore';
export const NODE_BACKUP_KIND = 'node-backup';
/** restic's --host for every snapshot the node makes: a rebuilt node (another hostname) finds and continues them. */
export const SNAPSHOT_HOST = 'lores-node';
const NODE_TAG = NODE_SNAPSHOT_TAG;
const appTag = (stack: string) => `lores-app=${stack}`;
const HOOK_TIMEOUT_MS = 30 * 60_000;
const SETTLE_MS = 90_000;
const UPGRADE_SNAPSHOT_KEY = 'backup_before_upgrade';

export type Retention = { daily: number; weekly: number; monthly: number };
export type SnapshotView = Snapshot & { trigger: string; bytes: number | null; files: number | null; jobId: number | null };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** "45 % · 120 of 300 files · 34 MB of 75 MB · 12 MB/s" */
export function describeProgress(p: BackupProgress): string {
  const rate = p.secondsElapsed > 0 ? p.bytesDone / p.secondsElapsed : 0;
  return `${Math.floor(p.percent * 100)} % · ${p.filesDone} of ${p.totalFiles} files · ${formatBytes(p.bytesDone)} of ${formatBytes(p.totalBytes)} · ${formatBytes(rate)}/s`;
}

/** A job's failure from restic's, in its words. */
function asJobFailure(err: unknown): unknown {
  return err instanceof ResticError ? new JobFailure(err.message, err.exitCode) : err;
}

export function backupService(deps: { docker: Docker; store: Store; jobs: JobRunner; power: AppPower; repo: BackupRepository; volumesDir: string; dataDir: string; abraDir: string; log: Logger; now: () => number }) {
  const { docker, store, jobs, repo, now } = deps;

  async function planOf(stack: string): Promise<BackupPlan | undefined> {
    return backupPlanOf(stack, await stackServices(docker, stack));
  }

  async function runHook(ctx: JobContext, plan: BackupPlan, which: 'pre-hook' | 'post-hook', hook: string): Promise<void> {
    const container = await runningContainerOf(docker, plan.service);
    if (!container) throw new JobFailure(`${plan.service} is not running, so its ${which} (${hook.slice(0, 200)}) cannot run. Start the app, then back it up.`);
    ctx.log(`→ ${which} in ${plan.service}: ${hook}`, 'info');
    try {
      const out = await execRead(docker, container, ['sh', '-c', hook], { timeoutMs: HOOK_TIMEOUT_MS });
      for (const line of out.split('\n').filter(Boolean).slice(-50)) ctx.log(line);
    } catch (err) {
      throw new JobFailure(`The ${which} failed: ${(err as Error).message}`);
    }
  }

  /** restic backup of `paths` with progress on the job's page (its phase) and a line per tenth in its history. */
  async function resticBackup(ctx: JobContext, paths: string[], tags: string[]) {
    let lastPhase = 0;
    let nextTenth = 1;
    try {
      const summary = await repo.restic().backup(paths, {
        tags,
        host: SNAPSHOT_HOST,
        signal: ctx.signal,
        onProgress: (p) => {
          if (Date.now() - lastPhase >= 1000) {
            lastPhase = Date.now();
            ctx.setPhase(`Backing up: ${describeProgress(p)}`);
          }
          while (p.percent * 10 >= nextTenth && nextTenth <= 10) {
            nextTenth++;
            ctx.log(describeProgress(p));
          }
        },
      });
      // A small backup ends before restic's first report: the history still gets its one line of figures.
      if (nextTenth <= 10) ctx.log(describeProgress({ percent: 1, filesDone: summary.totalFiles, totalFiles: summary.totalFiles, bytesDone: summary.totalBytes, totalBytes: summary.totalBytes, secondsElapsed: summary.seconds }));
      return summary;
    } catch (err) {
      throw asJobFailure(err);
    } finally {
      ctx.setPhase(null);
    }
  }

  function record(ctx: JobContext, stack: string | null, trigger: BackupTrigger, s: { snapshotId: string; totalFiles: number; totalBytes: number; bytesAdded: number; seconds: number }): BackupRun {
    const run = { jobId: ctx.job.id, stack, snapshotId: s.snapshotId, trigger, files: s.totalFiles, bytes: s.totalBytes, bytesAdded: s.bytesAdded, seconds: s.seconds, createdAt: now() };
    store.backups.record(run);
    ctx.log(`Snapshot ${s.snapshotId}: ${s.totalFiles} files, ${formatBytes(s.totalBytes)} (${formatBytes(s.bytesAdded)} new in the repository) in ${s.seconds.toFixed(1)} s.`, 'info');
    return store.backups.bySnapshot(s.snapshotId)!;
  }

  /** The work of an app's backup, inside a job: pre-hook, restic, post-hook (also after a failed restic). */
  async function backUpApp(ctx: JobContext, stack: string, trigger: BackupTrigger): Promise<BackupRun> {
    const plan = await planOf(stack);
    if (!plan) throw new JobFailure(`${stack} has no backup labels (no service says backupbot.backup=true), so the node does not know what to back up.`);
    repo.restic(); // says so at once when no repository is set up
    const paths = pathsOf(plan, deps.volumesDir);
    if (!paths.length) throw new JobFailure(`${stack} has backup labels, but every volume is left out.`);
    ctx.log(`Backing up ${plan.volumes.map((v) => (v.paths.length ? `${v.name} (${v.paths.join(', ')})` : v.name)).join(', ')}${plan.excluded.length ? `; leaving out ${plan.excluded.join(', ')}` : ''}.`, 'info');
    if (plan.preHook) await runHook(ctx, plan, 'pre-hook', plan.preHook);
    let summary;
    try {
      summary = await resticBackup(ctx, paths, [appTag(stack), `trigger=${trigger}`]);
    } catch (err) {
      // The post-hook undoes what the pre-hook did (a paused service, a dump to delete): it runs whatever restic did,
      // and restic's failure stays the job's reason.
      if (plan.postHook) await runHook(ctx, plan, 'post-hook', plan.postHook).catch((e: Error) => ctx.log(e.message, 'err'));
      throw err;
    }
    if (plan.postHook) await runHook(ctx, plan, 'post-hook', plan.postHook);
    return record(ctx, stack, trigger, summary);
  }

  /** The node itself: a consistent copy of its database (SQLite's online backup) and its abra folder. */
  async function backUpNode(ctx: JobContext, trigger: BackupTrigger): Promise<BackupRun> {
    repo.restic();
    const staging = path.join(deps.dataDir, 'node-backup');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true, mode: 0o700 });
    try {
      await store.copyTo(path.join(staging, 'lores-node.sqlite'));
      ctx.log('Copied the database while the node runs (SQLite online backup).', 'info');
      if (existsSync(deps.abraDir)) cpSync(deps.abraDir, path.join(staging, 'abra'), { recursive: true, verbatimSymlinks: true });
      ctx.log(`Copied abra’s folder (${deps.abraDir}): app configs, servers, recipes.`, 'info');
      return record(ctx, null, trigger, await resticBackup(ctx, [staging], [NODE_TAG, `trigger=${trigger}`]));
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  async function snapshotsOf(stack: string | null): Promise<SnapshotView[]> {
    let list: Snapshot[];
    try {
      list = await repo.restic().snapshots([stack === null ? NODE_TAG : appTag(stack)]);
    } catch (err) {
      if (err instanceof ResticError) throw new UserFacingError(err.message, 502);
      throw err;
    }
    return list
      .map((s) => {
        const run = store.backups.bySnapshot(s.shortId) ?? store.backups.bySnapshot(s.id);
        const trigger = s.tags.find((t) => t.startsWith('trigger='))?.slice('trigger='.length) ?? 'unknown';
        return { ...s, trigger, bytes: run?.bytes ?? null, files: run?.files ?? null, jobId: run?.jobId ?? null };
      })
      .sort((a, b) => b.time.localeCompare(a.time));
  }

  async function findSnapshot(stack: string, idInput: unknown): Promise<SnapshotView> {
    const id = typeof idInput === 'string' && /^[0-9a-f]{8,64}$/.test(idInput) ? idInput : undefined;
    if (!id) throw new UserFacingError('That is not a snapshot id.');
    const snap = (await snapshotsOf(stack)).find((s) => s.id.startsWith(id));
    if (!snap) throw new UserFacingError(`${stack} has no snapshot ${id}.`, 404);
    return snap;
  }

  /** Waits for the stack's containers to reach `want` (0: all gone; 1: at least one running), within SETTLE_MS. */
  async function settle(stack: string, want: 'stopped' | 'running'): Promise<boolean> {
    const until = Date.now() + SETTLE_MS;
    while (Date.now() < until) {
      const n = await runningContainers(docker, stack);
      if (want === 'stopped' ? n === 0 : n > 0) return true;
      await sleep(500);
    }
    return false;
  }

  /** The restore itself, inside a job: safety snapshot, stop, empty and restore each backed-up path, start. */
  async function restore(ctx: JobContext, stack: string, snap: SnapshotView, actor: Actor): Promise<void> {
    const root = deps.volumesDir.replace(/\/+$/, '') + '/';
    const paths = snap.paths.filter((p) => p.startsWith(root) && !p.slice(root.length).split('/').includes('..'));
    if (paths.length !== snap.paths.length) throw new JobFailure(`Snapshot ${snap.shortId} holds paths outside Docker’s volumes (${deps.volumesDir}); the node restores only volumes.`);
    if (await planOf(stack)) {
      ctx.log('→ A safety snapshot of the data as it is now, first.', 'info');
      const safety = await backUpApp(ctx, stack, 'pre-restore');
      ctx.log(`Safety snapshot ${safety.snapshotId}: restore it to undo this restore.`, 'info');
    } else ctx.log('The app has no backup labels now, so no safety snapshot could be taken.', 'info');
    const wasRunning = (await runningContainers(docker, stack)) > 0;
    ctx.log('→ Stopping the app', 'info');
    await deps.power.stopNow(stack, actor.name, ctx.log);
    if (!(await settle(stack, 'stopped'))) throw new JobFailure(`${stack} did not stop within ${SETTLE_MS / 1000} s; nothing was restored.`);
    try {
      for (const p of paths) {
        const volume = p.slice(root.length).split('/')[0]!;
        await ensureVolume(docker, stack, volume);
        const data = volumeDataDir(deps.volumesDir, volume);
        // Exactly what the snapshot holds: what is there now goes first (restic restore adds, it never deletes).
        if (p === data) for (const entry of existsSync(data) ? readdirSync(data) : []) rmSync(path.join(data, entry), { recursive: true, force: true });
        else rmSync(p, { recursive: true, force: true });
      }
      ctx.log(`→ restic restore ${snap.shortId}: ${paths.join(', ')}`, 'info');
      await repo.restic().restore(snap.id, { target: '/', include: paths, signal: ctx.signal }).catch((err: unknown) => Promise.reject(asJobFailure(err)));
      ctx.log('Restored.', 'info');
    } finally {
      if (wasRunning) {
        ctx.log('→ Starting the app', 'info');
        await deps.power.startNow(stack, ctx.log);
        ctx.log((await settle(stack, 'running')) ? 'The app is running again.' : `The app has not started within ${SETTLE_MS / 1000} s: see its page.`, 'info');
      } else ctx.log('The app was stopped before the restore: it stays stopped.', 'info');
    }
  }

  /** Retention for scheduled snapshots only: manual and safety snapshots stay until someone removes them. */
  async function prune(ctx: JobContext, tag: string, keep: Retention): Promise<void> {
    ctx.log(`→ Keeping ${keep.daily} daily, ${keep.weekly} weekly and ${keep.monthly} monthly scheduled snapshots; pruning the rest`, 'info');
    ctx.setPhase('Pruning old snapshots');
    try {
      await repo.restic().forget([tag, 'trigger=schedule'], keep, ctx.signal);
    } catch (err) {
      throw asJobFailure(err);
    } finally {
      ctx.setPhase(null);
    }
    ctx.log('Pruned.', 'info');
  }

  const submitApp = (stack: string, kind: string, actor: Actor, args: Record<string, unknown>, run: (ctx: JobContext) => Promise<void>): JobRow => {
    repo.restic(); // refuse before a job starts
    return jobs.submit({ kind, app: stack, recipe: null, actor, args: { stack, ...args }, run });
  };

  return {
    planOf,
    snapshots: snapshotsOf,
    describeProgress,

    /** `keep`: after the snapshot, restic forgets and prunes this app's older scheduled snapshots beyond it. */
    backUp(stack: string, actor: Actor, trigger: BackupTrigger = 'manual', keep?: Retention): JobRow {
      return submitApp(stack, BACKUP_KIND, actor, { trigger }, async (ctx) => {
        await backUpApp(ctx, stack, trigger);
        if (keep) await prune(ctx, appTag(stack), keep);
      });
    },

    backUpNode(actor: Actor, trigger: BackupTrigger = 'manual', keep?: Retention): JobRow {
      repo.restic();
      return jobs.submit({ kind: NODE_BACKUP_KIND, app: null, recipe: null, actor, args: { trigger }, run: async (ctx) => {
        await backUpNode(ctx, trigger);
        if (keep) await prune(ctx, NODE_TAG, keep);
      } });
    },

    /** Restores a snapshot after the steward typed the app's name. */
    async restore(stack: string, snapshotId: unknown, typed: unknown, actor: Actor): Promise<JobRow> {
      if (typeof typed !== 'string' || typed.trim() !== stack) throw new UserFacingError(`To restore, type the app’s name exactly: ${stack}`);
      const snap = await findSnapshot(stack, snapshotId);
      return submitApp(stack, RESTORE_KIND, actor, { snapshot: snap.shortId, time: snap.time }, (ctx) => restore(ctx, stack, snap, actor));
    },

    findSnapshot,

    /** Whether upgrades take a safety snapshot first (on unless an admin turned it off). */
    snapshotBeforeUpgrade: () => store.settings.get(UPGRADE_SNAPSHOT_KEY) !== '0',
    setSnapshotBeforeUpgrade(on: boolean, by: string): void {
      store.settings.set(UPGRADE_SNAPSHOT_KEY, on ? '1' : '0', by, now());
    },

    /**
     * Inside an upgrade's job, before abra changes anything: a snapshot of an app that has backup labels, when the
     * setting is on and a repository is set up. A failed snapshot fails the upgrade (nothing was changed yet).
     */
    async beforeUpgrade(ctx: JobContext, stack: string): Promise<void> {
      if (!this.snapshotBeforeUpgrade() || !repo.location() || !(await planOf(stack))) return;
      ctx.log('→ A safety snapshot before the upgrade', 'info');
      await backUpApp(ctx, stack, 'pre-upgrade');
    },

    /** The safety snapshot an upgrade job took, for its "restore the data from before the upgrade". */
    safetySnapshotOf: (jobId: number): BackupRun | undefined => store.backups.byJob(jobId, 'pre-upgrade'),

    /**
     * At start: a backup or restore the last stop cut off may have left restic's lock behind (its process died with
     * the node). Stale locks are removed; any left are reported.
     */
    async releaseLocksAfterRestart(interrupted: JobRow[]): Promise<string | undefined> {
      // An upgrade may have been taking its safety snapshot.
      const cut = interrupted.some((j) => [BACKUP_KIND, NODE_BACKUP_KIND, RESTORE_KIND, 'upgrade'].includes(j.kind));
      if (!cut || !repo.location()) return undefined;
      try {
        const out = await repo.restic().unlock();
        deps.log.info({ restic: out.trim() }, 'released restic locks left by a backup the last stop cut off');
        return out.trim();
      } catch (err) {
        deps.log.warn({ err: (err as Error).message }, 'could not release restic locks after a restart');
        return (err as Error).message;
      }
    },
  };
}
export type BackupService = ReturnType<typeof backupService>;
