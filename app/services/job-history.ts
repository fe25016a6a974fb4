// Jobs as pages read them: the history, one job with its output, and the jobs a stop cut off. Running them is
// jobs.ts's; this only reads what they left in the store.
import { UserFacingError } from '../errors.ts';
import type { JobStore, JobRow, OutputLine } from '../store/jobs.ts';

export type { JobRow, OutputLine };

export function jobHistory(store: JobStore) {
  return {
    /** The job with this id; a 404 that says so otherwise. */
    find(id: number): JobRow {
      const row = store.byId(id);
      if (!row) throw new UserFacingError('There is no such job.', 404);
      return row;
    },
    byId: (id: number): JobRow | undefined => store.byId(id),
    list: (opts: { limit: number; app?: string; beforeId?: number }): JobRow[] => store.list(opts),
    output: (jobId: number, afterSeq = -1): OutputLine[] => store.output(jobId, afterSeq),
    unfinished: (): JobRow[] => store.unfinished(),
  };
}
export type JobHistory = ReturnType<typeof jobHistory>;
