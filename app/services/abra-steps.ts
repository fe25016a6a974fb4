// abra calls inside a job: their lines go to the job's output and their failure becomes the job's reason; a call
// that deploys is watched through the live model, so a task error that waiting will not fix ends it at once.
import { AbraError } from '../adapters/abra/run.ts';
import { troubleIn, watchDeploy, withoutPictographs, type SwarmView, type Trouble } from './deploy-watch.ts';
import { JobFailure, type JobContext } from './jobs.ts';
import type { Finding } from './preflight.ts';

export type AbraCall = (o: { onLine: (l: string) => void; signal: AbortSignal }) => Promise<unknown>;

/** Runs one abra call in a job, stopped by `signal` (the job's own by default). */
export async function abraStep<T>(ctx: JobContext, what: string, call: (o: { onLine: (l: string) => void; signal: AbortSignal }) => Promise<T>, signal: AbortSignal = ctx.signal): Promise<T> {
  ctx.log(`→ ${what}`, 'info');
  try {
    return await call({ onLine: (l) => ctx.log(l), signal });
  } catch (err) {
    if (err instanceof AbraError) throw new JobFailure(`${what}: ${err.message}`, err.exitCode);
    throw err;
  }
}

/**
 * An abra call that deploys `stack`, watched while abra waits for convergence: a task error that waiting will not
 * fix stops abra at once (its process group), and the job fails with that reason in plain words.
 */
export async function watchedDeployStep(swarm: SwarmView, ctx: JobContext, what: string, stack: string, call: AbraCall): Promise<void> {
  // Docker stamps tasks with the wall clock (not the node's injected one); a second of slack for the two apart.
  const since = Date.now() - 1000;
  const watch = watchDeploy(swarm, stack, since);
  const cut = new AbortController();
  let trouble: Trouble | undefined;
  void watch.trouble.then((t) => {
    trouble = t;
    cut.abort();
  });
  try {
    await abraStep(ctx, what, call, AbortSignal.any([ctx.signal, cut.signal]));
  } catch (err) {
    if (trouble && !ctx.signal.aborted) {
      ctx.log(`Stopped waiting: the swarm cannot start ${trouble.service}.`, 'info');
      throw new JobFailure(trouble.reason);
    }
    if (!(err instanceof JobFailure) || ctx.signal.aborted) throw err;
    // abra gave up first (its timeout, a paused update): what the swarm says about the stack is the reason to act on.
    const settled = troubleIn(swarm.services.values(), stack, since, { settled: true });
    throw new JobFailure(settled ? settled.reason : withoutPictographs(err.message), err.exitCode);
  } finally {
    watch.stop();
  }
}

/** What pre-flight found, for a job's page: the findings, and what to do about a missing folder. */
export const findingsText = (found: Finding[]): string =>
  `${found.map((f) => f.problem).join(' ')}${found.some((f) => f.createFolder) ? " Create the folder on the app's settings page, or choose another folder." : ''}`;
