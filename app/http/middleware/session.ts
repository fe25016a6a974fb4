// Loads the session named by the cookie, and the CSRF token forms must echo back.
// Several cookies of the same name may arrive (a sibling app's duplicate, a stale one): each is tried, so an extra
// cookie never logs anyone out.
import type { RequestHandler } from 'express';
import { PRELOGIN_CSRF_COOKIE, SESSION_COOKIE, readCookies } from '../cookies.ts';
import type { Session, SessionService } from '../../services/sessions.ts';

/** The node's tokens are 32 random bytes in base64url; anything else in a token cookie is not the node's. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function loadSession(sessions: SessionService): RequestHandler {
  return (req, res, next) => {
    let session: Session | undefined;
    for (const token of readCookies(req, SESSION_COOKIE)) {
      if (TOKEN_SHAPE.test(token) && (session = sessions.resolve(token))) break;
    }
    if (session) res.locals.session = session;
    res.locals.csrfToken = session?.csrfToken ?? readCookies(req, PRELOGIN_CSRF_COOKIE).find((t) => TOKEN_SHAPE.test(t)) ?? '';
    next();
  };
}
