// Cancelling a job on a person's word: who may (stewards and admins for an app's jobs, the job's own starter or an
// admin for the others), which jobs may not be stopped halfway, and the cancel itself, audited.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../store/index.ts';
import type { JobRow } from '../store/jobs.ts';
import type { AppAccess, AppAction, Caller } from './app-access.ts';
import type { AppDirectory } from './app-directory.ts';
import type { AuditLog } from './audit.ts';
import { RESTORE_KIND } from './backups/backups.ts';
import { UserFacingError } from '../errors.ts';
import type { JobRunner } from './jobs.ts';
import { DOWNLOAD_KIND, type ZimDownloads } from './zim/download-jobs.ts';

const APP_ACTIONS = new Set<string>(['stop', 'start', 'restart', 'deploy', 'config', 'upgrade', 'rollback', 'undeploy', 'remove', 'backup', 'restore']);
/** The app action a job of this kind is, for the question whether a steward may act on its app. */
const actionOf = (kind: string): AppAction => (APP_ACTIONS.has(kind) ? (kind as AppAction) : kind === 'secrets' || kind === 'settings' ? 'config' : 'deploy');
/** How long a cancel request waits for the job to let go, so the page it returns to already says "cancelled". */
const SETTLE_MS = 10_000;

export function jobCancelService(deps: { jobs: JobRunner; store: Store; access: AppAccess; apps: Pick<AppDirectory, 'lookup'>; audit: AuditLog; downloads: Pick<ZimDownloads, 'cancel'> }) {
  // The apps directory's shared list (one per live-model version), not a fresh mapping per cancel check.
  const appOf = (stack: string) => deps.apps.lookup(stack);

  /** Why this caller may not cancel this job at all (a 403 with the reason), or undefined when they may. */
  async function forbidden(caller: Caller, job: JobRow): Promise<UserFacingError | undefined> {
    if (caller.role === 'guest') return new UserFacingError('Guests can look but not cancel jobs. Ask a steward of this node.', 403);
    if (caller.role === 'admin') return undefined;
    if (!job.app) return job.actor === caller.name ? undefined : new UserFacingError('Only the person who started this job, or an admin, may cancel it.', 403);
    if (job.kind === DOWNLOAD_KIND) return undefined; // stewards manage every Kiwix app's downloads
    const app = appOf(job.app);
    if (!app) return undefined; // an install before its env file exists: stewards may install
    try {
      await deps.access.authorize(caller, app, actionOf(job.kind));
      return undefined;
    } catch (err) {
      if (err instanceof UserFacingError) return err;
      throw err;
    }
  }

  /**
   * Why this caller may not cancel this job now, or undefined when they may: who they are first (403), so that
   * someone without the right learns nothing of the job's state; then whether the job can still be stopped (409).
   */
  async function refusal(caller: Caller, job: JobRow): Promise<UserFacingError | undefined> {
    const denied = await forbidden(caller, job);
    if (denied) return denied;
    if (job.state !== 'queued' && job.state !== 'running') return new UserFacingError('This job has ended: there is nothing to cancel.', 409);
    if (job.args.self) return new UserFacingError('The node’s own upgrade cannot be cancelled: the swarm is replacing the node already.', 409);
    if (job.kind === RESTORE_KIND && job.state === 'running') {
      return new UserFacingError('A restore cannot be stopped halfway: the app’s data would be left half restored. Wait for it to end.', 409);
    }
    return undefined;
  }

  return {
    /** Whether the page should offer this caller a Cancel button for this job. */
    async mayCancel(caller: Caller, job: JobRow): Promise<boolean> {
      return !(await refusal(caller, job));
    },

    /**
     * Cancels the job (audited) and waits a little for it to end. A ZIM download is cancelled as its library page
     * does it (the part file deleted); any other running job has its abra process group stopped.
     */
    async cancel(jobId: number, caller: Caller): Promise<JobRow> {
      const job = deps.store.jobs.byId(jobId);
      if (!job) throw new UserFacingError('There is no such job.', 404);
      const refused = await refusal(caller, job);
      if (refused) throw refused;
      const actor = { name: caller.name, ip: caller.ip };
      if (job.kind === DOWNLOAD_KIND && job.app && typeof job.args.fileName === 'string') {
        await deps.downloads.cancel(job.app, job.args.fileName, actor);
      } else {
        deps.jobs.cancel(job.id, actor);
      }
      deps.audit.record(actor, 'job.cancel', { target: job.app ?? job.recipe ?? undefined, detail: { job: job.id, kind: job.kind, was: job.state } });
      await Promise.race([deps.jobs.finished(job.id), sleep(SETTLE_MS)]);
      return deps.store.jobs.byId(job.id)!;
    },
  };
}
export type JobCancelService = ReturnType<typeof jobCancelService>;
