// The dashboard, app pages, live updates over SSE, start/stop and logs.
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { AppView } from '../../services/apps.ts';
import type { LogLine } from '../../services/app-logs.ts';
import { UserFacingError } from '../../errors.ts';
import { stackSchema } from '../../validation.ts';
import { callerOf, type Services } from '../context.ts';
import { parseForm } from '../forms.ts';
import { PageCache } from '../page-cache.ts';
import { render, renderError, renderKept, renderPartial } from '../render.ts';
import { auditRefusals } from '../audited.ts';
import { coalesce, openSse } from '../sse.ts';
import { StreamQuota } from '../stream-quota.ts';

const logsQuery = z.object({
  service: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'is not a service name').optional(),
  tail: z.coerce.number().int().min(1).max(5000).default(200),
});
const PUSH_EVERY_MS = 100;
/** Followed logs open at once per person (each holds a connection to Docker). */
const LOG_STREAMS_PER_PERSON = 4;
// A few viewers' dashboards, each kept for at most a second (see page-cache.ts for what moves without an event).
const DASHBOARDS_KEPT = 16;
const DASHBOARD_KEPT_MS = 1000;

export function appRoutes(s: Services) {

  const findApp = (req: Request): AppView => s.apps.find(parseForm(stackSchema, req.params.stack, { value: 'The app' }));

  const dashboards = new PageCache({ maxEntries: DASHBOARDS_KEPT, ttlMs: DASHBOARD_KEPT_MS });
  const dashboard: RequestHandler = (req, res) => {
    const version = s.apps.version();
    renderKept(req, res, dashboards, version, 'dashboard', () => ({ title: 'Apps', since: version, ...s.apps.dashboard() }));
  };

  /** A live stream's first push: at once if the apps moved since its page was made (`since`, the version the page
   *  carries), which covers a change between page and stream and everything missed while reconnecting. */
  const catchUp = (req: Request, push: { poke(): void }) => req.query.since !== s.apps.version() && push.poke();

  const dashboardLive: RequestHandler = (req, res) => {
    const sse = openSse(req, res);
    const push = coalesce(PUSH_EVERY_MS, () => sse.send('apps', renderPartial(res, 'apps', s.apps.dashboard())));
    const unsubscribe = s.apps.onChange(push.poke);
    catchUp(req, push);
    sse.onClose(() => {
      push.cancel();
      unsubscribe();
    });
  };

  const appPage: RequestHandler = async (req, res) => {
    const app = findApp(req);
    const since = s.apps.version(); // before the wait: a change during it is caught up by the live stream
    render(req, res, 'app', { title: app.domain ?? app.stack, since, ...(await s.apps.page(app)) });
  };

  const appLive: RequestHandler = (req, res) => {
    const stack = findApp(req).stack;
    const sse = openSse(req, res);
    const push = coalesce(PUSH_EVERY_MS, () => {
      const app = s.apps.lookup(stack);
      sse.send('app', app ? renderPartial(res, 'app-detail', s.apps.detail(app)) : '<p class="alert error">This app is gone from the swarm.</p>');
    });
    // Its own stack's changes, and the Docker connection's (null).
    const unsubscribe = s.apps.onChange((stacks) => (!stacks || stacks.has(stack)) && push.poke());
    catchUp(req, push);
    sse.onClose(() => {
      push.cancel();
      unsubscribe();
    });
  };

  // Stopping cuts people off: a page asks first (works without JavaScript); the POST needs its `confirmed` field.
  const stopPage: RequestHandler = async (req, res) => {
    const app = findApp(req);
    await s.access.authorize(callerOf(req, res.locals.session), app, 'stop');
    const name = app.domain ?? app.stack;
    render(req, res, 'confirm', {
      title: `Stop ${name}`,
      app,
      question: `Stop ${name}?`,
      consequence: 'People using it will not reach it until it is started again.',
      action: `/apps/${app.stack}/stop`,
      button: `Stop ${name}`,
      from: req.query.from === 'dashboard' ? 'dashboard' : 'app',
    });
  };

  const power = (action: 'stop' | 'start'): RequestHandler =>
    auditRefusals(s, `job.${action}`, async (req, res) => {
      const app = findApp(req);
      if (action === 'stop' && req.body?.confirmed === undefined) {
        await s.access.authorize(callerOf(req, res.locals.session), app, 'stop');
        return res.redirect(303, `/apps/${app.stack}/stop${req.body?.from === 'dashboard' ? '?from=dashboard' : ''}`);
      }
      await s.power.submit(action, app.stack, callerOf(req, res.locals.session));
      const back = req.body?.from === 'dashboard' ? '/' : `/apps/${app.stack}`;
      res.redirect(303, back);
    });
  const stop = power('stop');
  const start = power('start');

  // Logs often carry tokens and addresses: stewards and admins only, and a few followed at once per person.
  const logStreams = new StreamQuota(LOG_STREAMS_PER_PERSON);
  const streamsFull = () =>
    `You already follow ${logStreams.limit} logs live (in other tabs or windows). Close one of them to follow this one; until then, reload to see the latest lines.`;
  const viewerKey = (res: Response) => String(res.locals.session!.user.id);

  const logsPage: RequestHandler = async (req, res) => {
    const app = findApp(req);
    const q = parseForm(logsQuery, req.query, { service: 'Service', tail: 'Lines' });
    const service = app.services.find((x) => x.name === (q.service ?? app.services[0]?.name));
    if (!service) throw new UserFacingError('That service is not part of this app.', 404);
    // Without JavaScript the page shows the last lines as they are now; with it, they follow live.
    const lines = await s.logs.last(service.id, q.tail);
    // At the cap the page does not follow: it says why instead of asking for a stream that would be refused.
    const notFollowing = logStreams.full(viewerKey(res)) ? streamsFull() : undefined;
    render(req, res, 'logs', { title: `Logs · ${app.domain ?? app.stack}`, app, service, tail: q.tail, lines, notFollowing });
  };

  const logsStream: RequestHandler = async (req, res: Response) => {
    const app = findApp(req);
    const q = parseForm(logsQuery, req.query, { service: 'Service', tail: 'Lines' });
    const service = app.services.find((x) => x.name === q.service);
    if (!service) throw new UserFacingError('That service is not part of this app.', 404);
    const release = logStreams.take(viewerKey(res));
    if (!release) return renderError(req, res, { status: 429, title: 'Too many log streams', message: streamsFull() });
    const sse = openSse(req, res);
    sse.onClose(release);
    // tail=0 here: the page already shows the last lines; the stream only adds new ones.
    let stream: Awaited<ReturnType<Services['logs']['follow']>>;
    try {
      stream = await s.logs.follow(service.id, (line: LogLine) => {
        const ok = sse.send('line', renderPartial(res, 'log-line', { line }));
        if (!ok) {
          // Bounded memory per viewer: stop reading from Docker until the browser catches up.
          stream.pause();
          res.once('drain', () => stream.resume());
        }
      });
    } catch (err) {
      release();
      res.end();
      throw err;
    }
    // The viewer may have left while Docker answered: then nothing would ever close this stream.
    if (sse.closed) return void stream.destroy();
    stream.on('end', () => sse.send('line', '<div class="log-line muted">— the log stream ended —</div>'));
    sse.onClose(() => stream.destroy());
  };

  return { dashboard, dashboardLive, appPage, appLive, stopPage, logsPage, logsStream, stop, start };
}
