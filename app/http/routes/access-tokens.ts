// Access tokens for the config repository, on the People page: an admin makes one for a person (shown once) and
// revokes it. Normal forms: session and CSRF apply.
import type { RequestHandler } from 'express';
import { actorOf, type Services } from '../context.ts';
import { parseId } from '../forms.ts';
import { render } from '../render.ts';

export function accessTokenRoutes(s: Services) {

  const create: RequestHandler = (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { token, row } = s.accessTokens.create(parseId(body.user), body.label, res.locals.session!.user.username);
    s.audit.record(actorOf(req, res.locals.session), 'access-token.create', { target: row.username, detail: { token: row.id, label: row.label } });
    // Shown this once, on this response; only its hash is kept.
    render(req, res, 'token-created', { title: 'Access token made', token, row, cloneUrl: `${req.protocol}://${req.get('host')}/git/servers.git` }, 201);
  };

  const revoke: RequestHandler = (req, res) => {
    const row = s.accessTokens.revoke(parseId(req.params.id));
    s.audit.record(actorOf(req, res.locals.session), 'access-token.revoke', { target: row.username, detail: { token: row.id, label: row.label } });
    res.redirect(303, '/users?notice=token-revoked');
  };

  return { create, revoke };
}
