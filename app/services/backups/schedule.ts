// Daily backups at a quiet hour an admin or steward picks, with restic's retention (keep N daily / weekly / monthly,
// then prune). Schedules live in SQLite, and each day's run is claimed there: a restart neither loses a schedule
// nor runs one twice; a run the restart cut off ends "interrupted" and tomorrow's runs as usual.
import { z } from 'zod';
import type { Logger } from '../../log.ts';
import type { BackupSchedule } from '../../store/backups.ts';
import type { Store } from '../../store/index.ts';
import type { JobRow } from '../../store/jobs.ts';
import { parseOrRefuse } from '../../validation.ts';
import type { BackupService } from './backups.ts';

const count = (what: string) => z.coerce.number({ message: `must be a number of ${what}` }).int(`must be a whole number of ${what}`).min(0, 'must be 0 or more').max(1000, 'must be at most 1000');
export const scheduleSchema = z
  .object({
    hour: z.coerce.number({ message: 'must be an hour from 0 to 23' }).int('must be an hour from 0 to 23').min(0, 'must be an hour from 0 to 23').max(23, 'must be an hour from 0 to 23'),
    keepDaily: count('days'),
    keepWeekly: count('weeks'),
    keepMonthly: count('months'),
  })
  .refine((k) => k.keepDaily + k.keepWeekly + k.keepMonthly > 0, { message: 'must keep at least one snapshot', path: ['keepDaily'] });

export const DEFAULT_RETENTION = { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 };
/** The node itself, in the schedules table. */
export const NODE_SCHEDULE = '';
const TICK_MS = 60_000;

/** The day in the node's local time, as the claim's key: 2026-12-04. */
const dayOf = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

export function backupScheduler(deps: { store: Store; backups: BackupService; now: () => number; log: Logger }) {
  const { store, backups } = deps;
  let timer: NodeJS.Timeout | undefined;

  function runNow(s: BackupSchedule): JobRow {
    const actor = { name: 'schedule', ip: null };
    const keep = { daily: s.keepDaily, weekly: s.keepWeekly, monthly: s.keepMonthly };
    return s.stack === NODE_SCHEDULE ? backups.backUpNode(actor, 'schedule', keep) : backups.backUp(s.stack, actor, 'schedule', keep);
  }

  return {
    list: () => store.backups.schedules(),
    of: (stack: string) => store.backups.schedule(stack),

    set(stack: string, input: unknown, by: string | null): BackupSchedule {
      const s = parseOrRefuse(scheduleSchema, input, { hour: 'The hour', keepDaily: 'Daily snapshots to keep', keepWeekly: 'Weekly snapshots to keep', keepMonthly: 'Monthly snapshots to keep' });
      store.backups.setSchedule({ stack, ...s }, by, deps.now());
      return store.backups.schedule(stack)!;
    },
    remove: (stack: string) => store.backups.removeSchedule(stack),

    /**
     * Starts each schedule whose hour it is and that has not run today. A busy app (a job on it) is tried again on
     * the next tick, within the hour; one the node was down for all hour waits for tomorrow.
     */
    tick(at = new Date(deps.now())): JobRow[] {
      const day = dayOf(at);
      const started: JobRow[] = [];
      for (const s of store.backups.schedules()) {
        if (s.hour !== at.getHours() || s.lastRunOn === day) continue;
        try {
          const job = runNow(s);
          store.backups.claimScheduledRun(s.stack, day);
          started.push(job);
        } catch (err) {
          deps.log.warn({ stack: s.stack || 'the node', err: (err as Error).message }, 'a scheduled backup could not start yet');
        }
      }
      return started;
    },

    start(): void {
      this.tick();
      timer = setInterval(() => {
        try {
          this.tick();
        } catch (err) {
          deps.log.error({ err: (err as Error).message }, 'the backup schedule could not be read');
        }
      }, TICK_MS);
      timer.unref();
    },
    stop: () => timer && clearInterval(timer),
  };
}
export type BackupScheduler = ReturnType<typeof backupScheduler>;
