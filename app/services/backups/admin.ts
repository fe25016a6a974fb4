// What people do to backups outside a job, each recorded in the audit log where it is done: the repository, the
// snapshot before upgrades, schedules, a download, and the one-click restore after a failed upgrade. Jobs (back up,
// restore) audit their own outcome.
import type { BackupRun, BackupSchedule } from '../../store/backups.ts';
import type { JobRow } from '../../store/jobs.ts';
import type { Actor, AuditLog } from '../audit.ts';
import type { BackupService, SnapshotView } from './backups.ts';
import { shownRepository, type BackupRepository } from './repository.ts';
import type { BackupScheduler } from './schedule.ts';

type RepositoryInput = Parameters<BackupRepository['setUp']>[0];

export function backupAdmin(deps: { backups: BackupService; repo: BackupRepository; schedule: BackupScheduler; audit: AuditLog }) {
  const { audit } = deps;
  return {
    /** The password itself never reaches the audit log: only that one was made. */
    async setRepository(actor: Actor, input: RepositoryInput): ReturnType<BackupRepository['setUp']> {
      const result = await deps.repo.setUp(input, actor.name);
      audit.record(actor, 'backup.repository', { target: shownRepository(result.repository), detail: { created: result.created, passwordGenerated: Boolean(result.generatedPassword) } });
      return result;
    },
    setSnapshotBeforeUpgrade(actor: Actor & { name: string }, on: boolean): void {
      deps.backups.setSnapshotBeforeUpgrade(on, actor.name);
      audit.record(actor, 'backup.before-upgrade', { detail: { on } });
    },
    /** A daily backup at a quiet hour with retention for `target` (a stack, or '' for the node). */
    setSchedule(actor: Actor, target: string, input: unknown): BackupSchedule {
      const saved = deps.schedule.set(target, input, actor.name);
      audit.record(actor, 'backup.schedule', { target: target || 'node', detail: { hour: saved.hour, keepDaily: saved.keepDaily, keepWeekly: saved.keepWeekly, keepMonthly: saved.keepMonthly } });
      return saved;
    },
    removeSchedule(actor: Actor, target: string): void {
      deps.schedule.remove(target);
      audit.record(actor, 'backup.schedule', { target: target || 'node', detail: { removed: true } });
    },
    /** The snapshot a download is about to stream, audited before the first byte leaves. */
    async snapshotForDownload(actor: Actor, stack: string, idInput: unknown): Promise<SnapshotView> {
      const snap = await deps.backups.findSnapshot(stack, idInput);
      audit.record(actor, 'backup.download', { target: stack, detail: { snapshot: snap.shortId } });
      return snap;
    },
    /** "Restore the data from before the upgrade" of a failed upgrade job the caller may restore. */
    async restoreBeforeUpgrade(actor: Actor, job: JobRow & { app: string }, safety: BackupRun): Promise<JobRow> {
      audit.record(actor, 'backup.restore-before-upgrade', { target: job.app, detail: { job: job.id, snapshot: safety.snapshotId } });
      return deps.backups.restore(job.app, safety.snapshotId, job.app, actor);
    },
  };
}
export type BackupAdmin = ReturnType<typeof backupAdmin>;
