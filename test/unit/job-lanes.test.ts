// The job runner's lanes (abra changes vs downloads), its queue, and stopping or cancelling a job, on a real SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditLog } from '../../app/services/audit.ts';
import { JobRunner, NOT_STARTED_BY_RESTART } from '../../app/services/jobs.ts';
import { createStore, type Store } from '../../app/store/index.ts';

const actor = { name: 'sam', ip: '127.0.0.1' };
/** A job body that runs until it is told to stop. */
const untilStopped = ({ signal }: { signal: AbortSignal }) =>
  new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));

describe('job lanes and stopping', () => {
  let dir: string;
  let store: Store;
  let jobs: JobRunner;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lores-jobs-'));
    store = createStore(dir);
    jobs = new JobRunner(store.jobs, auditLog(store.audit, Date.now), { now: Date.now, limit: 1, downloadLimit: 1 });
  });
  afterEach(() => {
    jobs.abortAll();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a download on an app does not block a deploy of it, and each lane has its own limit', async () => {
    const download = jobs.submit({ kind: 'zim-download', app: 'kiwix_lores', recipe: null, actor, lane: 'download', run: untilStopped });
    expect(jobs.holder('kiwix_lores')).toBeUndefined();
    const deploy = jobs.submit({ kind: 'deploy', app: 'kiwix_lores', recipe: 'kiwix', actor, run: async () => {} });
    expect((await jobs.finished(deploy.id)).state).toBe('succeeded');
    expect(() => jobs.submit({ kind: 'zim-download', app: 'other', recipe: null, actor, lane: 'download', run: untilStopped })).toThrow(/1 downloads are running/);
    expect(() => jobs.submit({ kind: 'zim-download', app: 'kiwix_lores', recipe: null, actor, lane: 'download', run: untilStopped })).toThrow(/kiwix_lores is busy/);
    jobs.stop(download.id, 'Paused by sam.');
    await jobs.finished(download.id);
  });

  it('says when an app gets or loses its abra job (live pages show who holds it), never for a download', async () => {
    const moved: string[] = [];
    const stop = jobs.onHolderChange((app) => moved.push(`${app}:${jobs.holder(app) ?? 'free'}`));
    const download = jobs.submit({ kind: 'zim-download', app: 'k', recipe: null, actor, lane: 'download', run: untilStopped });
    const deploy = jobs.submit({ kind: 'deploy', app: 'a', recipe: 'r', actor, run: async () => {} });
    await jobs.finished(deploy.id);
    jobs.stop(download.id, 'Paused by sam.');
    await jobs.finished(download.id);
    expect(moved).toEqual(['a:deploy', 'a:free']);
    stop();
    await jobs.finished(jobs.submit({ kind: 'deploy', app: 'a', recipe: 'r', actor, run: async () => {} }).id);
    expect(moved).toHaveLength(2);
  });

  it('a stopped job ends as interrupted with the reason, not as failed', async () => {
    const job = jobs.submit({ kind: 'zim-download', app: 'k', recipe: null, actor, lane: 'download', run: untilStopped });
    expect(jobs.isRunning(job.id)).toBe(true);
    expect(jobs.stop(job.id, 'Paused by sam.')).toBe(true);
    const done = await jobs.finished(job.id);
    expect(done).toMatchObject({ state: 'interrupted', error: 'Paused by sam.' });
    expect(store.jobs.output(job.id).at(-1)).toMatchObject({ stream: 'info', line: 'Paused by sam.' });
    expect(jobs.stop(job.id, 'again')).toBe(false);
    // A job that fails on its own is still failed.
    const bad = jobs.submit({ kind: 'x', app: null, recipe: null, actor, run: async () => Promise.reject(new Error('boom')) });
    expect((await jobs.finished(bad.id)).state).toBe('failed');
  });

  it('a second job on a busy app waits its turn, in order, and says what it waits for', async () => {
    const order: string[] = [];
    const note = (name: string) => async () => void order.push(name);
    const deploy = jobs.submit({ kind: 'deploy', app: 'a', recipe: 'r', actor, args: { domain: 'a.test' }, run: untilStopped });
    const restart = jobs.submit({ kind: 'restart', app: 'a', recipe: null, actor, run: note('restart a') });
    const again = jobs.submit({ kind: 'deploy', app: 'a', recipe: 'r', actor, run: note('deploy a') });
    const other = jobs.submit({ kind: 'deploy', app: 'b', recipe: 'q', actor, run: note('deploy b') });
    expect([restart, again, other].map((j) => store.jobs.byId(j.id)!.state)).toEqual(['queued', 'queued', 'queued']);
    expect(jobs.waitingFor(restart.id)?.job).toMatchObject({ id: deploy.id, kind: 'deploy' });
    expect(jobs.waitingFor(again.id)?.job?.id).toBe(restart.id); // behind the restart, not beside it
    expect(jobs.waitingFor(other.id)).toEqual({ running: 1 }); // limit 1: a free place
    expect(jobs.waitingFor(deploy.id)).toBeUndefined();
    expect(jobs.cancel(deploy.id, actor)).toBe('running');
    expect(await jobs.finished(deploy.id)).toMatchObject({ state: 'cancelled', error: 'Cancelled by sam.' });
    for (const j of [restart, again, other]) expect((await jobs.finished(j.id)).state).toBe('succeeded');
    expect(order).toEqual(['restart a', 'deploy a', 'deploy b']);
  });

  it('a queued job cancelled never runs; a running one ends cancelled; an ended one cannot be cancelled', async () => {
    let ran = false;
    const first = jobs.submit({ kind: 'deploy', app: 'a', recipe: null, actor, run: untilStopped });
    const queued = jobs.submit({ kind: 'restart', app: 'a', recipe: null, actor, run: async () => void (ran = true) });
    expect(jobs.isQueued(queued.id)).toBe(true);
    expect(jobs.cancel(queued.id, { name: 'kim', ip: null })).toBe('queued');
    expect(await jobs.finished(queued.id)).toMatchObject({ state: 'cancelled', error: 'Cancelled by kim before it started: nothing was changed.' });
    jobs.cancel(first.id, actor);
    await jobs.finished(first.id);
    expect(ran).toBe(false);
    expect(() => jobs.cancel(first.id, actor)).toThrow(/nothing to cancel/);
    const audited = store.audit.page({ limit: 10 }).map((a) => [a.action, a.outcome]);
    expect(audited).toContainEqual(['job.restart', 'failed']);
  });

  it('the node’s own upgrade is refused while jobs run and cannot be cancelled; a full queue is refused', async () => {
    const busy = jobs.submit({ kind: 'deploy', app: 'a', recipe: null, actor, run: untilStopped });
    expect(() => jobs.submit({ kind: 'upgrade', app: 'self', recipe: null, actor, survivesRestart: true, run: async () => {} })).toThrow(/running job has finished/);
    const waiting = Array.from({ length: 5 }, () => jobs.submit({ kind: 'restart', app: 'a', recipe: null, actor, run: async () => {} }));
    expect(() => jobs.submit({ kind: 'restart', app: 'a', recipe: null, actor, run: async () => {} })).toThrow(/5 jobs are waiting on a/);
    jobs.cancel(busy.id, actor);
    for (const j of [busy, ...waiting]) await jobs.finished(j.id);
    const self = jobs.submit({ kind: 'upgrade', app: 'self', recipe: null, actor, survivesRestart: true, run: untilStopped });
    await expect(async () => jobs.cancel(self.id, actor)).rejects.toThrow(/cannot be cancelled/);
    jobs.stop(self.id, 'test over');
    await jobs.finished(self.id);
  });

  it('queued jobs are not run after a restart: marked as never started, apart from running ones', async () => {
    // A body that never ends, not even when told to: this process "died" with it.
    jobs.submit({ kind: 'deploy', app: 'a', recipe: null, actor, run: () => new Promise<void>(() => {}) });
    const queued = jobs.submit({ kind: 'restart', app: 'a', recipe: null, actor, run: async () => {} });
    // A crash: nothing of this process's queue is left but the rows.
    const after = new JobRunner(store.jobs, auditLog(store.audit, Date.now), { now: Date.now });
    const cut = after.recover(() => 'When the node came back, the app was running, 1/1 running.');
    expect(cut.map((j) => j.state)).toEqual(['running', 'queued']);
    expect(store.jobs.byId(queued.id)).toMatchObject({ state: 'interrupted', error: NOT_STARTED_BY_RESTART });
    expect(store.jobs.byId(cut[0]!.id)).toMatchObject({ state: 'interrupted', error: 'Interrupted by a restart of the node.' });
    expect(store.jobs.output(cut[0]!.id).at(-1)?.line).toBe('The node restarted while this job ran. When the node came back, the app was running, 1/1 running.');
  });

  it('a stop of the node marks waiting jobs as never started at once', async () => {
    const running = jobs.submit({ kind: 'deploy', app: 'a', recipe: null, actor, run: untilStopped });
    const queued = jobs.submit({ kind: 'restart', app: 'a', recipe: null, actor, run: async () => {} });
    jobs.abortAll();
    expect(await jobs.finished(queued.id)).toMatchObject({ state: 'interrupted', error: NOT_STARTED_BY_RESTART });
    expect(await jobs.finished(running.id)).toMatchObject({ state: 'interrupted', error: 'Interrupted by a restart of the node.' });
  });
});
