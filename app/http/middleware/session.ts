// Loads the session named by the cookie, and the CSRF token forms must echo back.
import type { RequestHandler } from 'express';
import { PRELOGIN_CSRF_COOKIE, SESSION_COOKIE, readCookie } from '../cookies.ts';
import type { SessionService } from '../../services/sessions.ts';

export function loadSession(sessions: SessionService): RequestHandler {
  return (req, res, next) => {
    const token = readCookie(req, SESSION_COOKIE);
    const session = token ? sessions.resolve(token) : undefined;
    if (session) res.locals.session = session;
    res.locals.csrfToken = session?.csrfToken ?? readCookie(req, PRELOGIN_CSRF_COOKIE) ?? '';
    next();
  };
}
