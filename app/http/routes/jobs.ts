// Job history, one job's page with its output streamed live, cancelling a job, and the once-only view of generated secrets.
import type { Request, RequestHandler, Response } from 'express';
import { UserFacingError } from '../../errors.ts';
import type { JobRow } from '../../services/job-history.ts';
import { jobSummary, waitingWords } from '../../services/job-summary.ts';
import { auditRefusals } from '../audited.ts';
import { callerOf, type Services } from '../context.ts';
import { parseId } from '../forms.ts';
import { render, renderPartial } from '../render.ts';
import { coalesce, openSse } from '../sse.ts';

type Cancellable = { queued: boolean; running: boolean };

export function jobRoutes(s: Services) {

  const job = (id: unknown): JobRow => s.jobHistory.find(parseId(id));
  /** A failed upgrade's safety snapshot, offered back in one click. */
  const safetyOf = (row: JobRow) => (row.kind === 'upgrade' && row.state === 'failed' ? s.backups.safetySnapshotOf(row.id) : undefined);
  const appOf = (row: JobRow) => (row.app ? s.apps.lookup(row.app) : undefined);

  /** Whether the viewer may cancel this job while it waits, and while it runs (asked once per page or stream). */
  const mayCancel = async (req: Request, res: Response, row: JobRow): Promise<Cancellable> => {
    const caller = callerOf(req, res.locals.session);
    return { queued: await s.jobCancel.mayCancel(caller, { ...row, state: 'queued' }), running: await s.jobCancel.mayCancel(caller, { ...row, state: 'running' }) };
  };
  /** What the state box shows: the summary (with the app's state now) and the Cancel button while it applies. */
  const stateView = (row: JobRow, allowed: Cancellable) => ({
    job: row,
    summary: jobSummary(row, appOf(row), s.jobs.waitingFor(row.id)),
    canCancel: (row.state === 'queued' && allowed.queued) || (row.state === 'running' && allowed.running),
    safety: safetyOf(row),
  });

  const jobsPage: RequestHandler = async (req, res) => {
    const before = req.query.before ? parseId(req.query.before) : undefined;
    const rows = s.jobHistory.list({ limit: 51, beforeId: before });
    const jobs = await Promise.all(
      rows.slice(0, 50).map(async (j) => {
        const active = j.state === 'queued' || j.state === 'running';
        const waiting = s.jobs.waitingFor(j.id);
        return { ...j, waiting: waiting ? waitingWords(waiting) : undefined, canCancel: active && stateView(j, await mayCancel(req, res, j)).canCancel };
      }),
    );
    render(req, res, 'jobs', { title: 'Jobs', jobs, olderThan: rows.length > 50 ? rows[49]!.id : undefined });
  };

  const jobPage: RequestHandler = async (req, res) => {
    const row = job(req.params.id);
    render(req, res, 'job', {
      title: `Job ${row.id}: ${row.kind}`,
      ...stateView(row, await mayCancel(req, res, row)),
      lines: s.jobHistory.output(row.id),
      app: appOf(row),
      hasSecrets: s.lifecycle.hasSecrets(row.id) && row.actor === res.locals.session?.user.username,
    });
  };

  const cancelJob = auditRefusals(s, 'job.cancel', async (req, res) => {
    const row = await s.jobCancel.cancel(parseId(req.params.id), callerOf(req, res.locals.session));
    res.redirect(303, (req.body as Record<string, unknown> | undefined)?.back === 'list' ? '/jobs' : `/jobs/${row.id}`);
  });

  const jobLive: RequestHandler = async (req, res) => {
    const row = job(req.params.id);
    const allowed = await mayCancel(req, res, row);
    // The secrets button belongs with the state: it appears when the install has generated them.
    const stateHtml = (current: JobRow) =>
      renderPartial(res, 'job-state', { ...stateView(current, allowed), hasSecrets: s.lifecycle.hasSecrets(current.id) && current.actor === res.locals.session?.user.username });
    const sse = openSse(req, res);
    // A browser that reconnected by itself says which line it has (Last-Event-ID): it gets the lines after it.
    // Otherwise the page has the lines up to `after` from its render, or, when the connection was made anew
    // after a cut (the node's own restart), perhaps more: then the whole output is sent once, to replace it.
    const lastEventId = req.get('Last-Event-ID');
    let lastSeq = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : /^-?\d+$/.test(String(req.query.after)) ? Number(req.query.after) : -1;
    const sendLine = (l: { seq: number; stream: string; line: string }) => {
      if (l.seq <= lastSeq) return;
      lastSeq = l.seq;
      sse.send('line', renderPartial(res, 'job-line', { line: l }), l.seq);
    };
    // The state box says how the app stands now too (after a cancel or a restart): it follows the app's changes.
    const pushApp = coalesce(200, () => {
      sse.send('app', renderPartial(res, 'job-app', { app: appOf(row) }));
      sse.send('state', stateHtml(s.jobHistory.byId(row.id)!));
    });
    const unsubscribe = s.jobs.subscribe(row.id, (e) => {
      if (e.type === 'line') sendLine(e);
      else sse.send('state', stateHtml(s.jobHistory.byId(row.id)!));
    });
    const missed = s.jobHistory.output(row.id, lastSeq);
    if (lastEventId === undefined && missed.length) {
      const all = s.jobHistory.output(row.id);
      lastSeq = all.at(-1)!.seq;
      sse.send('output', renderPartial(res, 'job-output', { lines: all }), lastSeq);
    } else {
      for (const l of missed) sendLine(l);
    }
    sse.send('state', stateHtml(s.jobHistory.byId(row.id)!));
    if (row.app) pushApp.poke(); // after a reconnect the app's state may have moved on (the node's own upgrade)
    const stopFollowing = s.apps.onChange((stacks) => row.app && stacks?.has(row.app) && pushApp.poke());
    sse.onClose(() => {
      unsubscribe();
      pushApp.cancel();
      stopFollowing();
    });
  };

  const showSecrets: RequestHandler = (req, res) => {
    const row = job(req.params.id);
    const values = s.appChanges.takeSecrets({ name: res.locals.session!.user.username, ip: req.ip ?? null }, row);
    if (!values) throw new UserFacingError('These secrets were already shown, have expired, or belong to someone else’s install.', 410);
    res.set('Cache-Control', 'no-store');
    render(req, res, 'secrets', { title: 'Generated secrets', job: row, values });
  };

  return { jobsPage, jobPage, cancelJob, jobLive, showSecrets };
}
