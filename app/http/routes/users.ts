// The admin's page for people: add stewards and guests, reset passwords, disable, remove, end sessions.
import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { passwordSchema, roleSchema, usernameSchema } from '../../validation.ts';
import { actorOf, type Services } from '../context.ts';
import { parseForm, parseId, withForm } from '../forms.ts';
import { render } from '../render.ts';
import { UserFacingError, asFieldError } from '../../errors.ts';

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

export function userRoutes(s: Services) {
  const back = (notice: string) => `/users?notice=${notice}`;

  /** The People page's data: everyone, their access tokens, and a notice or an error. */
  const peopleData = (say: { notice?: string; error?: string }) => ({ title: 'People', users: s.people.list(), tokens: s.accessTokens.list(), ...say });

  const peoplePage: RequestHandler = (req, res) => {
    const notice = req.method === 'GET' && typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined;
    render(req, res, 'users', peopleData({ notice }));
  };
  /** Which of the People page's forms was sent: one per row for role and password, hence the id. */
  const rowForm = (kind: string) => ({ id: (req: Request) => `${kind}-${req.params.id}` });

  const add: RequestHandler = withForm(async (req, res) => {
    const form = parseForm(addForm, req.body, { username: 'Username', role: 'Role', password: 'Password' });
    await s.peopleAdmin.add(actorOf(req, res.locals.session), form).catch((err: unknown) => Promise.reject(asFieldError(err, 'username'))); // a taken name
    res.redirect(303, back('added'));
  }, peoplePage, { id: () => 'add' });

  const resetPassword: RequestHandler = withForm(async (req, res) => {
    const id = parseId(req.params.id);
    const form = parseForm(passwordForm, req.body, { password: 'New password' });
    await s.peopleAdmin.resetPassword(actorOf(req, res.locals.session), id, form.password);
    res.redirect(303, back('password'));
  }, peoplePage, rowForm('password'));

  const setRole: RequestHandler = withForm((req, res) => {
    const id = parseId(req.params.id);
    const form = parseForm(roleForm, req.body, { role: 'Role' });
    try {
      s.peopleAdmin.setRole(actorOf(req, res.locals.session), id, form.role);
    } catch (err) {
      // The last admin's role stays: said beside the role it was about (the service audited the refusal).
      throw err instanceof UserFacingError ? asFieldError(err, 'role') : err;
    }
    res.redirect(303, back('role'));
  }, peoplePage, rowForm('role'));

  const setDisabled = (disabled: boolean): RequestHandler => (req, res) => {
    s.peopleAdmin.setDisabled(actorOf(req, res.locals.session), res.locals.session!.user, parseId(req.params.id), disabled);
    res.redirect(303, back(disabled ? 'disabled' : 'enabled'));
  };
  const disable = setDisabled(true);
  const enable = setDisabled(false);

  const logOutEverywhere: RequestHandler = (req, res) => {
    s.peopleAdmin.endSessions(actorOf(req, res.locals.session), parseId(req.params.id));
    res.redirect(303, back('logged-out'));
  };

  const remove: RequestHandler = (req, res) => {
    s.peopleAdmin.remove(actorOf(req, res.locals.session), res.locals.session!.user, parseId(req.params.id));
    res.redirect(303, back('removed'));
  };

  return { peoplePage, add, resetPassword, setRole, logOutEverywhere, remove, disable, enable };
}
