// Durable jobs: every change to an app is a row in SQLite with its output, streamed live to pages.
// One job at a time per app and per recipe checkout (abra shares one git tree per recipe), at most
// a few at once in all (a Pi has few cores); a request beyond that is told "busy", never queued silently.
import { EventEmitter } from 'node:events';
import type { JobRow, JobState, JobStore } from '../store/jobs.ts';
import type { Actor, AuditLog } from './audit.ts';
import { UserFacingError } from '../errors.ts';

export type JobLog = (line: string, stream?: 'out' | 'err' | 'info') => void;
export type JobContext = { job: JobRow; log: JobLog; signal: AbortSignal; setPhase(phase: string | null): void };
/**
 * Jobs in different lanes do not wait for each other: abra changes an app in minutes and needs the CPU, a ZIM
 * download takes hours on the uplink and must not hold the app's deploys back.
 */
export type JobLane = 'abra' | 'download';
export type JobSpec = {
  kind: string;
  app: string | null;
  recipe: string | null;
  args?: Record<string, unknown>;
  actor: Actor;
  lane?: JobLane;
  /**
   * The node's own upgrade: the swarm replaces this process midway, and the next process finishes the job
   * (see `continueJob`). A shutdown leaves such a job running in the store instead of interrupting it.
   */
  survivesRestart?: boolean;
  run(ctx: JobContext): Promise<void>;
};

/** What taking over a job left running by the previous process needs: who it was for and the rest of its work. */
export type JobContinuation = Pick<JobSpec, 'actor' | 'lane' | 'survivesRestart' | 'run'>;

/** A job stopped on purpose (pause, cancel): it ends as interrupted with this reason, not as failed. */
export class JobStopped extends Error {}

export type JobEvent = { type: 'line'; seq: number; stream: string; line: string } | { type: 'state'; state: JobState };

/** An error whose message is the whole story for the job's page (no stack needed). */
export class JobFailure extends Error {
  readonly exitCode: number | null;
  constructor(message: string, exitCode: number | null = null) {
    super(message);
    this.exitCode = exitCode;
  }
}

const MAX_LINE = 4000;
/** How a job cut off by the node stopping or restarting is described; downloads look for it to go on by themselves. */
export const RESTART_INTERRUPTION = 'Interrupted by a restart of the node';

export class JobRunner {
  readonly #store: JobStore;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #limit: number;
  readonly #running = new Map<number, { kind: string; app: string | null; recipe: string | null; lane: JobLane; survivesRestart: boolean; abort: AbortController; done: Promise<void> }>();
  readonly #events = new EventEmitter<Record<string, [JobEvent]>>();

  readonly #downloadLimit: number;
  /** Set at shutdown: a job that survives restarts must not record an outcome on the way out (the next process does). */
  #shuttingDown = false;
  /** Goes up whenever a job starts or ends, so pages showing which apps are busy can be kept until it moves. */
  #version = 0;
  get version(): number {
    return this.#version;
  }

  constructor(store: JobStore, audit: AuditLog, opts: { now: () => number; limit?: number; downloadLimit?: number }) {
    this.#store = store;
    this.#audit = audit;
    this.#now = opts.now;
    this.#limit = opts.limit ?? 2;
    this.#downloadLimit = opts.downloadLimit ?? 2;
    this.#events.setMaxListeners(0);
  }

  /** Why a new job on this app/recipe cannot start now, or undefined if it can. */
  busyReason(app: string | null, recipe: string | null, lane: JobLane = 'abra', survivesRestart = false): string | undefined {
    const same = [...this.#running.values()].filter((r) => r.lane === lane);
    // The node's own upgrade restarts it: nothing may start meanwhile, and it may not cut off jobs under way.
    const restarting = same.find((r) => r.survivesRestart);
    if (restarting) return `The node is ${restarting.kind === 'rollback' ? 'rolling itself back' : 'upgrading itself'}: wait until it is back.`;
    if (survivesRestart && same.length) return `Wait until the running job${same.length > 1 ? 's have' : ' has'} finished: the node restarts itself, which would cut ${same.length > 1 ? 'them' : 'it'} off.`;
    for (const r of same) {
      if (app && r.app === app) return `${app} is busy: a “${r.kind}” job is still running on it.`;
      if (recipe && r.recipe === recipe) return `The ${recipe} recipe is busy: a “${r.kind}” job on ${r.app ?? 'it'} is using its checkout.`;
    }
    const limit = lane === 'abra' ? this.#limit : this.#downloadLimit;
    if (same.length >= limit) return `The node is busy: ${same.length} ${lane === 'abra' ? 'jobs are' : 'downloads are'} running. Try again when one has finished.`;
    return undefined;
  }

  /** What kind of job runs on this app right now, if any. */
  holder(app: string): string | undefined {
    for (const r of this.#running.values()) if (r.app === app && r.lane === 'abra') return r.kind;
    return undefined;
  }

  /** Stops a running job on purpose (pause, cancel): it ends as interrupted, saying `reason`. */
  stop(jobId: number, reason: string): boolean {
    const r = this.#running.get(jobId);
    if (!r) return false;
    r.abort.abort(new JobStopped(reason));
    return true;
  }

  isRunning(jobId: number): boolean {
    return this.#running.has(jobId);
  }

  /** Starts the job now, or throws a 409 "busy". Returns the job's row at once; the work goes on in the background. */
  submit(spec: JobSpec): JobRow {
    const lane = spec.lane ?? 'abra';
    const busy = this.busyReason(spec.app, spec.recipe, lane, spec.survivesRestart);
    if (busy) throw new UserFacingError(busy, 409);
    const job = this.#store.create({ kind: spec.kind, app: spec.app, recipe: spec.recipe, args: spec.args ?? {}, actor: spec.actor.name }, this.#now());
    this.#start(job, spec, false);
    return job;
  }

  /**
   * Finishes, in this process, a job the previous process left running on purpose (`survivesRestart`): its
   * output goes on where it stopped, and it ends (and is audited) like any job.
   */
  continueJob(job: JobRow, spec: JobContinuation): void {
    if (this.#running.has(job.id)) return;
    this.#start(job, { ...spec, kind: job.kind, app: job.app, recipe: job.recipe, args: job.args }, true);
  }

  #start(job: JobRow, spec: JobSpec, continued: boolean): void {
    const abort = new AbortController();
    const entry = { kind: spec.kind, app: spec.app, recipe: spec.recipe, lane: spec.lane ?? 'abra', survivesRestart: spec.survivesRestart ?? false, abort, done: Promise.resolve() };
    this.#running.set(job.id, entry);
    this.#version += 1;
    entry.done = this.#execute(job, spec, abort.signal, continued);
  }

  async #execute(job: JobRow, spec: JobSpec, signal: AbortSignal, continued: boolean): Promise<void> {
    let seq = this.#store.lastSeq(job.id) + 1;
    const log: JobLog = (line, stream = 'out') => {
      const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
      this.#store.appendOutput(job.id, [{ stream, line: text }], this.#now(), seq);
      this.#events.emit(String(job.id), { type: 'line', seq, stream, line: text });
      seq += 1;
    };
    const setPhase = (phase: string | null) => {
      this.#store.setPhase(job.id, phase);
      this.#events.emit(String(job.id), { type: 'state', state: 'running' });
    };
    if (!continued) this.#store.markRunning(job.id, this.#now());
    this.#events.emit(String(job.id), { type: 'state', state: 'running' });
    let state: 'succeeded' | 'failed' | 'interrupted' = 'succeeded';
    let error: string | null = null;
    let exitCode: number | null = 0;
    try {
      await spec.run({ job: this.#store.byId(job.id)!, log, signal, setPhase });
    } catch (err) {
      const stopped = signal.reason instanceof JobStopped ? signal.reason : undefined;
      state = stopped ? 'interrupted' : 'failed';
      error = stopped
        ? stopped.message
        : err instanceof JobFailure || err instanceof UserFacingError
          ? err.message
          : `Unexpected error: ${(err as Error).message}`;
      exitCode = err instanceof JobFailure ? err.exitCode : null;
      log(error, stopped ? 'info' : 'err');
    } finally {
      if (this.#shuttingDown && spec.survivesRestart) {
        this.#running.delete(job.id);
        this.#version += 1;
        return; // left running on purpose: the next process finishes it
      }
      this.#store.finish(job.id, state, { exitCode, error }, this.#now());
      this.#running.delete(job.id);
      this.#version += 1;
      this.#audit.record(spec.actor, `job.${spec.kind}`, {
        target: spec.app ?? spec.recipe ?? undefined,
        outcome: state === 'succeeded' ? 'ok' : 'failed',
        detail: { job: job.id, ...(spec.args ?? {}), ...(error ? { error } : {}) },
      });
      this.#events.emit(String(job.id), { type: 'state', state });
    }
  }

  /**
   * At start: jobs a previous process left queued or running were cut off. Mark them interrupted,
   * and note what the live state says now, so the steward sees the truth rather than a stuck spinner.
   */
  recover(describeNow: (job: JobRow) => string, takenOver: (job: JobRow) => boolean = () => false): JobRow[] {
    const left = this.#store.unfinished().filter((job) => !takenOver(job));
    for (const job of left) {
      const now = describeNow(job);
      const seq = this.#store.lastSeq(job.id) + 1;
      this.#store.appendOutput(job.id, [{ stream: 'info', line: `The node restarted while this job ran. ${now}` }], this.#now(), seq);
      this.#store.finish(job.id, 'interrupted', { error: `${RESTART_INTERRUPTION}. ${now}` }, this.#now());
      this.#audit.record({ name: job.actor, ip: null }, `job.${job.kind}`, { target: job.app ?? undefined, outcome: 'failed', detail: { job: job.id, interrupted: true } });
    }
    return left;
  }

  subscribe(jobId: number, fn: (e: JobEvent) => void): () => void {
    this.#events.on(String(jobId), fn);
    return () => this.#events.off(String(jobId), fn);
  }

  /** Resolves when the job has finished (for tests and for chained steps). */
  async finished(jobId: number): Promise<JobRow> {
    await this.#running.get(jobId)?.done;
    return this.#store.byId(jobId)!;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Asks running jobs to stop (on shutdown): they end as interrupted, now or (if the process ends first) on the next start. */
  abortAll(): void {
    this.#shuttingDown = true;
    for (const r of this.#running.values()) if (!r.survivesRestart) r.abort.abort(new JobStopped(`${RESTART_INTERRUPTION}.`));
  }
}
