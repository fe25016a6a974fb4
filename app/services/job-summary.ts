// What a job page says about how a job stands, in a steward's words: what a queued job waits for, and for a job that
// was cancelled or cut off by a restart, the app's state NOW (from the live model), so the page answers "did it work?".
import type { LiveModel } from '../adapters/docker/live-model.ts';
import type { JobRow } from '../store/jobs.ts';
import type { AppView } from './apps.ts';
import { NOT_STARTED_BY_RESTART, RESTART_INTERRUPTION, type WaitingFor } from './jobs.ts';

/** ok: nothing to worry about; info: worth reading; warn: the app needs a look; error: the job failed. */
export type Tone = 'ok' | 'info' | 'warn' | 'error';
export type JobSummary = { tone: Tone; lines: string[] };

/** A job's title as its page heads it: what, and on which app. */
export function jobTitle(job: Pick<JobRow, 'id' | 'kind' | 'app' | 'args'>): string {
  const on = typeof job.args.domain === 'string' ? job.args.domain : job.app;
  return `job ${job.id}, ${job.kind}${on ? ` of ${on}` : ''}`;
}

/** The app is up as it should be: every replica it wants is running and healthy. */
const runningFine = (app: AppView) => app.status === 'running' && app.desired > 0 && app.running === app.desired;

/** One sentence on the app as the swarm has it now. */
export function appNow(app: AppView | undefined): string {
  if (!app || app.status === 'not deployed') return 'The app is not deployed now.';
  if (runningFine(app)) return `The app is running now (${app.running}/${app.desired}).`;
  if (app.status === 'stopped') return 'The app is stopped now.';
  return `The app is ${app.status} now: ${app.running}/${app.desired} running.`;
}

export function waitingWords(waiting: WaitingFor): string {
  if (waiting.job) return `Waiting for ${jobTitle(waiting.job)} to end; it starts then.`;
  return `Waiting for a free place: ${waiting.running} job${waiting.running === 1 ? ' is' : 's are'} running on the node; it starts when one ends.`;
}

/**
 * What the page says beside the job's state. `app` is the job's app as the live model has it now (undefined when it
 * is not an app's job or the app is gone); `waiting` what a queued job waits for.
 */
export function jobSummary(job: JobRow, app: AppView | undefined, waiting?: WaitingFor): JobSummary | undefined {
  const forApp = job.app !== null;
  if (job.state === 'queued') return waiting ? { tone: 'info', lines: [waitingWords(waiting)] } : undefined;
  if (job.state === 'cancelled') {
    if (!forApp || job.error?.includes('before it started') || job.kind === 'zim-download') return { tone: 'info', lines: [job.error ?? 'Cancelled.'] };
    const said = job.error ?? 'Cancelled.';
    if (app && runningFine(app)) return { tone: 'ok', lines: [said, appNow(app)] };
    if (!app) return { tone: 'info', lines: [said, 'Nothing of the app is on the node now: install it again if it is still wanted.'] };
    if (app.status === 'not deployed') return { tone: 'info', lines: [said, 'The app is installed but not deployed now: deploy it when it is wanted.'] };
    return { tone: 'warn', lines: [said, `The app is left as the swarm has it now: ${app.status}, ${app.running}/${app.desired} running. Deploy again or stop it.`] };
  }
  if (job.state === 'interrupted' && job.error?.startsWith(RESTART_INTERRUPTION)) {
    if (job.error === NOT_STARTED_BY_RESTART) return { tone: 'info', lines: [job.error] };
    if (!forApp) return { tone: 'warn', lines: [`${RESTART_INTERRUPTION}.`, 'Run it again if it is still wanted.'] };
    // No alarm when the app is in fact fine: the restart cut off the job's watching, not necessarily its work.
    if (app && runningFine(app)) return { tone: 'ok', lines: [`${RESTART_INTERRUPTION}.`, `The node restarted during this job. ${appNow(app)}`] };
    return { tone: 'warn', lines: [`${RESTART_INTERRUPTION}.`, `The node restarted during this job. ${appNow(app)} Run the job again if the app is not as it should be.`] };
  }
  if (job.error) return { tone: job.state === 'failed' ? 'error' : 'info', lines: [job.error] };
  return undefined;
}

/** For a cancelled job's output: the app as the swarm had it when the job let go (the page shows it now, live). */
export function appStateLine(model: Pick<LiveModel, 'status'>, app: AppView | undefined): string {
  if (model.status.stale) return 'Docker does not answer right now, so the state the app was left in is unknown.';
  return app && app.status !== 'not deployed' ? `The app was left as the swarm had it: ${app.status}, ${app.running}/${app.desired} running.` : 'The app was left not deployed.';
}
