// Login, first-run setup, logout and "log out everywhere".
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { passwordSchema } from '../../validation.ts';
import { UserFacingError } from '../../services/errors.ts';
import { newToken } from '../../services/sessions.ts';
import { actorOf, clientIp, type Services } from '../context.ts';
import { PRELOGIN_CSRF_COOKIE, SESSION_COOKIE, clearCookie, setCookie } from '../cookies.ts';
import { parseForm, safeNextPath } from '../forms.ts';
import { requireCsrf } from '../middleware/csrf.ts';
import { rateLimit } from '../middleware/rate-limit.ts';
import type { User } from '../../store/users.ts';
import { render } from '../render.ts';

const loginForm = z.object({
  username: z.string().trim().toLowerCase().min(1, 'is required').max(64),
  password: z.string().min(1, 'is required').max(200),
  next: z.string().optional(),
});
const setupForm = z
  .object({ token: z.string().trim().min(1, 'is required').max(100), password: passwordSchema, confirm: z.string() })
  .refine((f) => f.password === f.confirm, { message: 'does not match the password', path: ['confirm'] });

/** Forms shown before login carry a token tied to a cookie (double submit), since there is no session yet. */
function ensurePreloginCsrf(req: Request, res: Response): void {
  if (res.locals.csrfToken) return;
  res.locals.csrfToken = newToken();
  setCookie(req, res, PRELOGIN_CSRF_COOKIE, res.locals.csrfToken);
}

export function authRoutes(s: Services, now: () => number): { public: Router; private: Router } {
  const pub = Router();
  const limitAttempts = rateLimit({ limit: 10, windowMs: 60_000, now });

  function logIn(req: Request, res: Response, user: User, next: string): void {
    const { token } = s.sessions.start(user, { ip: clientIp(req), userAgent: req.get('User-Agent') ?? '' });
    setCookie(req, res, SESSION_COOKIE, token, s.config.sessionMs);
    clearCookie(req, res, PRELOGIN_CSRF_COOKIE);
    s.audit.record({ name: user.username, ip: clientIp(req) }, 'login');
    res.redirect(303, next);
  }

  pub.get('/login', (req, res) => {
    if (res.locals.session) return res.redirect(303, '/');
    if (s.people.needsSetup()) return res.redirect(303, '/setup');
    ensurePreloginCsrf(req, res);
    render(req, res, 'login', { title: 'Log in', next: safeNextPath(req.query.next) });
  });

  pub.post('/login', limitAttempts, requireCsrf(), async (req, res) => {
    const form = parseForm(loginForm, req.body, { username: 'Username', password: 'Password' });
    const next = safeNextPath(form.next);
    const user = await s.people.authenticate(form.username, form.password);
    if (!user) {
      s.audit.record({ name: null, ip: clientIp(req) }, 'login.failed', { target: form.username, outcome: 'denied' });
      return render(req, res, 'login', { title: 'Log in', next, error: 'Wrong username or password, or the account is disabled.' }, 401);
    }
    logIn(req, res, user, next);
  });

  pub.get('/setup', (req, res) => {
    if (!s.people.needsSetup()) return res.redirect(303, '/login');
    ensurePreloginCsrf(req, res);
    render(req, res, 'setup', { title: 'Set up this node' });
  });

  pub.post('/setup', limitAttempts, requireCsrf(), async (req, res) => {
    const form = parseForm(setupForm, req.body, { token: 'Setup token', password: 'Password', confirm: 'Confirmation' });
    try {
      const admin = await s.people.completeSetup(form.token, form.password);
      s.audit.record({ name: admin.username, ip: clientIp(req) }, 'setup.admin-created', { target: admin.username });
      logIn(req, res, admin, '/');
    } catch (err) {
      if (err instanceof UserFacingError && err.status === 403) {
        s.audit.record({ name: null, ip: clientIp(req) }, 'setup.failed', { outcome: 'denied' });
      }
      throw err;
    }
  });

  const priv = Router();
  priv.get('/account', (req, res) => {
    const session = res.locals.session!;
    render(req, res, 'account', { title: 'Your account', sessionCount: s.store.sessions.countForUser(session.user.id, now()) });
  });

  priv.post('/logout', (req, res) => {
    const session = res.locals.session!;
    s.sessions.end(session.idHash);
    clearCookie(req, res, SESSION_COOKIE);
    s.audit.record(actorOf(req, session), 'logout');
    res.redirect(303, '/login');
  });

  priv.post('/logout-everywhere', (req, res) => {
    const session = res.locals.session!;
    const ended = s.sessions.endAllFor(session.user.id);
    clearCookie(req, res, SESSION_COOKIE);
    s.audit.record(actorOf(req, session), 'logout.everywhere', { detail: { sessionsEnded: ended } });
    res.redirect(303, '/login');
  });

  return { public: pub, private: priv };
}
