// A Kiwix app's ZIM library: what is on disk and served, the Kiwix catalogue to pick from, downloads with live
// progress (pause, resume, cancel), and removal with a typed confirmation.
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { CatalogueFilters } from '../../adapters/kiwix/opds.ts';
import { UserFacingError } from '../../services/errors.ts';
import { formatBytes } from '../../services/resource-fit.ts';
import { kiwixApp, kiwixApps } from '../../services/zim/kiwix-apps.ts';
import { filesIn, removeZim, servedBy, updatesFor, zimName } from '../../services/zim/library.ts';
import { stackSchema } from '../../validation.ts';
import { auditRefusals } from '../audited.ts';
import { actorOf, type Services } from '../context.ts';
import { ago } from '../format.ts';
import { parseForm } from '../forms.ts';
import { requireRole } from '../middleware/auth.ts';
import { render, renderPartial } from '../render.ts';
import { coalesce, openSse } from '../sse.ts';

const GB = 1024 ** 3;
/** The browse form as a steward fills it: sizes in GB, empty fields left out. */
const browseForm = z.object({
  lang: z.string().max(100).optional(),
  category: z.string().max(40).optional(),
  q: z.string().max(200).optional(),
  maxGB: z.string().max(10).optional(),
  start: z.string().max(10).optional(),
});

function filtersFrom(input: unknown): { filters: CatalogueFilters; form: z.infer<typeof browseForm>; asked: boolean } {
  const form = parseForm(browseForm, input, { maxGB: 'Largest size' });
  const maxGB = form.maxGB ? Number(form.maxGB) : undefined;
  if (maxGB !== undefined && !(maxGB > 0)) throw new UserFacingError('Largest size must be a number of GB above 0.');
  const filters: CatalogueFilters = {
    ...(form.lang ? { lang: form.lang } : {}),
    ...(form.category ? { category: form.category } : {}),
    ...(form.q ? { q: form.q } : {}),
    ...(maxGB ? { maxSize: Math.round(maxGB * GB) } : {}),
    start: form.start ? Number(form.start) : 0,
    count: 20,
  };
  return { filters, form, asked: Object.values(form).some(Boolean) };
}

export function zimRoutes(s: Services, now: () => number): Router {
  const r = Router();
  const stewards = requireRole('admin', 'steward');
  const { browser, downloads } = s.zims;
  const appOf = (req: Request) => kiwixApp(s.config.abraDir, s.config.zimRoot, parseForm(stackSchema, req.params.stack, { value: 'The app' }));
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;

  /** Files on disk, whether Kiwix serves each, unfinished downloads, and updates the catalogue pages at hand offer. */
  async function libraryOf(app: ReturnType<typeof appOf>, entries: Parameters<typeof updatesFor>[1]) {
    const { zims, parts } = await filesIn(app.zimDir);
    const served = await servedBy(s.docker, app.stack);
    const updates = updatesFor(zims, entries);
    const live = new Map(downloads.progressFor(app.stack).map((p) => [p.fileName, p]));
    return {
      zims: zims.map((z) => ({ ...z, sizeText: formatBytes(z.size), served: served ? served.has(z.fileName) : undefined, update: updates.get(z.fileName) })),
      parts: parts.map((p) => ({ ...p, bytesText: formatBytes(p.bytes), live: live.get(p.fileName) })),
      kiwixRunning: served !== undefined,
    };
  }
  const progressView = (stack: string) =>
    downloads.progressFor(stack).map((p) => ({
      ...p,
      percent: p.total ? Math.floor((p.done / p.total) * 100) : 0,
      doneText: formatBytes(p.done),
      totalText: formatBytes(p.total),
      speedText: p.bytesPerSecond ? `${formatBytes(p.bytesPerSecond)}/s` : '…',
      leftText: p.secondsLeft === null ? '…' : p.secondsLeft < 90 ? `${Math.ceil(p.secondsLeft)} s` : `${Math.ceil(p.secondsLeft / 60)} min`,
    }));

  r.get('/zims', (req, res) => {
    render(req, res, 'zim-apps', { title: 'ZIM libraries', apps: kiwixApps(s.config.abraDir, s.config.zimRoot) });
  });

  r.get('/apps/:stack/zims', async (req, res) => {
    const app = appOf(req);
    const { filters, form, asked } = filtersFrom(req.query);
    const result = asked ? await browser.browse(filters) : undefined;
    const library = await libraryOf(app, result?.page?.entries ?? []);
    render(req, res, 'zims', {
      title: `ZIM library · ${app.domain}`,
      app,
      library,
      progress: progressView(app.stack),
      form,
      result: result && {
        ...result,
        age: result.fetchedAt ? ago(result.fetchedAt, now()) : undefined,
        entries: result.page?.entries.map((e) => ({ ...e, sizeText: formatBytes(e.size), have: library.zims.some((z) => z.fileName === e.fileName) })) ?? [],
      },
      filtersQuery: new URLSearchParams(Object.entries(form).filter(([, v]) => v) as [string, string][]).toString(),
      limitKBps: s.settings.current().downloadLimitKBps,
    });
  });

  r.get('/apps/:stack/zims/live', (req, res) => {
    const app = appOf(req);
    const sse = openSse(req, res);
    let active = downloads.progressFor(app.stack).length;
    const push = coalesce(500, async () => {
      sse.send('progress', renderPartial(res, 'zim-progress', { progress: progressView(app.stack), app }));
      // A download that ended changes the files on disk: send the library once then.
      const nowActive = downloads.progressFor(app.stack).length;
      if (nowActive !== active) {
        active = nowActive;
        sse.send('library', renderPartial(res, 'zim-files', { app, library: await libraryOf(app, []) }));
      }
    });
    const onProgress = (stack: string) => stack === app.stack && push.poke();
    downloads.events.on('progress', onProgress);
    sse.onClose(() => {
      downloads.events.off('progress', onProgress);
      push.cancel();
    });
  });

  r.post('/apps/:stack/zims/download', stewards, auditRefusals(s, 'job.zim-download', (req, res) => {
    const app = appOf(req);
    const b = body(req);
    const { filters } = filtersFrom({ lang: b.lang, category: b.category, q: b.q, maxGB: b.maxGB, start: b.start });
    const id = parseForm(z.string().regex(/^[0-9a-fA-F-]{8,64}$/, 'is not a catalogue entry'), b.id, { value: 'The entry' });
    const entry = browser.entryFrom(filters, id);
    if (!entry) throw new UserFacingError('That entry is not on the catalogue page you saw: search again, then pick it.', 404);
    const replaces = b.replaces ? zimName(b.replaces, 'The file it updates') : undefined;
    res.redirect(303, `/jobs/${downloads.start(app.stack, entry, actorOf(req, res.locals.session), replaces).id}`);
  }));

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    r.post(`/apps/:stack/zims/${action}`, stewards, auditRefusals(s, `zim.${action}`, async (req, res) => {
      const app = appOf(req);
      const fileName = zimName(body(req).fileName);
      const actor = actorOf(req, res.locals.session);
      if (action === 'resume') return res.redirect(303, `/jobs/${downloads.resume(app.stack, fileName, actor).id}`);
      const detail = action === 'pause' ? { job: downloads.pause(app.stack, fileName, actor).id } : await downloads.cancel(app.stack, fileName, actor);
      s.audit.record(actor, `zim.${action}`, { target: app.stack, detail: { fileName, ...detail } });
      res.redirect(303, `/apps/${app.stack}/zims`);
    }));
  }

  r.get('/apps/:stack/zims/remove', stewards, (req, res) => {
    const app = appOf(req);
    render(req, res, 'zim-remove', { title: `Remove a ZIM file · ${app.domain}`, app, fileName: zimName(req.query.file) });
  });

  r.post('/apps/:stack/zims/remove', stewards, auditRefusals(s, 'zim.remove', async (req, res) => {
    const app = appOf(req);
    const fileName = zimName(body(req).fileName);
    if (body(req).confirm !== fileName) throw new UserFacingError(`To remove it, type its file name exactly: ${fileName}`);
    const result = await removeZim(s.docker, app.stack, app.zimDir, fileName);
    s.audit.record(actorOf(req, res.locals.session), 'zim.remove', { target: app.stack, detail: { fileName, ...result } });
    res.redirect(303, `/apps/${app.stack}/zims`);
  }));

  return r;
}
