// Installing and changing apps through abra: forms, confirmations, and the jobs they start.
import { Router, type Request, type Response } from 'express';
import type { AppAction } from '../../services/app-access.ts';
import type { AppView } from '../../services/apps.ts';
import { UserFacingError } from '../../services/errors.ts';
import { stackSchema } from '../../validation.ts';
import { appByStack } from '../app-guard.ts';
import { actorOf, callerOf, type Services } from '../context.ts';
import { parseForm, withFieldErrors } from '../forms.ts';
import { settingsAsSent } from '../../services/env/form.ts';
import { requireRole } from '../middleware/auth.ts';
import { render } from '../render.ts';
import { auditRefusals } from '../audited.ts';
import { fitBadge } from '../fit-badge.ts';
import { formatBytes } from '../format.ts';

export function lifecycleRoutes(s: Services): Router {
  const r = Router();
  const stewards = requireRole('admin', 'steward');
  const admins = requireRole('admin');
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const ticked = (req: Request, name: string) => body(req)[name] !== undefined;
  const caller = (req: Request, res: Response) => callerOf(req, res.locals.session);

  /** The app behind /apps/:stack, as the swarm and the node's abra know it. */
  function appAt(req: Request): AppView {
    return appByStack(s, parseForm(stackSchema, req.params.stack, { value: 'The app' }));
  }

  /** The app behind /apps/:stack, which the caller may take `action` on and this node's abra installed. */
  async function managedApp(req: Request, res: Response, action: AppAction): Promise<AppView & { installed: NonNullable<AppView['installed']> }> {
    const app = appAt(req);
    await s.access.authorize(caller(req, res), app, action);
    if (!app.installed) throw new UserFacingError(`${app.domain ?? app.stack} was deployed from elsewhere (not with this node’s abra), so the node can show it but not change it.`, 409);
    return app as AppView & { installed: NonNullable<AppView['installed']> };
  }

  /** An admin's confirmation of what a change reaches on the host, in the audit log with the list. */
  const auditReach = (req: Request, res: Response, action: string, target: string, reach: unknown) => {
    if (Array.isArray(reach) && reach.length) s.audit.record(actorOf(req, res.locals.session), 'host-reach.confirm', { target, detail: { action, reach } });
  };
  const jobPage = (id: number) => `/jobs/${id}`;

  r.get('/install/:recipe', stewards, async (req, res) => {
    const plan = await s.lifecycle.installPlan(req.params.recipe, req.query.version);
    const reach = await s.lifecycle.installReach(plan.recipe, plan.version);
    const folders = await s.lifecycle.formFolderFindings(plan.recipe, plan.version, {});
    render(req, res, 'install', { title: `Install ${plan.recipe}`, plan, reach, folders, badge: fitBadge(plan.fit), formatBytes, abraMissing: s.lifecycle.problem() });
  });

  /** The install form again as it was sent: each error beside its field, and what pre-flight finds about its folders. */
  async function installAgain(req: Request, res: Response, more: { errors?: Record<string, string>; notice?: string }, status: number): Promise<void> {
    const b = body(req);
    const plan = await s.lifecycle.installPlan(req.params.recipe, b.version);
    const reach = await s.lifecycle.installReach(plan.recipe, plan.version);
    const folders = await s.lifecycle.formFolderFindings(plan.recipe, plan.version, b);
    const sent = { ...plan, sample: settingsAsSent(plan.sample, b) };
    render(req, res, 'install', { title: `Install ${plan.recipe}`, plan: sent, reach, folders, badge: fitBadge(plan.fit), formatBytes, abraMissing: s.lifecycle.problem(), ...more, domain: typeof b.domain === 'string' ? b.domain : undefined, deploy: b.deploy !== undefined }, status);
  }

  // "Create this folder" beside a missing host folder: the install form's own values come along (formaction), so
  // the form comes back as it was, with the folder there. Only under the node's roots (ZIM_ROOT), audited.
  r.post('/install/:recipe/folder', stewards, withFieldErrors(auditRefusals(s, 'host.folder.create', async (req, res) => {
    const b = body(req);
    const key = b.create_folder;
    const folder = await s.lifecycle.createFolder(req.params.recipe, key, b[`env.${String(key)}`], caller(req, res));
    s.audit.record(actorOf(req, res.locals.session), 'host.folder.create', { target: folder, detail: { recipe: req.params.recipe, setting: key } });
    await installAgain(req, res, { notice: `The folder ${folder} was created. It is readable by the app.` }, 200);
  }), (req, res, refused) => installAgain(req, res, { errors: refused.fields }, 400)));

  r.post('/install/:recipe', stewards, withFieldErrors(auditRefusals(s, 'job.install', async (req, res) => {
    const b = body(req);
    const job = await s.lifecycle.install(
      { recipe: req.params.recipe, version: b.version, domain: b.domain, deploy: b.deploy !== undefined, overrideArch: b.override_arch !== undefined, confirm: { hostReach: ticked(req, 'confirm_host_reach') }, form: b },
      caller(req, res),
    );
    auditReach(req, res, 'install', String(job.args.domain ?? ''), job.args.hostReach);
    res.redirect(303, jobPage(job.id));
  }), (req, res, refused) => installAgain(req, res, { errors: refused.fields }, 400)));

  r.get('/apps/:stack/config', stewards, async (req, res) => {
    const app = await managedApp(req, res, 'config');
    const plan = await s.lifecycle.configPlan(app.installed.domain);
    const reach = await s.lifecycle.hostReach(app.installed.domain);
    const folders = await s.lifecycle.appFolderFindings(app.installed.domain);
    render(req, res, 'config', { title: `Settings · ${app.installed.domain}`, app, plan, reach, folders, isSelf: s.self.isSelf(app.stack), deployed: app.status !== 'not deployed' });
  });

  /** The settings form again as it was sent, with the missing folders its values name. */
  async function configAgain(req: Request, res: Response, app: AppView & { installed: NonNullable<AppView['installed']> }, more: { errors?: Record<string, string>; notice?: string }, status: number): Promise<void> {
    const b = body(req);
    const plan = await s.lifecycle.configPlan(app.installed.domain);
    const reach = await s.lifecycle.hostReach(app.installed.domain);
    const folders = await s.lifecycle.appFolderFindings(app.installed.domain, b);
    const sent = { ...plan, sample: settingsAsSent(plan.sample, b) };
    render(req, res, 'config', { title: `Settings · ${app.installed.domain}`, app, plan: sent, reach, folders, isSelf: s.self.isSelf(app.stack), deployed: app.status !== 'not deployed', redeploy: b.redeploy !== undefined, ...more }, status);
  }

  r.post('/apps/:stack/folder', stewards, withFieldErrors(auditRefusals(s, 'host.folder.create', async (req, res) => {
    const app = await managedApp(req, res, 'config');
    const b = body(req);
    const folder = await s.lifecycle.createFolder(app.installed.recipe, b.create_folder, b[`env.${String(b.create_folder)}`], caller(req, res));
    s.audit.record(actorOf(req, res.locals.session), 'host.folder.create', { target: folder, detail: { app: app.installed.domain, setting: b.create_folder } });
    await configAgain(req, res, app, { notice: `The folder ${folder} was created. It is readable by the app. Save to use it.` }, 200);
  }), async (req, res, refused) => configAgain(req, res, await managedApp(req, res, 'config'), { errors: refused.fields }, 400)));

  r.post('/apps/:stack/config', stewards, withFieldErrors(auditRefusals(s, 'app.config', async (req, res) => {
    const app = await managedApp(req, res, 'config');
    const b = body(req);
    const actor = actorOf(req, res.locals.session);
    const confirm = { hostReach: ticked(req, 'confirm_host_reach'), linkLocalUrls: ticked(req, 'allow_link_local') };
    const result = await s.lifecycle.configure(app.installed.domain, b, b.redeploy !== undefined, caller(req, res), confirm);
    auditReach(req, res, 'config', app.installed.domain, result.hostReach);
    s.audit.record(actor, 'app.config', { target: app.installed.domain, detail: { changed: result.changed, ...(confirm.linkLocalUrls ? { linkLocalUrlsAllowed: true } : {}) } });
    res.redirect(303, result.job ? jobPage(result.job.id) : `/apps/${app.stack}`);
  }), async (req, res, refused) => configAgain(req, res, await managedApp(req, res, 'config'), { errors: refused.fields }, 400)));

  r.post('/apps/:stack/deploy', stewards, auditRefusals(s, 'job.deploy', async (req, res) => {
    res.redirect(303, jobPage(s.lifecycle.deploy((await managedApp(req, res, 'deploy')).installed.domain, actorOf(req, res.locals.session)).id));
  }));

  // Undeploying cuts people off: a page asks first (works without JavaScript); the POST needs its `confirmed` field.
  r.get('/apps/:stack/undeploy', stewards, async (req, res) => {
    const app = await managedApp(req, res, 'undeploy');
    const name = app.installed.domain;
    render(req, res, 'confirm', {
      title: `Undeploy ${name}`,
      app,
      question: `Undeploy ${name}?`,
      consequence: 'Its services are taken off the swarm; its settings, secrets and data stay. People using it will not reach it until it is deployed again.',
      action: `/apps/${app.stack}/undeploy`,
      button: `Undeploy ${name}`,
    });
  });

  r.post('/apps/:stack/undeploy', stewards, auditRefusals(s, 'job.undeploy', async (req, res) => {
    const app = await managedApp(req, res, 'undeploy');
    if (!ticked(req, 'confirmed')) return res.redirect(303, `/apps/${app.stack}/undeploy`);
    res.redirect(303, jobPage(s.lifecycle.undeploy(app.installed.domain, actorOf(req, res.locals.session)).id));
  }));

  r.post('/apps/:stack/restart', stewards, auditRefusals(s, 'job.restart', async (req, res) => {
    const app = await managedApp(req, res, 'restart');
    res.redirect(303, jobPage(s.lifecycle.restart(app.installed.domain, body(req).service || undefined, actorOf(req, res.locals.session)).id));
  }));

  for (const direction of ['upgrade', 'rollback'] as const) {
    r.get(`/apps/:stack/${direction}`, stewards, async (req, res) => {
      const app = await managedApp(req, res, direction);
      const plan = await s.lifecycle.versionPlan(app.installed.domain, direction === 'upgrade' ? 'newer' : 'older');
      const reach = Object.fromEntries(await Promise.all(plan.choices.map(async (c) => [c.version, await s.lifecycle.hostReach(app.installed.domain, c.version)] as const)));
      render(req, res, 'versions', { title: `${direction === 'upgrade' ? 'Upgrade' : 'Roll back'} · ${app.installed.domain}`, app, plan, reach, direction });
    });
    r.post(`/apps/:stack/${direction}`, stewards, auditRefusals(s, `job.${direction}`, async (req, res) => {
      const app = await managedApp(req, res, direction);
      const job = await s.lifecycle.upgrade(app.installed.domain, body(req).version, caller(req, res), direction, { hostReach: ticked(req, 'confirm_host_reach') });
      auditReach(req, res, direction, app.installed.domain, job.args.hostReach);
      res.redirect(303, jobPage(job.id));
    }));
  }

  r.get('/apps/:stack/remove', stewards, async (req, res) => {
    const app = await managedApp(req, res, 'remove');
    render(req, res, 'remove', { title: `Remove ${app.installed.domain}`, app });
  });

  r.post('/apps/:stack/remove', stewards, auditRefusals(s, 'job.remove', async (req, res) => {
    const app = await managedApp(req, res, 'remove');
    if (app.status !== 'not deployed') throw new UserFacingError(`${app.installed.domain} is still deployed. Undeploy it first, then remove it.`, 409);
    res.redirect(303, jobPage(s.lifecycle.remove(app.installed.domain, body(req).confirm, actorOf(req, res.locals.session)).id));
  }));

  // Adoption: an admin hands a stack deployed elsewhere to the node, so that stewards may act on it (or takes it back).
  r.post('/apps/:stack/adopt', admins, auditRefusals(s, 'app.adopt', (req, res) => {
    const app = appAt(req);
    if (app.management === 'self') throw new UserFacingError('This is the node itself: it is never adopted.', 409);
    if (app.management === 'managed') throw new UserFacingError(`${app.domain ?? app.stack} was installed with this node’s abra: it is managed already.`, 409);
    if (app.management === 'adopted') throw new UserFacingError(`${app.domain ?? app.stack} is adopted already.`, 409);
    if (!app.services.length) throw new UserFacingError(`${app.stack} is not running on the swarm: there is nothing to adopt.`, 409);
    s.store.adoptedStacks.adopt(app.stack, res.locals.session?.user.username ?? null, Date.now());
    s.audit.record(actorOf(req, res.locals.session), 'app.adopt', { target: app.stack, detail: { recipe: app.recipe ?? null, coopCloud: app.coopCloud } });
    res.redirect(303, `/apps/${app.stack}`);
  }));

  r.post('/apps/:stack/release', admins, auditRefusals(s, 'app.release', (req, res) => {
    const stack = parseForm(stackSchema, req.params.stack, { value: 'The app' });
    if (!s.store.adoptedStacks.release(stack)) throw new UserFacingError(`${stack} is not adopted.`, 409);
    s.audit.record(actorOf(req, res.locals.session), 'app.release', { target: stack });
    res.redirect(303, `/apps/${stack}`);
  }));

  return r;
}
