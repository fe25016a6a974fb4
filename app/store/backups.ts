// What the node knows of its backups beyond restic's own list: each snapshot's size and trigger, and schedules.
import { prep, type Db } from './db.ts';

export type BackupTrigger = 'manual' | 'schedule' | 'pre-upgrade' | 'pre-restore';
export type BackupRun = {
  id: number;
  jobId: number | null;
  /** null: the node itself. */
  stack: string | null;
  snapshotId: string;
  trigger: BackupTrigger;
  files: number;
  bytes: number;
  bytesAdded: number;
  seconds: number;
  createdAt: number;
};
export type BackupSchedule = { stack: string; hour: number; keepDaily: number; keepWeekly: number; keepMonthly: number; lastRunOn: string | null };

const RUN_COLS = 'id, job_id AS jobId, stack, snapshot_id AS snapshotId, trigger, files, bytes, bytes_added AS bytesAdded, seconds, created_at AS createdAt';
const SCHEDULE_COLS = 'stack, hour, keep_daily AS keepDaily, keep_weekly AS keepWeekly, keep_monthly AS keepMonthly, last_run_on AS lastRunOn';

export function backupStore(db: Db) {
  return {
    record(r: Omit<BackupRun, 'id'>): void {
      prep(db, 'INSERT OR REPLACE INTO backup_runs (job_id, stack, snapshot_id, trigger, files, bytes, bytes_added, seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        r.jobId, r.stack, r.snapshotId, r.trigger, r.files, r.bytes, r.bytesAdded, r.seconds, r.createdAt,
      );
    },
    runs(stack: string | null, limit = 200): BackupRun[] {
      return prep(db, `SELECT ${RUN_COLS} FROM backup_runs WHERE stack IS ? ORDER BY id DESC LIMIT ?`).all(stack, limit) as BackupRun[];
    },
    bySnapshot(snapshotId: string): BackupRun | undefined {
      return prep(db, `SELECT ${RUN_COLS} FROM backup_runs WHERE snapshot_id = ?`).get(snapshotId) as BackupRun | undefined;
    },
    /** The snapshot a job made with this trigger (an upgrade's safety snapshot). */
    byJob(jobId: number, trigger: BackupTrigger): BackupRun | undefined {
      return prep(db, `SELECT ${RUN_COLS} FROM backup_runs WHERE job_id = ? AND trigger = ? ORDER BY id DESC LIMIT 1`).get(jobId, trigger) as BackupRun | undefined;
    },
    schedule(stack: string): BackupSchedule | undefined {
      return prep(db, `SELECT ${SCHEDULE_COLS} FROM backup_schedules WHERE stack = ?`).get(stack) as BackupSchedule | undefined;
    },
    schedules(): BackupSchedule[] {
      return prep(db, `SELECT ${SCHEDULE_COLS} FROM backup_schedules ORDER BY stack`).all() as BackupSchedule[];
    },
    setSchedule(s: Omit<BackupSchedule, 'lastRunOn'>, by: string | null, now: number): void {
      prep(db, `INSERT INTO backup_schedules (stack, hour, keep_daily, keep_weekly, keep_monthly, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(stack) DO UPDATE SET hour = excluded.hour, keep_daily = excluded.keep_daily, keep_weekly = excluded.keep_weekly,
        keep_monthly = excluded.keep_monthly, updated_at = excluded.updated_at, updated_by = excluded.updated_by`).run(s.stack, s.hour, s.keepDaily, s.keepWeekly, s.keepMonthly, now, by);
    },
    removeSchedule(stack: string): void {
      prep(db, 'DELETE FROM backup_schedules WHERE stack = ?').run(stack);
    },
    /** Marks today's run as started, once: false when it already ran (or started) today. */
    claimScheduledRun(stack: string, day: string): boolean {
      return prep(db, 'UPDATE backup_schedules SET last_run_on = ? WHERE stack = ? AND last_run_on IS NOT ?').run(day, stack, day).changes === 1;
    },
  };
}
export type BackupStore = ReturnType<typeof backupStore>;
