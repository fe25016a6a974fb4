// An app's page in the config repository: its pending changes (pushed from a laptop, or saved on the page but not
// yet deployed) as a diff, "Deploy these changes" (a normal lifecycle job) and "Discard", and who changed what.
import type { Request, RequestHandler, Response } from 'express';
import type { InstalledApp } from '../../services/app-directory.ts';
import { UserFacingError, asFieldError } from '../../errors.ts';
import { HostReachUnconfirmed } from '../../services/install-guards.ts';
import { stackSchema } from '../../validation.ts';
import { authorizedApp } from '../app-guard.ts';
import { actorOf, callerOf, type Services } from '../context.ts';
import { parseForm, withForm } from '../forms.ts';
import { render } from '../render.ts';
import { auditRefusals } from '../audited.ts';

export type DiffLine = { kind: 'add' | 'del' | 'hunk' | 'ctx'; text: string };

/** A unified diff as lines to colour; git's own header lines (diff --git, index, ---/+++) are left out. */
export function diffLines(diff: string): DiffLine[] {
  const out: DiffLine[] = [];
  let inHunk = false;
  for (const line of diff.split('\n')) {
    if (line.startsWith('@@')) {
      inHunk = true;
      out.push({ kind: 'hunk', text: line });
    } else if (!inHunk) continue;
    else if (line.startsWith('+')) out.push({ kind: 'add', text: line });
    else if (line.startsWith('-')) out.push({ kind: 'del', text: line });
    else if (line.startsWith(' ')) out.push({ kind: 'ctx', text: line });
  }
  return out;
}

export function configRepoRoutes(s: Services) {

  function appOf(req: Request): InstalledApp {
    const stack = parseForm(stackSchema, req.params.stack, { value: 'The app' });
    const app = s.apps.installed(stack);
    if (!app) throw new UserFacingError(`There is no env file for “${stack}” in this node’s config repository.`, 404);
    return app;
  }

  const changesPage: RequestHandler = async (req, res) => {
    const app = appOf(req);
    const [pending, history] = await Promise.all([s.configRepo.pending(app.domain), s.configRepo.history(app.domain)]);
    // What the env file as it is now would reach on the host: the Deploy form names it and asks an admin to tick it.
    const reach = pending ? await s.lifecycle.hostReach(app.domain) : [];
    const notice = req.query.discarded ? 'Pending changes discarded: the env file is back as it was deployed.' : undefined;
    render(req, res, 'app-changes', { title: `Changes · ${app.domain}`, app, pending, lines: pending ? diffLines(pending.diff) : [], history, notice, reach, busy: s.jobs.holder(app.stack) });
  };

  const deployChanges: RequestHandler = withForm(auditRefusals(s, 'job.deploy', async (req, res) => {
    // Who may act on the app first (a read-only stack is refused as such), then its env file.
    await authorizedApp(s, req, res, parseForm(stackSchema, req.params.stack, { value: 'The app' }), 'deploy');
    const app = appOf(req);
    if (!(await s.configRepo.pending(app.domain))) throw new UserFacingError(`${app.domain} has no pending changes to deploy.`, 409);
    const confirm = { hostReach: (req.body as Record<string, unknown> | undefined)?.confirm_host_reach !== undefined };
    const job = await s.appChanges.deployPending(app.domain, callerOf(req, res.locals.session), confirm).catch((err: unknown) => {
      // The one refusal the admin answers on this page: the host reach not ticked yet.
      throw err instanceof HostReachUnconfirmed ? asFieldError(err, 'confirm_host_reach') : err;
    });
    res.redirect(303, `/jobs/${job.id}`);
  }), changesPage);

  const discardChanges: RequestHandler = auditRefusals(s, 'config-repo.discard', async (req, res) => {
    // Who may act on the app first (a read-only stack is refused as such), then its env file.
    await authorizedApp(s, req, res, parseForm(stackSchema, req.params.stack, { value: 'The app' }), 'config');
    const app = appOf(req);
    if (s.jobs.holder(app.stack)) throw new UserFacingError(`${app.domain} is busy: a “${s.jobs.holder(app.stack)}” job is running on it.`, 409);
    await s.configSharing.discard({ ...actorOf(req, res.locals.session), name: res.locals.session!.user.username }, app.domain);
    res.redirect(303, `/apps/${app.stack}/changes?discarded=1`);
  });

  // The optional remote (admins): URL and deploy key, and a round now.
  const remotePage = (req: Request, res: Response) => {
    const notice = req.method === 'GET' && req.query.saved ? 'Remote saved.' : undefined;
    render(req, res, 'config-remote', { title: 'Config repository remote', url: s.configRemote.url() ?? '', hasKey: s.configRemote.hasKey(), status: s.configRemote.status(), notice });
  };
  const setRemote: RequestHandler = withForm(auditRefusals(s, 'config-repo.remote', (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    try {
      s.nodeSettings.setRemote(actorOf(req, res.locals.session), res.locals.session!.user.username, b.url, b.deploy_key);
    } catch (err) {
      // The service's two refusals: the URL, or the key (never kept on the page).
      throw asFieldError(err, err instanceof Error && /deploy key/.test(err.message) ? 'deploy_key' : 'url');
    }
    res.redirect(303, '/settings/config-repo?saved=1');
  }), remotePage);
  const syncRemote: RequestHandler = auditRefusals(s, 'config-repo.remote-sync', async (req, res) => {
    await s.nodeSettings.syncRemote(actorOf(req, res.locals.session));
    res.redirect(303, '/settings/config-repo');
  });

  return { changesPage, deployChanges, discardChanges, remotePage, setRemote, syncRemote };
}
