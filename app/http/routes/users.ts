// The admin's page for people: add stewards and guests, reset passwords, disable, remove, end sessions.
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { passwordSchema, roleSchema, usernameSchema } from '../../validation.ts';
import { actorOf, type Services } from '../context.ts';
import { parseForm, parseId, withForm } from '../forms.ts';
import { requireRole } from '../middleware/auth.ts';
import { render } from '../render.ts';
import { UserFacingError, asFieldError } from '../../services/errors.ts';

const addForm = z.object({ username: usernameSchema, role: roleSchema, password: passwordSchema });
const passwordForm = z.object({ password: passwordSchema });
const roleForm = z.object({ role: roleSchema });
const NOTICES: Record<string, string> = {
  added: 'User added.',
  password: 'Password reset. Their open sessions were ended.',
  disabled: 'User disabled and logged out.',
  enabled: 'User enabled.',
  removed: 'User removed.',
  'logged-out': 'All of their sessions were ended.',
  'token-revoked': 'Access token revoked: it can no longer pull or push.',
  role: 'Role changed.',
};

export function userRoutes(s: Services): Router {
  const r = Router();
  const adminOnly = requireRole('admin');
  const back = (notice: string) => `/users?notice=${notice}`;

  /** The People page's data: everyone, their access tokens, and a notice or an error. */
  const peoplePage = (say: { notice?: string; error?: string }) => ({ title: 'People', users: s.people.list(), tokens: s.accessTokens.list(), ...say });

  const usersPage = (req: Request, res: Response) => {
    const notice = req.method === 'GET' && typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined;
    render(req, res, 'users', peoplePage({ notice }));
  };
  r.get('/users', adminOnly, usersPage);
  /** Which of the People page's forms was sent: one per row for role and password, hence the id. */
  const rowForm = (kind: string) => ({ id: (req: Request) => `${kind}-${req.params.id}` });

  r.post('/users', adminOnly, withForm(async (req, res) => {
    const form = parseForm(addForm, req.body, { username: 'Username', role: 'Role', password: 'Password' });
    const user = await s.people.add(form).catch((err: unknown) => Promise.reject(asFieldError(err, 'username'))); // a taken name
    s.audit.record(actorOf(req, res.locals.session), 'user.add', { target: user.username, detail: { role: user.role } });
    res.redirect(303, back('added'));
  }, usersPage, { id: () => 'add' }));

  r.post('/users/:id/password', adminOnly, withForm(async (req, res) => {
    const id = parseId(req.params.id);
    const form = parseForm(passwordForm, req.body, { password: 'New password' });
    const user = await s.people.resetPassword(id, form.password);
    s.audit.record(actorOf(req, res.locals.session), 'user.password-reset', { target: user.username });
    res.redirect(303, back('password'));
  }, usersPage, rowForm('password')));

  r.post('/users/:id/role', adminOnly, withForm((req, res) => {
    const id = parseId(req.params.id);
    const form = parseForm(roleForm, req.body, { role: 'Role' });
    const actor = actorOf(req, res.locals.session);
    try {
      const { user, from } = s.people.setRole(id, form.role);
      s.audit.record(actor, 'user.role', { target: user.username, detail: { from, to: user.role } });
    } catch (err) {
      s.audit.record(actor, 'user.role', { target: String(id), outcome: 'denied', detail: { to: form.role, error: (err as Error).message } });
      // The last admin's role stays: said beside the role it was about.
      throw err instanceof UserFacingError ? asFieldError(err, 'role') : err;
    }
    res.redirect(303, back('role'));
  }, usersPage, rowForm('role')));

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    r.post(`/users/:id/${action}`, adminOnly, (req, res) => {
      const user = s.people.setDisabled(res.locals.session!.user, parseId(req.params.id), disabled);
      s.audit.record(actorOf(req, res.locals.session), `user.${action}`, { target: user.username });
      res.redirect(303, back(disabled ? 'disabled' : 'enabled'));
    });
  }

  r.post('/users/:id/logout', adminOnly, (req, res) => {
    const user = s.people.get(parseId(req.params.id));
    const ended = s.sessions.endAllFor(user.id);
    s.audit.record(actorOf(req, res.locals.session), 'user.logout-everywhere', { target: user.username, detail: { sessionsEnded: ended } });
    res.redirect(303, back('logged-out'));
  });

  r.post('/users/:id/remove', adminOnly, (req, res) => {
    const user = s.people.remove(res.locals.session!.user, parseId(req.params.id));
    s.audit.record(actorOf(req, res.locals.session), 'user.remove', { target: user.username, detail: { role: user.role } });
    res.redirect(303, back('removed'));
  });

  return r;
}
