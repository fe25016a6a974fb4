// Access tokens for the config repository, on the People page: an admin makes one for a person (shown once) and
// revokes it. Normal forms: session and CSRF apply.
import type { RequestHandler } from 'express';
import { actorOf, type Services } from '../context.ts';
import { parseId, withForm } from '../forms.ts';
import { UserFacingError, asFieldError } from '../../errors.ts';
import { render } from '../render.ts';

export function accessTokenRoutes(s: Services) {

  // A refused token (its name) is said beside the name on the People page, what was typed kept.
  const create: RequestHandler = withForm((req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    let made: ReturnType<Services['peopleAdmin']['createToken']>;
    try {
      made = s.peopleAdmin.createToken(actorOf(req, res.locals.session), parseId(body.user), body.label);
    } catch (err) {
      throw err instanceof UserFacingError && err.status === 400 ? asFieldError(err, 'label') : err;
    }
    const { token, row } = made;
    // Shown this once, on this response; only its hash is kept.
    render(req, res, 'token-created', { title: 'Access token made', token, row, cloneUrl: `${req.protocol}://${req.get('host')}/git/servers.git` }, 201);
  }, { path: '/users' }, { id: () => 'token' });

  const revoke: RequestHandler = (req, res) => {
    s.peopleAdmin.revokeToken(actorOf(req, res.locals.session), parseId(req.params.id));
    res.redirect(303, '/users?notice=token-revoked');
  };

  return { create, revoke };
}
