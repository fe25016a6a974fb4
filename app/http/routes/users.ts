// The admin's page for people: add stewards and guests, reset passwords, disable, remove, end sessions.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { passwordSchema, roleSchema, usernameSchema } from '../../validation.ts';
import { actorOf, type Services } from '../context.ts';
import { parseForm, parseId } from '../forms.ts';
import { render } from '../render.ts';
import { UserFacingError } from '../../errors.ts';

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
    const notice = typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined;
    render(req, res, 'users', peopleData({ notice }));
  };

  const add: RequestHandler = async (req, res) => {
    const form = parseForm(addForm, req.body, { username: 'Username', role: 'Role', password: 'Password' });
    await s.peopleAdmin.add(actorOf(req, res.locals.session), form);
    res.redirect(303, back('added'));
  };

  const resetPassword: RequestHandler = async (req, res) => {
    const id = parseId(req.params.id);
    const form = parseForm(passwordForm, req.body, { password: 'New password' });
    await s.peopleAdmin.resetPassword(actorOf(req, res.locals.session), id, form.password);
    res.redirect(303, back('password'));
  };

  const setRole: RequestHandler = (req, res) => {
    const id = parseId(req.params.id);
    const form = parseForm(roleForm, req.body, { role: 'Role' });
    try {
      s.peopleAdmin.setRole(actorOf(req, res.locals.session), id, form.role);
    } catch (err) {
      if (err instanceof UserFacingError) return render(req, res, 'users', peopleData({ error: err.message }), err.status);
      throw err;
    }
    res.redirect(303, back('role'));
  };

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
