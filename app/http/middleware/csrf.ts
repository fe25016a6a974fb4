// Every state-changing request must carry the token of its session (or, before login, of the pre-login cookie).
import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { renderError } from '../render.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A form's own field wins over the header: the page's header can outlive a session that htmx swapped away. */
function submittedToken(req: Request): string {
  const body = req.body as Record<string, unknown> | undefined;
  if (typeof body?._csrf === 'string') return body._csrf;
  return req.get('X-CSRF-Token') ?? '';
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export function requireCsrf(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    if (sameToken(submittedToken(req), res.locals.csrfToken)) return next();
    renderError(req, res, {
      status: 403,
      title: 'Form expired',
      message: 'This form is out of date or did not come from this node. Reload the page and try again.',
    });
  };
}
