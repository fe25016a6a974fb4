// The job runner's lanes (abra changes vs downloads) and stopping a job on purpose, on a real SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditLog } from '../../app/services/audit.ts';
import { JobRunner } from '../../app/services/jobs.ts';
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
});
