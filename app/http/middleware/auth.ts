// Who may see what: every page needs a login; roles narrow it further.
import type { RequestHandler } from 'express';
import { can, ROLES_FOR, type RoleAction } from '../../services/policy.ts';
import { isHtmx } from '../context.ts';
import { renderError } from '../render.ts';

export const requireUser: RequestHandler = (req, res, next) => {
  if (res.locals.session) return next();
  if (req.method === 'GET' && !isHtmx(req)) {
    const nextPath = req.originalUrl.startsWith('/') ? req.originalUrl : '/';
    return res.redirect(303, `/login?next=${encodeURIComponent(nextPath)}`);
  }
  if (isHtmx(req)) res.set('HX-Redirect', '/login');
  res.status(401).type('text').send('Log in first.');
};

/** Lets the request through when the policy allows this action to the logged-in person; a 403 page otherwise. */
export function allow(action: RoleAction): RequestHandler {
  const roles = ROLES_FOR[action];
  return (req, res, next) => {
    if (can(res.locals.session?.user, action)) return next();
    renderError(req, res, {
      status: 403,
      title: 'Not allowed',
      message: `This needs the ${roles.join(' or ')} role. Ask an admin of this node if you need it.`,
    });
  };
}
