// The dashboard, app pages, live updates over SSE, start/stop and logs.
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { serviceLogs, type LogLine } from '../../adapters/docker/logs.ts';
import { listInstalled } from '../../adapters/abra/app-env.ts';
import { appsFrom, nodesFrom, type AppView } from '../../services/apps.ts';
import { UserFacingError } from '../../errors.ts';
import { stackSchema } from '../../validation.ts';
import { callerOf, type Services } from '../context.ts';
import { parseForm } from '../forms.ts';
import { requireRole } from '../middleware/auth.ts';
import { PageCache } from '../page-cache.ts';
import { render, renderError, renderKept, renderPartial } from '../render.ts';
import { auditRefusals } from '../audited.ts';
import { coalesce, openSse } from '../sse.ts';
import { StreamQuota } from '../stream-quota.ts';
import { versionSpans } from '../../services/version-span.ts';

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

export function appRoutes(s: Services): Router {
  const r = Router();
  const stewards = requireRole('admin', 'steward');

  const allApps = () => appsFrom(s.model, listInstalled(s.config.abraDir), s.access.options());
  const dashboardData = () => {
    const apps = allApps();
    return {
      apps: apps.filter((a) => a.coopCloud),
      otherStacks: apps.filter((a) => !a.coopCloud),
      nodes: nodesFrom(s.model),
      live: s.model.status,
      nodeDomain: s.settings.current().nodeDomain,
      busy: (stack: string) => s.jobs.holder(stack),
    };
  };

  function findApp(req: Request): AppView {
    const stack = parseForm(stackSchema, req.params.stack, { value: 'The app' });
    const app = allApps().find((a) => a.stack === stack);
    if (!app) throw new UserFacingError(`There is no app “${stack}” on this node${s.model.status.stale ? ' (or the node cannot reach Docker right now)' : ''}.`, 404);
    return app;
  }
  const spans = versionSpans(s.config.abraDir);
  const appData = (app: AppView) => ({
    app,
    span: app.installed ? spans.around(app.installed.recipe, app.installed.version) : undefined,
    live: s.model.status,
    recent: [...(s.model.recent.get(app.stack) ?? [])].reverse(),
    busy: s.jobs.holder(app.stack),
    jobs: s.store.jobs.list({ limit: 5, app: app.stack }),
    isSelf: s.self.isSelf(app.stack),
  });

  const dashboards = new PageCache({ maxEntries: DASHBOARDS_KEPT, ttlMs: DASHBOARD_KEPT_MS });
  r.get('/', (req, res) => {
    const shows = `${s.model.version}\0${s.jobs.version}\0${s.settings.current().nodeDomain}`;
    renderKept(req, res, dashboards, shows, 'dashboard', () => ({ title: 'Apps', ...dashboardData() }));
  });

  r.get('/live', (req, res) => {
    const sse = openSse(req, res);
    const push = coalesce(PUSH_EVERY_MS, () => sse.send('apps', renderPartial(res, 'apps', dashboardData())));
    s.model.on('change', push.poke);
    s.model.on('status', push.poke);
    sse.onClose(() => {
      push.cancel();
      s.model.off('change', push.poke);
      s.model.off('status', push.poke);
    });
  });

  r.get('/apps/:stack', async (req, res) => {
    const app = findApp(req);
    if (app.installed?.recipe) await spans.refresh(app.installed.recipe);
    render(req, res, 'app', { title: app.domain ?? app.stack, ...appData(app) });
  });

  r.get('/apps/:stack/live', (req, res) => {
    const stack = findApp(req).stack;
    const sse = openSse(req, res);
    const push = coalesce(PUSH_EVERY_MS, () => {
      const app = allApps().find((a) => a.stack === stack);
      sse.send('app', app ? renderPartial(res, 'app-detail', appData(app)) : '<p class="alert error">This app is gone from the swarm.</p>');
    });
    const onChange = (stacks: Set<string | null>) => stacks.has(stack) && push.poke();
    s.model.on('change', onChange);
    s.model.on('status', push.poke);
    sse.onClose(() => {
      push.cancel();
      s.model.off('change', onChange);
      s.model.off('status', push.poke);
    });
  });

  // Stopping cuts people off: a page asks first (works without JavaScript); the POST needs its `confirmed` field.
  r.get('/apps/:stack/stop', stewards, async (req, res) => {
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
  });

  for (const action of ['stop', 'start'] as const) {
    r.post(`/apps/:stack/${action}`, stewards, auditRefusals(s, `job.${action}`, async (req, res) => {
      const app = findApp(req);
      if (action === 'stop' && req.body?.confirmed === undefined) {
        await s.access.authorize(callerOf(req, res.locals.session), app, 'stop');
        return res.redirect(303, `/apps/${app.stack}/stop${req.body?.from === 'dashboard' ? '?from=dashboard' : ''}`);
      }
      await s.power.submit(action, app.stack, callerOf(req, res.locals.session));
      const back = req.body?.from === 'dashboard' ? '/' : `/apps/${app.stack}`;
      res.redirect(303, back);
    }));
  }

  // Logs often carry tokens and addresses: stewards and admins only, and a few followed at once per person.
  const logStreams = new StreamQuota(LOG_STREAMS_PER_PERSON);
  const streamsFull = () =>
    `You already follow ${logStreams.limit} logs live (in other tabs or windows). Close one of them to follow this one; until then, reload to see the latest lines.`;
  const viewerKey = (res: Response) => String(res.locals.session!.user.id);

  r.get('/apps/:stack/logs', stewards, async (req, res) => {
    const app = findApp(req);
    const q = parseForm(logsQuery, req.query, { service: 'Service', tail: 'Lines' });
    const service = app.services.find((x) => x.name === (q.service ?? app.services[0]?.name));
    if (!service) throw new UserFacingError('That service is not part of this app.', 404);
    // Without JavaScript the page shows the last lines as they are now; with it, they follow live.
    const lines: LogLine[] = [];
    const stream = await serviceLogs(s.docker, service.id, { tail: q.tail, follow: false, onLine: (l) => lines.push(l) });
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', resolve);
    });
    // Docker merges the tasks' logs task by task; the RFC 3339 timestamps put them back in time order.
    lines.sort((a, b) => a.text.slice(0, 30).localeCompare(b.text.slice(0, 30)));
    // At the cap the page does not follow: it says why instead of asking for a stream that would be refused.
    const notFollowing = logStreams.full(viewerKey(res)) ? streamsFull() : undefined;
    render(req, res, 'logs', { title: `Logs · ${app.domain ?? app.stack}`, app, service, tail: q.tail, lines, notFollowing });
  });

  r.get('/apps/:stack/logs/stream', stewards, async (req, res: Response) => {
    const app = findApp(req);
    const q = parseForm(logsQuery, req.query, { service: 'Service', tail: 'Lines' });
    const service = app.services.find((x) => x.name === q.service);
    if (!service) throw new UserFacingError('That service is not part of this app.', 404);
    const release = logStreams.take(viewerKey(res));
    if (!release) return renderError(req, res, { status: 429, title: 'Too many log streams', message: streamsFull() });
    const sse = openSse(req, res);
    sse.onClose(release);
    // tail=0 here: the page already shows the last lines; the stream only adds new ones.
    let stream: Awaited<ReturnType<typeof serviceLogs>>;
    try {
      stream = await serviceLogs(s.docker, service.id, {
        tail: 0,
        follow: true,
        onLine: (line) => {
          const ok = sse.send('line', renderPartial(res, 'log-line', { line }));
          if (!ok) {
            // Bounded memory per viewer: stop reading from Docker until the browser catches up.
            stream.pause();
            res.once('drain', () => stream.resume());
          }
        },
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
  });

  return r;
}
