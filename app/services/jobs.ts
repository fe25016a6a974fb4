// Durable jobs: every change to an app is a row in SQLite with its output, streamed live to pages.
// One job at a time per app and per recipe checkout (abra shares one git tree per recipe), at most a few at once
// in all (a Pi has few cores). An abra job beyond that waits its turn, in order, shown as "waiting for …" on its page;
// downloads and the node's own upgrade are still refused with the reason (see `submit`).
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

/** A job stopped on purpose (pause, the node stopping): it ends as interrupted with this reason, not as failed. */
export class JobStopped extends Error {}
/** A job a person cancelled: it ends as cancelled with this reason. */
export class JobCancelled extends JobStopped {}

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
/** The reason of a queued job the node's stop or restart cut off before its turn came: it changed nothing. */
export const NOT_STARTED_BY_RESTART = `${RESTART_INTERRUPTION} before its turn came: nothing was changed. Start it again if it is still wanted.`;
/** At most this many abra jobs wait in all, and this many per app: a queue is for a steward's next step, not a backlog. */
const MAX_WAITING = 20;
const MAX_WAITING_PER_APP = 5;

type Slot = { kind: string; app: string | null; recipe: string | null; lane: JobLane; survivesRestart: boolean };
type Running = Slot & { abort: AbortController; done: Promise<void> };
type Waiting = Slot & { id: number; spec: JobSpec; done: Promise<void>; settle: () => void };
/** What a queued job waits for: the job ahead of it on its app or recipe, or a free place among `running` jobs. */
export type WaitingFor = { job: JobRow } | { job?: undefined; running: number };

export class JobRunner {
  readonly #store: JobStore;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #limit: number;
  readonly #running = new Map<number, Running>();
  /** Abra jobs waiting for their turn, oldest first. */
  #queue: Waiting[] = [];
  readonly #describeApp: (stack: string) => string | undefined;
  readonly #events = new EventEmitter<Record<string, [JobEvent]>>();
  /** An app's abra job started or ended: what `holder` says of it changed (live pages show it). */
  readonly #holders = new EventEmitter<{ change: [app: string] }>();

  readonly #downloadLimit: number;
  /** Set at shutdown: a job that survives restarts must not record an outcome on the way out (the next process does). */
  #shuttingDown = false;
  /** Goes up whenever a job starts or ends, so pages showing which apps are busy can be kept until it moves. */
  #version = 0;
  get version(): number {
    return this.#version;
  }

  /** `describeApp`: one sentence on an app's state now (from the live model), written to a cancelled job's output. */
  constructor(store: JobStore, audit: AuditLog, opts: { now: () => number; limit?: number; downloadLimit?: number; describeApp?: (stack: string) => string | undefined }) {
    this.#store = store;
    this.#describeApp = opts.describeApp ?? (() => undefined);
    this.#audit = audit;
    this.#now = opts.now;
    this.#limit = opts.limit ?? 2;
    this.#downloadLimit = opts.downloadLimit ?? 2;
    this.#events.setMaxListeners(0);
    this.#holders.setMaxListeners(0);
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

  /** Stops a running job on purpose (a paused download): it ends as interrupted, saying `reason` (a person's cancel: `cancel`). */
  stop(jobId: number, reason: string): boolean {
    const r = this.#running.get(jobId);
    if (!r) return false;
    r.abort.abort(new JobStopped(reason));
    return true;
  }

  isRunning(jobId: number): boolean {
    return this.#running.has(jobId);
  }

  /**
   * Starts the job now, or queues it behind the job on the same app or recipe (or until the node has room): the row
   * comes back at once, running or queued, and the work goes on in the background. Refused with a 409: a download
   * on a busy lane (the ZIM page says why in its own words), anything while the node upgrades itself, the node's
   * own upgrade while other jobs run (it would cut them off), and a queue that is full.
   */
  submit(spec: JobSpec): JobRow {
    const lane = spec.lane ?? 'abra';
    const slot: Slot = { kind: spec.kind, app: spec.app, recipe: spec.recipe, lane, survivesRestart: spec.survivesRestart ?? false };
    const mayWait = lane === 'abra' && !slot.survivesRestart && ![...this.#running.values()].some((r) => r.survivesRestart);
    const blocked = mayWait ? this.#blockerOf(slot, this.#queue) : this.busyReason(spec.app, spec.recipe, lane, spec.survivesRestart);
    if (typeof blocked === 'string') throw new UserFacingError(blocked, 409);
    if (blocked) this.#refuseFullQueue(spec);
    const job = this.#store.create({ kind: spec.kind, app: spec.app, recipe: spec.recipe, args: spec.args ?? {}, actor: spec.actor.name }, this.#now());
    if (!blocked) {
      this.#start(job, spec, false);
      return job;
    }
    let settle = () => {};
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.#queue.push({ ...slot, id: job.id, spec, done, settle });
    this.#version += 1;
    return job;
  }

  #refuseFullQueue(spec: JobSpec): void {
    if (this.#queue.length >= MAX_WAITING) throw new UserFacingError(`${MAX_WAITING} jobs are waiting already: try again when some have run.`, 409);
    if (spec.app && this.#queue.filter((w) => w.app === spec.app).length >= MAX_WAITING_PER_APP) {
      throw new UserFacingError(`${MAX_WAITING_PER_APP} jobs are waiting on ${String(spec.args?.domain ?? spec.app)} already: try again when some have run.`, 409);
    }
  }

  /**
   * What keeps an abra job from starting now: the running job or the earlier queued one (`ahead`) on its app or recipe
   * (so jobs on an app run in the order they were asked for), or the node's limit; undefined when it may start.
   */
  #blockerOf(slot: Slot, ahead: Waiting[]): { id: number } | { id?: undefined; running: number } | undefined {
    const same = [...this.#running.entries()].filter(([, r]) => r.lane === slot.lane);
    const shares = (o: Slot) => (slot.app !== null && o.app === slot.app) || (slot.recipe !== null && o.recipe === slot.recipe);
    // The nearest job ahead of it on the same app or recipe is what it waits for; else the one running there.
    const earlier = ahead.findLast((w) => w.lane === slot.lane && shares(w));
    if (earlier) return { id: earlier.id };
    const running = same.find(([, r]) => shares(r));
    if (running) return { id: running[0] };
    if (same.length >= this.#limit) return { running: same.length };
    return undefined;
  }

  /** What a queued job waits for, or undefined when it is not queued. */
  waitingFor(jobId: number): WaitingFor | undefined {
    const at = this.#queue.findIndex((w) => w.id === jobId);
    if (at < 0) return undefined;
    const blocker = this.#blockerOf(this.#queue[at]!, this.#queue.slice(0, at));
    if (blocker?.id !== undefined) {
      const job = this.#store.byId(blocker.id);
      if (job) return { job };
    }
    return { running: blocker && 'running' in blocker ? blocker.running : this.#running.size };
  }

  isQueued(jobId: number): boolean {
    return this.#queue.some((w) => w.id === jobId);
  }

  /** Starts the queued jobs whose turn has come, oldest first; the rest hear that what they wait for may have moved. */
  #drain(): void {
    const still: Waiting[] = [];
    for (const w of this.#queue) {
      if (this.#blockerOf(w, still)) {
        still.push(w);
        continue;
      }
      const job = this.#store.byId(w.id);
      if (!job) continue;
      this.#start(job, w.spec, false);
      void this.#running.get(w.id)!.done.then(w.settle);
    }
    if (still.length !== this.#queue.length) this.#version += 1;
    this.#queue = still;
    for (const w of still) this.#events.emit(String(w.id), { type: 'state', state: 'queued' });
  }

  /**
   * Cancels a job on a person's word. A queued one is taken out of the queue (it changed nothing); a running one is
   * told to stop (its abra process group is stopped) and ends "cancelled" once its work has let go. Which job may be
   * cancelled by whom is the caller's to decide; the node's own upgrade never (the swarm is replacing this process).
   */
  cancel(jobId: number, by: Actor, note?: string): 'queued' | 'running' {
    const who = by.name ?? 'a steward';
    const at = this.#queue.findIndex((w) => w.id === jobId);
    if (at >= 0) {
      const [w] = this.#queue.splice(at, 1);
      this.#version += 1;
      const message = `Cancelled by ${who} before it started: nothing was changed.`;
      this.#store.appendOutput(jobId, [{ stream: 'info', line: message }], this.#now(), this.#store.lastSeq(jobId) + 1);
      this.#store.finish(jobId, 'cancelled', { error: message }, this.#now());
      this.#audit.record(w!.spec.actor, `job.${w!.kind}`, { target: w!.app ?? w!.recipe ?? undefined, outcome: 'failed', detail: { job: jobId, cancelled: true } });
      this.#events.emit(String(jobId), { type: 'state', state: 'cancelled' });
      w!.settle();
      this.#drain();
      return 'queued';
    }
    const r = this.#running.get(jobId);
    if (!r) throw new UserFacingError('This job is not running or waiting any more: there is nothing to cancel.', 409);
    if (r.survivesRestart) throw new UserFacingError('The node’s own upgrade cannot be cancelled: the swarm is replacing the node already.', 409);
    r.abort.abort(new JobCancelled(`Cancelled by ${who}${note ? `; ${note}` : '.'}`));
    return 'running';
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
    const entry: Running = { kind: spec.kind, app: spec.app, recipe: spec.recipe, lane: spec.lane ?? 'abra', survivesRestart: spec.survivesRestart ?? false, abort, done: Promise.resolve() };
    this.#running.set(job.id, entry);
    this.#version += 1;
    this.#holderMoved(entry);
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
    let state: 'succeeded' | 'failed' | 'interrupted' | 'cancelled' = 'succeeded';
    let error: string | null = null;
    let exitCode: number | null = 0;
    try {
      await spec.run({ job: this.#store.byId(job.id)!, log, signal, setPhase });
    } catch (err) {
      const stopped = signal.reason instanceof JobStopped ? signal.reason : undefined;
      state = signal.reason instanceof JobCancelled ? 'cancelled' : stopped ? 'interrupted' : 'failed';
      error = stopped
        ? stopped.message
        : err instanceof JobFailure || err instanceof UserFacingError
          ? err.message
          : `Unexpected error: ${(err as Error).message}`;
      exitCode = err instanceof JobFailure ? err.exitCode : null;
      log(error, stopped ? 'info' : 'err');
      // What the person who cancelled left behind, as the swarm had it then (the page shows it live besides).
      const left = state === 'cancelled' && (spec.lane ?? 'abra') === 'abra' && spec.app ? this.#describeApp(spec.app) : undefined;
      if (left) log(left, 'info');
    } finally {
      if (this.#shuttingDown && spec.survivesRestart) {
        this.#running.delete(job.id);
        this.#version += 1;
        return; // left running on purpose: the next process finishes it
      }
      this.#store.finish(job.id, state, { exitCode, error }, this.#now());
      const ended = this.#running.get(job.id);
      this.#running.delete(job.id);
      this.#version += 1;
      if (ended) this.#holderMoved(ended);
      this.#audit.record(spec.actor, `job.${spec.kind}`, {
        target: spec.app ?? spec.recipe ?? undefined,
        outcome: state === 'succeeded' ? 'ok' : 'failed',
        detail: { job: job.id, ...(spec.args ?? {}), ...(error ? { error } : {}), ...(state === 'cancelled' ? { cancelled: true } : {}) },
      });
      this.#events.emit(String(job.id), { type: 'state', state });
      this.#drain(); // the next job on this app (or any, with a place free) starts now
    }
  }

  /**
   * At start: jobs a previous process left queued or running were cut off. Running ones are marked interrupted, with a
   * line on the app's state when the node came back (the job page shows the state now, live, beside it).
   * Queued ones are not run after a restart: their work was prepared in the old process (validated forms, settings
   * held in memory) for the app as it was when they were asked for, and the job they waited for was cut off, so
   * running them blind could act on an app in a state nobody expected. They are marked so instead, saying that they
   * changed nothing and can be asked for again (`NOT_STARTED_BY_RESTART`).
   */
  recover(describeNow: (job: JobRow) => string, takenOver: (job: JobRow) => boolean = () => false): JobRow[] {
    const left = this.#store.unfinished().filter((job) => !takenOver(job));
    for (const job of left) {
      const seq = this.#store.lastSeq(job.id) + 1;
      if (job.state === 'queued') {
        this.#store.appendOutput(job.id, [{ stream: 'info', line: NOT_STARTED_BY_RESTART }], this.#now(), seq);
        this.#store.finish(job.id, 'interrupted', { error: NOT_STARTED_BY_RESTART }, this.#now());
      } else {
        const now = describeNow(job);
        this.#store.appendOutput(job.id, [{ stream: 'info', line: `The node restarted while this job ran.${now ? ` ${now}` : ''}` }], this.#now(), seq);
        this.#store.finish(job.id, 'interrupted', { error: `${RESTART_INTERRUPTION}.` }, this.#now());
      }
      this.#audit.record({ name: job.actor, ip: null }, `job.${job.kind}`, { target: job.app ?? undefined, outcome: 'failed', detail: { job: job.id, interrupted: true, ...(job.state === 'queued' ? { notStarted: true } : {}) } });
    }
    return left;
  }

  #holderMoved(slot: Slot): void {
    if (slot.app && slot.lane === 'abra') this.#holders.emit('change', slot.app);
  }

  /** Calls `fn` with the app whenever an abra job on it starts or ends; returns the unsubscribe. */
  onHolderChange(fn: (app: string) => void): () => void {
    this.#holders.on('change', fn);
    return () => this.#holders.off('change', fn);
  }

  subscribe(jobId: number, fn: (e: JobEvent) => void): () => void {
    this.#events.on(String(jobId), fn);
    return () => this.#events.off(String(jobId), fn);
  }

  /** Resolves when the job has finished (for tests and for chained steps). */
  async finished(jobId: number): Promise<JobRow> {
    await (this.#running.get(jobId)?.done ?? this.#queue.find((w) => w.id === jobId)?.done);
    return this.#store.byId(jobId)!;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Asks running jobs to stop (on shutdown): they end as interrupted, now or (if the process ends first) on the next start. */
  abortAll(): void {
    this.#shuttingDown = true;
    // Waiting jobs never start in this process: said now, so the page is right even before the next start.
    for (const w of this.#queue.splice(0)) {
      this.#store.appendOutput(w.id, [{ stream: 'info', line: NOT_STARTED_BY_RESTART }], this.#now(), this.#store.lastSeq(w.id) + 1);
      this.#store.finish(w.id, 'interrupted', { error: NOT_STARTED_BY_RESTART }, this.#now());
      this.#events.emit(String(w.id), { type: 'state', state: 'interrupted' });
      w.settle();
    }
    for (const r of this.#running.values()) if (!r.survivesRestart) r.abort.abort(new JobStopped(`${RESTART_INTERRUPTION}.`));
  }
}
