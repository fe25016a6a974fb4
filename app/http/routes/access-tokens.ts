// Access tokens for the config repository, on the People page: an admin makes one for a person (shown once) and
// revokes it. Normal forms: session and CSRF apply.
import type { RequestHandler } from 'express';
import { actorOf, type Services } from '../context.ts';
import { parseId } from '../forms.ts';
import { render } from '../render.ts';

export function accessTokenRoutes(s: Services) {

  const create: RequestHandler = (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { token, row } = s.peopleAdmin.createToken(actorOf(req, res.locals.session), parseId(body.user), body.label);
    // Shown this once, on this response; only its hash is kept.
    render(req, res, 'token-created', { title: 'Access token made', token, row, cloneUrl: `${req.protocol}://${req.get('host')}/git/servers.git` }, 201);
  };

  const revoke: RequestHandler = (req, res) => {
    s.peopleAdmin.revokeToken(actorOf(req, res.locals.session), parseId(req.params.id));
    res.redirect(303, '/users?notice=token-revoked');
  };

  return { create, revoke };
}
