// What a job page says beside a job's state: what a queued job waits for, and the app's state now after a cancel or
// a restart, with no alarm when the app is fine.
import { describe, expect, it } from 'vitest';
import type { AppView } from '../../app/services/apps.ts';
import { appNow, jobSummary } from '../../app/services/job-summary.ts';
import { NOT_STARTED_BY_RESTART } from '../../app/services/jobs.ts';
import type { JobRow } from '../../app/store/jobs.ts';

const job = (over: Partial<JobRow>): JobRow => ({
  id: 7, kind: 'deploy', app: 'kiwix_lores', recipe: 'kiwix', args: { domain: 'kiwix.lores' }, actor: 'sam', state: 'running',
  createdAt: 0, startedAt: 0, finishedAt: null, exitCode: null, error: null, phase: null, ...over,
});
const app = (status: AppView['status'], running: number, desired: number) => ({ stack: 'kiwix_lores', status, running, desired }) as AppView;

describe('job summary', () => {
  it('a queued job names the job it waits for, or the node’s limit', () => {
    const ahead = job({ id: 6, kind: 'install' });
    expect(jobSummary(job({ state: 'queued' }), undefined, { job: ahead })).toEqual({ tone: 'info', lines: ['Waiting for job 6, install of kiwix.lores to end; it starts then.'] });
    expect(jobSummary(job({ state: 'queued' }), undefined, { running: 2 })?.lines[0]).toMatch(/^Waiting for a free place: 2 jobs are running/);
  });

  it('a cancelled job says the state the app is left in, now', () => {
    const cancelled = job({ state: 'cancelled', error: 'Cancelled by sam.' });
    expect(jobSummary(cancelled, app('starting', 0, 1))).toEqual({
      tone: 'warn',
      lines: ['Cancelled by sam.', 'The app is left as the swarm has it now: starting, 0/1 running. Deploy again or stop it.'],
    });
    expect(jobSummary(cancelled, app('running', 1, 1))).toEqual({ tone: 'ok', lines: ['Cancelled by sam.', 'The app is running now (1/1).'] });
    expect(jobSummary(cancelled, undefined)?.lines[1]).toBe('Nothing of the app is on the node now: install it again if it is still wanted.');
    expect(jobSummary(cancelled, app('not deployed', 0, 0))?.lines[1]).toBe('The app is installed but not deployed now: deploy it when it is wanted.');
    const before = job({ state: 'cancelled', error: 'Cancelled by sam before it started: nothing was changed.' });
    expect(jobSummary(before, app('starting', 0, 1))).toEqual({ tone: 'info', lines: [before.error] });
  });

  it('a job cut off by a restart: no alarm when the app runs fine, the live state when it does not', () => {
    const cut = job({ state: 'interrupted', error: 'Interrupted by a restart of the node.' });
    expect(jobSummary(cut, app('running', 1, 1))).toEqual({
      tone: 'ok',
      lines: ['Interrupted by a restart of the node.', 'The node restarted during this job. The app is running now (1/1).'],
    });
    const bad = jobSummary(cut, app('failing', 0, 1));
    expect(bad?.tone).toBe('warn');
    expect(bad?.lines[1]).toContain('The app is failing now: 0/1 running.');
    expect(jobSummary(job({ state: 'interrupted', error: NOT_STARTED_BY_RESTART }), app('running', 1, 1))).toEqual({ tone: 'info', lines: [NOT_STARTED_BY_RESTART] });
  });

  it('a failed job is an error; a paused download is only information', () => {
    expect(jobSummary(job({ state: 'failed', error: 'abra failed: boom' }), app('running', 1, 1))).toEqual({ tone: 'error', lines: ['abra failed: boom'] });
    expect(jobSummary(job({ state: 'interrupted', kind: 'zim-download', error: 'Paused by sam.' }), undefined)?.tone).toBe('info');
    expect(jobSummary(job({ state: 'succeeded' }), app('running', 1, 1))).toBeUndefined();
    expect(appNow(app('stopped', 0, 0))).toBe('The app is stopped now.');
  });
});
