// A Kiwix app's ZIM library: what is on disk and served, the Kiwix catalogue to pick from, downloads with live
// progress (pause, resume, cancel), and removal with a typed confirmation.
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { CatalogueFilters, ZimEntry } from '../../services/zim/browse.ts';
import { FieldErrors, UserFacingError, fieldError } from '../../errors.ts';
import { formatBytes } from '../../services/resource-fit.ts';
import { filesIn, updatesFor, zimName, type ZimFile } from '../../services/zim/library.ts';
import { stackSchema } from '../../validation.ts';
import { auditRefusals } from '../audited.ts';
import { actorOf, type Services } from '../context.ts';
import { ago } from '../format.ts';
import { parseForm, withForm } from '../forms.ts';
import { render, renderPartial } from '../render.ts';
import { coalesce, openSse } from '../sse.ts';

const GB = 1024 ** 3;
/** The browse form as a steward fills it: sizes in GB, empty fields left out. */
const browseForm = z.object({
  name: z.string().max(200).optional(),
  lang: z.string().max(100).optional(),
  category: z.string().max(40).optional(),
  q: z.string().max(200).optional(),
  maxGB: z.string().max(10).optional(),
  start: z.string().max(10).optional(),
});

function filtersFrom(input: unknown): { filters: CatalogueFilters; form: z.infer<typeof browseForm>; asked: boolean } {
  const form = parseForm(browseForm, input, { maxGB: 'Largest size' });
  const maxGB = form.maxGB ? Number(form.maxGB) : undefined;
  if (maxGB !== undefined && !(maxGB > 0)) throw fieldError('maxGB', 'Largest size must be a number of GB above 0.');
  const filters: CatalogueFilters = {
    ...(form.name ? { name: form.name } : {}),
    ...(form.lang ? { lang: form.lang } : {}),
    ...(form.category ? { category: form.category } : {}),
    ...(form.q ? { q: form.q } : {}),
    ...(maxGB ? { maxSize: Math.round(maxGB * GB) } : {}),
    start: form.start ? Number(form.start) : 0,
    count: 20,
  };
  return { filters, form, asked: Boolean(form.lang || form.category || form.q || form.maxGB || form.start) };
}

export function zimRoutes(s: Services, now: () => number) {
  const { browser, downloads } = s.zims;
  const appOf = (req: Request) => s.zims.shelf.find(parseForm(stackSchema, req.params.stack, { value: 'The app' }));
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;

  /**
   * Newer dated files of the books on disk, from the catalogue's answers to "every file of book X" (asked now when
   * `ask`, else the last answers kept): only files the node downloaded know their book.
   */
  async function updatesOf(stack: string, zims: ZimFile[], ask: boolean): Promise<{ entries: ZimEntry[]; books: Map<string, string>; error?: string }> {
    const books = new Map(zims.map((z) => [z.fileName, downloads.bookNameOf(stack, z.fileName)] as const).filter((b): b is [string, string] => Boolean(b[1])));
    const entries: ZimEntry[] = [];
    let error: string | undefined;
    // All books at once: a silent uplink costs one timeout, not one per book.
    const answers = await Promise.all(
      [...new Set(books.values())].map((name) => {
        const { filters } = filtersFrom({ name });
        return ask ? browser.browse(filters) : browser.cachedFor(filters);
      }),
    );
    for (const r of answers) {
      entries.push(...(r.page?.entries ?? []));
      if (ask && r.error) error = r.error;
    }
    return { entries, books, error };
  }


  /**
   * Files on disk with their titles, languages and dates (the ZIM's own metadata as Kiwix read it; else the catalogue
   * entry the node kept; else the file name), whether Kiwix serves each and where to open it, unfinished downloads,
   * and updates the catalogue offers.
   */
  async function libraryOf(app: ReturnType<typeof appOf>, more: ZimEntry[], host: string, askForUpdates = false) {
    const { zims, parts } = await filesIn(app.zimDir);
    const served = await s.zims.shelf.books(app.stack);
    const known = await updatesOf(app.stack, zims, askForUpdates);
    const updates = updatesFor(zims, [...known.entries, ...more]);
    const kept = new Map([...known.entries, ...more].map((e) => [e.fileName, e]));
    const live = new Map(downloads.progressFor(app.stack).map((p) => [p.fileName, p]));
    const at = s.zims.shelf.addresses(app.stack, host);
    return {
      zims: zims.map((z) => {
        const book = served?.get(z.fileName);
        const entry = kept.get(z.fileName);
        return {
          ...z,
          title: book?.title || entry?.title || z.fileName.replace(/\.zim$/, ''),
          language: book?.language || entry?.language || '',
          date: book?.date || entry?.updated.slice(0, 10) || '',
          openUrl: book?.urlPath ? `${at.web}${book.urlPath}` : undefined,
          lanUrl: book?.urlPath && at.lan ? `${at.lan}${book.urlPath}` : undefined,
          sizeText: formatBytes(z.size),
          served: served ? book?.served === true : undefined,
          update: updates.get(z.fileName),
          bookName: known.books.get(z.fileName),
        };
      }),
      updatesError: known.error,
      /** "Check for newer versions" was asked this time: the page says what it found. */
      checked: askForUpdates ? { books: new Set(known.books.values()).size, updates: updates.size } : undefined,
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

  const librariesPage: RequestHandler = (req, res) => {
    render(req, res, 'zim-apps', { title: 'ZIM libraries', apps: s.zims.shelf.all() });
  };

  /** The catalogue's refusal of a filter, named as the search form names it (sizes are typed in GB). */
  const asTyped = (err: unknown) => (err instanceof FieldErrors && 'maxSize' in err.fields ? new FieldErrors({ ...err.fields, maxGB: err.fields.maxSize }, err.message, err.status) : err);

  /** The library page; with `search` false, without asking the catalogue (a search refused: the form comes back). */
  const libraryView = async (req: Request, res: Response, search = true) => {
    const app = appOf(req);
    const { filters, form, asked } = search ? filtersFrom(req.query) : { filters: {}, form: {}, asked: false };
    const result = asked ? await browser.browse(filters).catch((err: unknown) => Promise.reject(asTyped(err))) : undefined;
    const library = await libraryOf(app, result?.page?.entries ?? [], req.hostname, req.query.updates === '1');
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
  };
  // A search the catalogue cannot take (a language name instead of its code) comes back with the note beside it.
  const libraryPage: RequestHandler = withForm((req, res) => libraryView(req, res), (req, res) => libraryView(req, res, false), { id: () => 'browse' });

  const libraryLive: RequestHandler = (req, res) => {
    const app = appOf(req);
    const sse = openSse(req, res);
    let active = downloads.progressFor(app.stack).length;
    // Never rejects: a folder that went away (an unplugged disk) must not take the node down with it.
    const sendLibrary = () =>
      libraryOf(app, [], req.hostname).then(
        (library) => void sse.send('library', renderPartial(res, 'zim-files', { app, library })),
        (err: Error) => s.log.warn({ stack: app.stack, err: err.message }, 'could not read the ZIM folder for a live update'),
      );
    const push = coalesce(500, () => {
      sse.send('progress', renderPartial(res, 'zim-progress', { progress: progressView(app.stack), app }));
      // A download that ended changes the files on disk: send the library once then.
      const nowActive = downloads.progressFor(app.stack).length;
      if (nowActive !== active) {
        active = nowActive;
        void sendLibrary();
      }
    });
    const onProgress = (stack: string) => stack === app.stack && push.poke();
    const onLibrary = (stack: string) => stack === app.stack && void sendLibrary();
    downloads.events.on('progress', onProgress);
    downloads.events.on('library', onLibrary);
    // What moved between the page and this stream (a download ended, Kiwix began serving a book) has no event left
    // to come: the stream starts with the library and the progress as they are now.
    void sendLibrary();
    push.poke();
    sse.onClose(() => {
      downloads.events.off('progress', onProgress);
      downloads.events.off('library', onLibrary);
      push.cancel();
    });
  };

  const download: RequestHandler = auditRefusals(s, 'job.zim-download', (req, res) => {
    const app = appOf(req);
    const b = body(req);
    // The page the steward picked from: a search, or the "newer versions of this book" answer.
    const searched = filtersFrom({ lang: b.lang, category: b.category, q: b.q, maxGB: b.maxGB, start: b.start }).filters;
    const book = b.name ? filtersFrom({ name: b.name }).filters : undefined;
    const id = parseForm(z.string().regex(/^[0-9a-fA-F-]{8,64}$/, 'is not a catalogue entry'), b.id, { value: 'The entry' });
    const entry = browser.entryFrom(searched, id) ?? (book && browser.entryFrom(book, id));
    if (!entry) throw new UserFacingError('That entry is not on the catalogue page you saw: search again, then pick it.', 404);
    const replaces = b.replaces ? zimName(b.replaces, 'The file it updates') : undefined;
    res.redirect(303, `/jobs/${downloads.start(app.stack, entry, actorOf(req, res.locals.session), replaces).id}`);
  });

  const downloadAction = (action: 'pause' | 'resume' | 'cancel'): RequestHandler =>
    auditRefusals(s, `zim.${action}`, async (req, res) => {
      const app = appOf(req);
      const fileName = zimName(body(req).fileName);
      const actor = actorOf(req, res.locals.session);
      if (action === 'resume') return res.redirect(303, `/jobs/${downloads.resume(app.stack, fileName, actor).id}`);
      await downloads.stopFromLibrary(action, app.stack, fileName, actor);
      res.redirect(303, `/apps/${app.stack}/zims`);
    });
  const pause = downloadAction('pause');
  const resume = downloadAction('resume');
  const cancel = downloadAction('cancel');

  const removePage = (req: Request, res: Response) => {
    const app = appOf(req);
    render(req, res, 'zim-remove', { title: `Remove a ZIM file · ${app.domain}`, app, fileName: zimName(req.method === 'GET' ? req.query.file : body(req).fileName) });
  };

  const remove: RequestHandler = withForm(auditRefusals(s, 'zim.remove', async (req, res) => {
    const app = appOf(req);
    const fileName = zimName(body(req).fileName);
    // The form again, saying what to type beside the field: a steward retries without hunting for the Back button.
    if (body(req).confirm !== fileName) throw fieldError('confirm', `To remove it, type its file name exactly: ${fileName}`);
    await s.zims.shelf.remove(app, fileName, actorOf(req, res.locals.session));
    res.redirect(303, `/apps/${app.stack}/zims`);
  }), removePage);

  return { librariesPage, libraryPage, libraryLive, download, removePage, remove, pause, resume, cancel };
}
