// Installing and changing apps through abra: forms, confirmations, and the jobs they start.
import { Router, type Request } from 'express';
import { listInstalled } from '../../adapters/abra/app-env.ts';
import { appsFrom, type AppView } from '../../services/apps.ts';
import { UserFacingError } from '../../services/errors.ts';
import { stackSchema } from '../../validation.ts';
import { actorOf, type Services } from '../context.ts';
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
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;

  /** The app behind /apps/:stack, which must have been installed with this node's abra. */
  function managedApp(req: Request): AppView & { installed: NonNullable<AppView['installed']> } {
    const stack = parseForm(stackSchema, req.params.stack, { value: 'The app' });
    const app = appsFrom(s.model, listInstalled(s.config.abraDir)).find((a) => a.stack === stack);
    if (!app) throw new UserFacingError(`There is no app “${stack}” on this node.`, 404);
    if (!app.installed) throw new UserFacingError(`${app.domain ?? stack} was deployed from elsewhere (not with this node’s abra), so the node can show it but not change it.`, 409);
    return app as AppView & { installed: NonNullable<AppView['installed']> };
  }
  const jobPage = (id: number) => `/jobs/${id}`;

  r.get('/install/:recipe', stewards, async (req, res) => {
    const plan = await s.lifecycle.installPlan(req.params.recipe, req.query.version);
    render(req, res, 'install', { title: `Install ${plan.recipe}`, plan, badge: fitBadge(plan.fit), formatBytes, abraMissing: s.lifecycle.problem() });
  });

  r.post('/install/:recipe', stewards, withFieldErrors(auditRefusals(s, 'job.install', async (req, res) => {
    const b = body(req);
    const job = await s.lifecycle.install(
      { recipe: req.params.recipe, version: b.version, domain: b.domain, deploy: b.deploy !== undefined, overrideArch: b.override_arch !== undefined, form: b },
      actorOf(req, res.locals.session),
    );
    res.redirect(303, jobPage(job.id));
  }), async (req, res, refused) => {
    // The same form again, as it was sent, with each error beside its field.
    const b = body(req);
    const plan = await s.lifecycle.installPlan(req.params.recipe, b.version);
    const sent = { ...plan, sample: settingsAsSent(plan.sample, b) };
    render(req, res, 'install', { title: `Install ${plan.recipe}`, plan: sent, badge: fitBadge(plan.fit), formatBytes, abraMissing: s.lifecycle.problem(), errors: refused.fields, domain: typeof b.domain === 'string' ? b.domain : undefined, deploy: b.deploy !== undefined }, 400);
  }));

  r.get('/apps/:stack/config', stewards, async (req, res) => {
    const app = managedApp(req);
    const plan = await s.lifecycle.configPlan(app.installed.domain);
    render(req, res, 'config', { title: `Settings · ${app.installed.domain}`, app, plan, deployed: app.status !== 'not deployed' });
  });

  r.post('/apps/:stack/config', stewards, withFieldErrors(auditRefusals(s, 'app.config', async (req, res) => {
    const app = managedApp(req);
    const b = body(req);
    const actor = actorOf(req, res.locals.session);
    const result = await s.lifecycle.configure(app.installed.domain, b, b.redeploy !== undefined, actor);
    s.audit.record(actor, 'app.config', { target: app.installed.domain, detail: { changed: result.changed } });
    res.redirect(303, result.job ? jobPage(result.job.id) : `/apps/${app.stack}`);
  }), async (req, res, refused) => {
    const app = managedApp(req);
    const b = body(req);
    const plan = await s.lifecycle.configPlan(app.installed.domain);
    const sent = { ...plan, sample: settingsAsSent(plan.sample, b) };
    render(req, res, 'config', { title: `Settings · ${app.installed.domain}`, app, plan: sent, deployed: app.status !== 'not deployed', redeploy: b.redeploy !== undefined, errors: refused.fields }, 400);
  }));

  r.post('/apps/:stack/deploy', stewards, auditRefusals(s, 'job.deploy', (req, res) => {
    res.redirect(303, jobPage(s.lifecycle.deploy(managedApp(req).installed.domain, actorOf(req, res.locals.session)).id));
  }));

  r.post('/apps/:stack/undeploy', stewards, auditRefusals(s, 'job.undeploy', (req, res) => {
    res.redirect(303, jobPage(s.lifecycle.undeploy(managedApp(req).installed.domain, actorOf(req, res.locals.session)).id));
  }));

  r.post('/apps/:stack/restart', stewards, auditRefusals(s, 'job.restart', (req, res) => {
    const app = managedApp(req);
    res.redirect(303, jobPage(s.lifecycle.restart(app.installed.domain, body(req).service || undefined, actorOf(req, res.locals.session)).id));
  }));

  for (const direction of ['upgrade', 'rollback'] as const) {
    r.get(`/apps/:stack/${direction}`, stewards, async (req, res) => {
      const app = managedApp(req);
      const plan = await s.lifecycle.versionPlan(app.installed.domain, direction === 'upgrade' ? 'newer' : 'older');
      render(req, res, 'versions', { title: `${direction === 'upgrade' ? 'Upgrade' : 'Roll back'} · ${app.installed.domain}`, app, plan, direction });
    });
    r.post(`/apps/:stack/${direction}`, stewards, auditRefusals(s, `job.${direction}`, async (req, res) => {
      const app = managedApp(req);
      const job = await s.lifecycle.upgrade(app.installed.domain, body(req).version, actorOf(req, res.locals.session), direction);
      res.redirect(303, jobPage(job.id));
    }));
  }

  r.get('/apps/:stack/remove', stewards, (req, res) => {
    const app = managedApp(req);
    render(req, res, 'remove', { title: `Remove ${app.installed.domain}`, app });
  });

  r.post('/apps/:stack/remove', stewards, auditRefusals(s, 'job.remove', (req, res) => {
    const app = managedApp(req);
    if (app.status !== 'not deployed') throw new UserFacingError(`${app.installed.domain} is still deployed. Undeploy it first, then remove it.`, 409);
    res.redirect(303, jobPage(s.lifecycle.remove(app.installed.domain, body(req).confirm, actorOf(req, res.locals.session)).id));
  }));

  return r;
}
