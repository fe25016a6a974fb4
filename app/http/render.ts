// Server-side rendering with eta: full pages with the layout, or the same page's main part for htmx swaps.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';
import { Eta } from 'eta';

const viewsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'views');
const eta = new Eta({ views: viewsDir, cache: process.env.NODE_ENV !== 'development', autoTrim: false });
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

export function render(req: Request, res: Response, view: string, data: PageData, status = 200): void {
  const html = eta.render(`./pages/${view}`, {
    ...data,
    user: res.locals.session?.user,
    csrfToken: res.locals.csrfToken,
    path: req.path,
    host: req.hostname,
  });
  res.status(status).type('html').send(html);
}

/** A partial as an HTML string, for SSE pushes and htmx swaps. `it` carries the viewer like a page does. */
export function renderPartial(res: Response, partial: string, data: Record<string, unknown>): string {
  return eta.render(`./partials/${partial}`, { ...data, user: res.locals.session?.user, csrfToken: res.locals.csrfToken, host: res.req.hostname });
}

export type ErrorPage = { status: number; title: string; message: string };

export function renderError(req: Request, res: Response, page: ErrorPage): void {
  render(req, res, 'error', { title: page.title, message: page.message }, page.status);
}
