// Installing and changing apps through abra: forms, confirmations, and the jobs they start.
import type { Request, RequestHandler, Response } from 'express';
import type { AppAction } from '../../services/app-access.ts';
import type { ManagedApp } from '../../services/app-directory.ts';
import { cleanDomainInput, stackSchema } from '../../validation.ts';
import { UserFacingError, asFieldError } from '../../errors.ts';
import { actorOf, callerOf, type Services } from '../context.ts';
import { parseForm, withFieldErrors, withForm } from '../forms.ts';
import { settingsAsSent } from '../../services/env/form.ts';
import { render } from '../render.ts';
import { auditRefusals } from '../audited.ts';
import { fitBadge } from '../fit-badge.ts';
import { ago, formatBytes } from '../format.ts';
import { originSentence } from '../../services/recipe-origin.ts';

export function lifecycleRoutes(s: Services) {
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const ticked = (req: Request, name: string) => body(req)[name] !== undefined;
  const caller = (req: Request, res: Response) => callerOf(req, res.locals.session);

  const stackOf = (req: Request) => parseForm(stackSchema, req.params.stack, { value: 'The app' });
  /** The app behind /apps/:stack, which the caller may take `action` on and this node's abra installed. */
  const managedApp = (req: Request, res: Response, action: AppAction): Promise<ManagedApp> => s.apps.managed(caller(req, res), stackOf(req), action);

  const jobPage = (id: number) => `/jobs/${id}`;

  /** A refusal of the install that is about the domain typed (not valid, taken, its stack taken) goes beside it. */
  const domainRefusal = (err: unknown, typed: unknown): unknown => {
    if (!(err instanceof UserFacingError) || (err.status !== 400 && err.status !== 409)) return err;
    const domain = typeof typed === 'string' ? cleanDomainInput(typed) : '';
    return /^The domain /.test(err.message) || (domain !== '' && err.message.includes(domain)) ? asFieldError(err, 'domain') : err;
  };

  const installPage: RequestHandler = async (req, res) => {
    const plan = await s.lifecycle.installPlan(req.params.recipe, req.query.version);
    const reach = await s.lifecycle.installReach(plan.recipe, plan.version);
    const folders = await s.lifecycle.formFolderFindings(plan.recipe, plan.version, {});
    render(req, res, 'install', { title: `Install ${plan.recipe}`, plan, reach, folders, badge: fitBadge(plan.fit), formatBytes, abraMissing: s.lifecycle.problem() });
  };

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
  const createInstallFolder: RequestHandler = withFieldErrors(auditRefusals(s, 'host.folder.create', async (req, res) => {
    const b = body(req);
    const key = b.create_folder;
    const folder = await s.appChanges.createFolder({ recipe: req.params.recipe }, key, b[`env.${String(key)}`], caller(req, res));
    await installAgain(req, res, { notice: `The folder ${folder} was created. It is readable by the app.` }, 200);
  }), (req, res, refused) => installAgain(req, res, { errors: refused.fields }, 400));

  const install: RequestHandler = withFieldErrors(auditRefusals(s, 'job.install', async (req, res) => {
    const b = body(req);
    const job = await s.appChanges.install(
      { recipe: req.params.recipe, version: b.version, domain: b.domain, deploy: b.deploy !== undefined, overrideArch: b.override_arch !== undefined, confirm: { hostReach: ticked(req, 'confirm_host_reach') }, form: b },
      caller(req, res),
    ).catch((err: unknown) => Promise.reject(domainRefusal(err, b.domain)));
    res.redirect(303, jobPage(job.id));
  }), (req, res, refused) => installAgain(req, res, { errors: refused.fields }, 400));

  const configPage: RequestHandler = async (req, res) => {
    const app = await managedApp(req, res, 'config');
    const plan = await s.lifecycle.configPlan(app.installed.domain);
    const reach = await s.lifecycle.hostReach(app.installed.domain);
    const folders = await s.lifecycle.appFolderFindings(app.installed.domain);
    const notice = req.query.unchanged === '1' ? 'Nothing changed: the settings were already like this, so nothing was saved or recorded.' : undefined;
    render(req, res, 'config', { title: `Settings · ${app.installed.domain}`, app, plan, reach, folders, isSelf: s.self.isSelf(app.stack), deployed: app.status !== 'not deployed', busy: s.jobs.holder(app.stack), notice });
  };

  /** The settings form again as it was sent, with the missing folders its values name. */
  async function configAgain(req: Request, res: Response, app: ManagedApp, more: { errors?: Record<string, string>; notice?: string }, status: number): Promise<void> {
    const b = body(req);
    const plan = await s.lifecycle.configPlan(app.installed.domain);
    const reach = await s.lifecycle.hostReach(app.installed.domain);
    const folders = await s.lifecycle.appFolderFindings(app.installed.domain, b);
    const sent = { ...plan, sample: settingsAsSent(plan.sample, b) };
    render(req, res, 'config', { title: `Settings · ${app.installed.domain}`, app, plan: sent, reach, folders, isSelf: s.self.isSelf(app.stack), deployed: app.status !== 'not deployed', busy: s.jobs.holder(app.stack), redeploy: b.redeploy !== undefined, ...more }, status);
  }

  const createAppFolder: RequestHandler = withFieldErrors(auditRefusals(s, 'host.folder.create', async (req, res) => {
    const app = await managedApp(req, res, 'config');
    const b = body(req);
    const folder = await s.appChanges.createFolder({ recipe: app.installed.recipe, app: app.installed.domain }, b.create_folder, b[`env.${String(b.create_folder)}`], caller(req, res));
    await configAgain(req, res, app, { notice: `The folder ${folder} was created. It is readable by the app. Save to use it.` }, 200);
  }), async (req, res, refused) => configAgain(req, res, await managedApp(req, res, 'config'), { errors: refused.fields }, 400));

  const configure: RequestHandler = withFieldErrors(auditRefusals(s, 'app.config', async (req, res) => {
    const app = await managedApp(req, res, 'config');
    const b = body(req);
    const confirm = { hostReach: ticked(req, 'confirm_host_reach'), linkLocalUrls: ticked(req, 'allow_link_local') };
    const result = await s.appChanges.configure(app.installed.domain, b, b.redeploy !== undefined, caller(req, res), confirm);
    // A save that changes nothing (and starts no job) is not a change: not audited, and the page says so.
    if (!result.changed.length && !result.job) return res.redirect(303, `/apps/${app.stack}/config?unchanged=1`);
    res.redirect(303, result.job ? jobPage(result.job.id) : `/apps/${app.stack}`);
  }), async (req, res, refused) => configAgain(req, res, await managedApp(req, res, 'config'), { errors: refused.fields }, 400));

  const deploy: RequestHandler = auditRefusals(s, 'job.deploy', async (req, res) => {
    res.redirect(303, jobPage(s.lifecycle.deploy((await managedApp(req, res, 'deploy')).installed.domain, actorOf(req, res.locals.session)).id));
  });

  // Undeploying cuts people off: a page asks first (works without JavaScript); the POST needs its `confirmed` field.
  const undeployPage: RequestHandler = async (req, res) => {
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
  };

  const undeploy: RequestHandler = auditRefusals(s, 'job.undeploy', async (req, res) => {
    const app = await managedApp(req, res, 'undeploy');
    if (!ticked(req, 'confirmed')) return res.redirect(303, `/apps/${app.stack}/undeploy`);
    res.redirect(303, jobPage(s.lifecycle.undeploy(app.installed.domain, actorOf(req, res.locals.session)).id));
  });

  const restart: RequestHandler = auditRefusals(s, 'job.restart', async (req, res) => {
    const app = await managedApp(req, res, 'restart');
    res.redirect(303, jobPage(s.lifecycle.restart(app.installed.domain, body(req).service || undefined, actorOf(req, res.locals.session)).id));
  });

  /** What the upgrade page says of the recipe's origin: the latest look (from the store), as a sentence. */
  const originNote = async (recipe: string) => {
    const state = await s.recipeOrigin.state(recipe);
    const when = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC (${ago(ms, Date.now())})`;
    return { checked: !!state, failed: !!state?.error, sentence: state ? originSentence(state, when) : '' };
  };

  // "Check for newer versions": asks the recipe's origin now (bounded), remembers the answer, back to the upgrade page.
  const checkVersions: RequestHandler = auditRefusals(s, 'recipe.check', async (req, res) => {
    const app = await managedApp(req, res, 'upgrade');
    await s.appChanges.checkVersions(app.installed.recipe, caller(req, res));
    res.redirect(303, `/apps/${app.stack}/upgrade`);
  });

  /** Upgrade and roll back: the same page and job, towards newer or older versions. */
  const versionsPage = (direction: 'upgrade' | 'rollback'): RequestHandler =>
    async (req, res) => {
      const app = await managedApp(req, res, direction);
      const plan = await s.lifecycle.versionPlan(app.installed.domain, direction === 'upgrade' ? 'newer' : 'older');
      const reach = Object.fromEntries(await Promise.all(plan.choices.map(async (c) => [c.version, await s.lifecycle.hostReach(app.installed.domain, c.version)] as const)));
      const origin = direction === 'upgrade' ? await originNote(app.installed.recipe) : undefined;
      render(req, res, 'versions', { title: `${direction === 'upgrade' ? 'Upgrade' : 'Roll back'} · ${app.installed.domain}`, app, plan, reach, direction, origin });
    };
  const changeVersion = (direction: 'upgrade' | 'rollback'): RequestHandler =>
    auditRefusals(s, `job.${direction}`, async (req, res) => {
      const app = await managedApp(req, res, direction);
      const job = await s.appChanges.changeVersion(app.installed.domain, body(req).version, caller(req, res), direction, { hostReach: ticked(req, 'confirm_host_reach') });
      res.redirect(303, jobPage(job.id));
    });
  const upgradePage = versionsPage('upgrade');
  const rollbackPage = versionsPage('rollback');
  const upgrade = changeVersion('upgrade');
  const rollback = changeVersion('rollback');

  const removePage: RequestHandler = async (req, res) => {
    const app = await managedApp(req, res, 'remove');
    render(req, res, 'remove', { title: `Remove ${app.installed.domain}`, app });
  };

  // A wrong typed confirmation comes back on the same page, beside the field.
  const remove: RequestHandler = withForm(auditRefusals(s, 'job.remove', async (req, res) => {
    const app = await s.apps.removable(caller(req, res), stackOf(req));
    let job;
    try {
      job = s.lifecycle.remove(app.installed.domain, body(req).confirm, actorOf(req, res.locals.session));
    } catch (err) {
      throw err instanceof UserFacingError && err.status === 400 ? asFieldError(err, 'confirm') : err;
    }
    res.redirect(303, jobPage(job.id));
  }), removePage);

  // Adoption: an admin hands a stack deployed elsewhere to the node, so that stewards may act on it (or takes it back).
  const adopt: RequestHandler = auditRefusals(s, 'app.adopt', (req, res) => {
    const app = s.apps.find(stackOf(req));
    s.access.adopt(actorOf(req, res.locals.session), app);
    res.redirect(303, `/apps/${app.stack}`);
  });

  const release: RequestHandler = auditRefusals(s, 'app.release', (req, res) => {
    const stack = stackOf(req);
    s.access.release(actorOf(req, res.locals.session), stack);
    res.redirect(303, `/apps/${stack}`);
  });

  return { checkVersions, installPage, createInstallFolder, install, configPage, createAppFolder, configure, deploy, undeployPage, undeploy, restart, removePage, remove, adopt, release, upgradePage, rollbackPage, upgrade, rollback };
}
