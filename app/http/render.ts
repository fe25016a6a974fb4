// Server-side rendering with eta: full pages with the layout, or the same page's main part for htmx swaps.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';
import { Eta } from 'eta';
import { mayFor } from '../services/policy.ts';
import { viewWords } from './format.ts';
import { gzippedBody, type PageCache } from './page-cache.ts';

const viewsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'views');
// Every template (pages and partials alike) has `words`: format.ts's plain-words helpers (times, counts, events).
export const eta = new Eta({ views: viewsDir, cache: process.env.NODE_ENV !== 'development', autoTrim: false, functionHeader: 'const words = this.words;' });
Object.assign(eta, { words: viewWords });
// eta works out an include's file path on every call (a JSON key, path joins): a tenth of the dashboard's time
// under load. The views do not move while the node runs, so each (including file, template) pair is resolved once.
if (eta.config.cache && eta.resolvePath) {
  const resolve = eta.resolvePath.bind(eta);
  const resolved = new Map<string, string>();
  eta.resolvePath = (template, options) => {
    const key = `${options?.filepath ?? ''}\0${template}`;
    let file = resolved.get(key);
    if (file === undefined) resolved.set(key, (file = resolve(template, options)));
    return file;
  };
}

export type PageData = Record<string, unknown> & { title: string };

function renderPage(req: Request, res: Response, view: string, data: PageData): string {
  return eta.render(`./pages/${view}`, {
    ...data,
    refused: res.locals.form, // a refused form shown again (forms.ts withForm): values, errors beside fields
    user: res.locals.session?.user,
    // What the page may offer this person (services/policy.ts): views test these flags, never the role.
    may: mayFor(res.locals.session?.user),
    csrfToken: res.locals.csrfToken,
    path: req.path,
    host: req.hostname,
  });
}

export function render(req: Request, res: Response, view: string, data: PageData, status = 200): void {
  // A refused form's page answers with the refusal's status, whatever the page's own would be.
  res.status(res.locals.form?.status ?? status).type('html').send(renderPage(req, res, view, data));
}

/**
 * A page from `cache` under `key` plus the viewer (user, CSRF token, host, path), rendered only when not kept.
 * `key` must name everything else the page shows. Its ETag lets a reload that changed nothing get a 304; browsers
 * that take gzip get the kept gzip copy.
 */
export function renderKept(req: Request, res: Response, cache: PageCache, key: string, view: string, data: () => PageData): void {
  if (res.locals.form) return render(req, res, view, data()); // a refused form is this request's own
  const user = res.locals.session?.user;
  const viewer = `${user?.id}\0${user?.username}\0${user?.role}\0${res.locals.csrfToken}\0${req.hostname}\0${req.path}`;
  const page = cache.get(`${view}\0${key}\0${viewer}`, () => renderPage(req, res, view, data()));
  res.set('ETag', page.etag).vary('Accept-Encoding').type('html');
  if (req.acceptsEncodings('gzip', 'identity') === 'gzip') res.set('Content-Encoding', 'gzip').send(gzippedBody(page));
  else res.send(page.body);
}

/** A partial as an HTML string, for SSE pushes and htmx swaps. `it` carries the viewer like a page does. */
export function renderPartial(res: Response, partial: string, data: Record<string, unknown>): string {
  return eta.render(`./partials/${partial}`, { ...data, user: res.locals.session?.user, may: mayFor(res.locals.session?.user), csrfToken: res.locals.csrfToken, host: res.req.hostname });
}

export type ErrorPage = { status: number; title: string; message: string };

export function renderError(req: Request, res: Response, page: ErrorPage): void {
  render(req, res, 'error', { title: page.title, message: page.message }, page.status);
}
