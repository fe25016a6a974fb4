// Login, first-run setup, logout and "log out everywhere".
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { passwordSchema } from '../../validation.ts';
import { FieldErrors, UserFacingError, asFieldError, fieldError } from '../../errors.ts';
import { newToken } from '../../services/sessions.ts';
import { actorOf, clientIp, type Services } from '../context.ts';
import { KNOWN_DEVICE_COOKIE, PRELOGIN_CSRF_COOKIE, SESSION_COOKIE, clearCookie, readCookies, setCookie } from '../cookies.ts';
import { parseForm, safeNextPath, withForm } from '../forms.ts';
import { KNOWN_DEVICE_MS, issueKnownDevice, passwordStamp, verifyKnownDevice } from '../known-device.ts';
import { LoginLimiter, type Attempt, type Verdict } from '../../services/login-limiter.ts';
import { WrongCurrentPassword } from '../../services/people.ts';
import type { User } from '../../services/people.ts';
import { render, renderError } from '../render.ts';

const passwordChangeForm = z
  .object({ current: z.string().min(1, 'is required').max(200), password: passwordSchema, confirm: z.string().max(200) })
  .refine((f) => f.password === f.confirm, { message: 'does not match the new password', path: ['confirm'] });
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

const WHO_IS_HELD: Record<string, string> = {
  address: 'from your address',
  account: 'for this account',
  device: 'from this browser',
};

/** 429 with Retry-After and a message that says how long to wait. */
function tooManyAttempts(res: Response, verdict: Extract<Verdict, { allowed: false }>): string {
  res.set('Retry-After', String(verdict.retryAfterSeconds));
  return `Too many attempts ${WHO_IS_HELD[verdict.scope]}. Wait ${verdict.retryAfterSeconds} seconds and try again.`;
}

export function authRoutes(s: Services, now: () => number) {
  const limiter = new LoginLimiter({ now });

  /** What the limiter holds a login attempt by: the address, the account, a known device of it. */
  function loginAttempt(req: Request, username: string): Attempt {
    const credentials = s.people.credentials(username);
    // Unknown names are counted like real ones: a hold must not tell which accounts exist.
    const attempt: Attempt = { address: clientIp(req), account: { name: username, stamp: credentials ? passwordStamp(credentials.passwordHash) : '' } };
    if (!credentials) return attempt;
    const mark = { id: credentials.user.id, passwordHash: credentials.passwordHash };
    for (const value of readCookies(req, KNOWN_DEVICE_COOKIE)) {
      const device = verifyKnownDevice(value, mark, now());
      if (device) {
        attempt.device = device;
        break;
      }
    }
    return attempt;
  }

  function startSession(req: Request, res: Response, user: User, next: string): void {
    const { token } = s.signIn.start(user, { ip: clientIp(req), userAgent: req.get('User-Agent') ?? '' });
    setCookie(req, res, SESSION_COOKIE, token, s.sessions.lifetimeMs);
    clearCookie(req, res, PRELOGIN_CSRF_COOKIE);
    // This browser is now known for this account: others' wrong guesses will not hold it at the login form.
    const credentials = s.people.credentials(user.username);
    if (credentials) setCookie(req, res, KNOWN_DEVICE_COOKIE, issueKnownDevice(user.id, credentials.passwordHash, now()), KNOWN_DEVICE_MS);
    res.redirect(303, next);
  }

  const loginPage = (req: Request, res: Response) => {
    if (res.locals.session) return res.redirect(303, '/');
    if (s.people.needsSetup()) return res.redirect(303, '/setup');
    ensurePreloginCsrf(req, res);
    render(req, res, 'login', { title: 'Log in', next: safeNextPath(req.method === 'POST' ? (req.body as Record<string, unknown> | undefined)?.next : req.query.next) });
  };

  // A refused login shows the form again with the username kept (never the password).
  const logIn: RequestHandler = withForm(async (req, res) => {
    const form = parseForm(loginForm, req.body, { username: 'Username', password: 'Password' });
    const next = safeNextPath(form.next);
    const attempt = loginAttempt(req, form.username);
    const verdict = limiter.begin(attempt);
    if (!verdict.allowed) throw new FieldErrors({}, tooManyAttempts(res, verdict), 429);
    const user = await s.people.authenticate(form.username, form.password);
    if (!user) {
      s.signIn.loginFailed(clientIp(req), form.username, verdict.lockout);
      const wait = verdict.lockout ? ` Too many attempts: wait ${verdict.lockout.seconds} seconds before the next one.` : '';
      throw new FieldErrors({}, `Wrong username or password, or the account is disabled.${wait}`, 401);
    }
    limiter.succeeded(attempt);
    startSession(req, res, user, next);
  }, loginPage);

  const setupPage = (req: Request, res: Response) => {
    if (!s.people.needsSetup()) return res.redirect(303, '/login');
    ensurePreloginCsrf(req, res);
    render(req, res, 'setup', { title: 'Set up this node' });
  };

  // The setup token is held per address, like a password from an unknown browser.
  const setUp: RequestHandler = withForm(async (req, res) => {
    const form = parseForm(setupForm, req.body, { token: 'Setup token', password: 'Password', confirm: 'Confirmation' });
    const attempt: Attempt = { address: clientIp(req) };
    const verdict = limiter.begin(attempt);
    if (!verdict.allowed) throw new FieldErrors({}, tooManyAttempts(res, verdict), 429);
    try {
      const admin = await s.signIn.completeSetup(clientIp(req), form.token, form.password, verdict.lockout);
      limiter.succeeded(attempt);
      startSession(req, res, admin, '/');
    } catch (err) {
      // A wrong token (403) was audited with its hold; anything else (already set up, a conflict) guessed nothing.
      if (!(err instanceof UserFacingError && err.status === 403)) limiter.succeeded(attempt);
      throw err instanceof UserFacingError && err.status === 403 ? asFieldError(err, 'token') : err;
    }
  }, setupPage, { secret: ['confirm'] });

  const accountPage = (req: Request, res: Response, notice?: string) => {
    const session = res.locals.session!;
    render(req, res, 'account', { title: 'Your account', sessionCount: s.sessions.openCount(session.user.id), notice });
  };

  // The current password is a guess like a login's (someone may have found the session open): the same limiter holds it.
  const changePassword: RequestHandler = withForm(async (req, res) => {
    const session = res.locals.session!;
    const actor = actorOf(req, session);
    const attempt = loginAttempt(req, session.user.username);
    const verdict = limiter.begin(attempt);
    if (!verdict.allowed) throw fieldError('current', tooManyAttempts(res, verdict), 429);
    let read = false;
    try {
      const form = () => {
        const f = parseForm(passwordChangeForm, req.body, { current: 'Current password', password: 'New password', confirm: 'Repeat the new password' });
        read = true;
        return f;
      };
      const { sessionsEnded } = await s.signIn.changeOwnPassword(actor, session, form);
      limiter.succeeded(attempt);
      accountPage(req, res, `Password changed.${sessionsEnded ? ` Your ${sessionsEnded} other session${sessionsEnded === 1 ? ' was' : 's were'} ended.` : ''}`);
    } catch (err) {
      const wrongCurrent = err instanceof WrongCurrentPassword;
      // A refused form guessed nothing; past the current password (a new one equal to it), the guess was right.
      if (!read) limiter.refund(attempt);
      else if (!wrongCurrent) limiter.succeeded(attempt);
      if (!(err instanceof UserFacingError)) throw err;
      // The service's refusals are about one field each: the current password, or a new one equal to it.
      throw asFieldError(err, wrongCurrent ? 'current' : 'password');
    }
  }, (req, res) => accountPage(req, res), { secret: ['confirm'] });

  const logOut: RequestHandler = (req, res) => {
    const session = res.locals.session!;
    s.signIn.logOut(actorOf(req, session), session);
    clearCookie(req, res, SESSION_COOKIE);
    res.redirect(303, '/login');
  };

  const logOutEverywhere: RequestHandler = (req, res) => {
    const session = res.locals.session!;
    s.signIn.logOutEverywhere(actorOf(req, session), session);
    clearCookie(req, res, SESSION_COOKIE);
    res.redirect(303, '/login');
  };

  return { loginPage, logIn, setupPage, setUp, accountPage: ((req, res) => accountPage(req, res)) as RequestHandler, changePassword, logOut, logOutEverywhere };
}
