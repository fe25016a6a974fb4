// A person's changes to apps that are not jobs of their own, or need more in the audit log than the job says,
// each recorded where it is made: what a change reaches on the host (confirmed by an admin), a settings save, a
// host folder created, a "check for newer versions", and one-time secrets shown. Jobs audit their own outcome.
// (Kept beside lifecycle.ts rather than in it while that module is being split.)
import { UserFacingError } from '../errors.ts';
import type { JobRow } from '../store/jobs.ts';
import type { Caller } from './app-access.ts';
import { guardReach } from './install-guards.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Confirmations, Lifecycle, SettingsForm } from './lifecycle.ts';
import type { OriginState, RecipeOrigin } from './recipe-origin.ts';

type InstallInput = Parameters<Lifecycle['install']>[0];
type ConfigResult = Awaited<ReturnType<Lifecycle['configure']>>;

export function appChanges(deps: { lifecycle: Lifecycle; recipeOrigin: RecipeOrigin; audit: AuditLog }) {
  const { lifecycle, audit } = deps;
  const actorOnly = (caller: Caller): Actor => ({ name: caller.name, ip: caller.ip });

  /** An admin's confirmation of what a change reaches on the host, with the list. */
  function recordReach(caller: Caller, action: string, target: string, reach: unknown): void {
    if (Array.isArray(reach) && reach.length) audit.record(actorOnly(caller), 'host-reach.confirm', { target, detail: { action, reach } });
  }

  return {
    async install(input: InstallInput, caller: Caller): Promise<JobRow> {
      const job = await lifecycle.install(input, caller);
      recordReach(caller, 'install', String(job.args.domain ?? ''), job.args.hostReach);
      return job;
    },
    /**
     * Deploys the config repository's pending changes (pushed from a laptop, or saved without redeploying). When the
     * env file as it is now reaches the host, an admin says so explicitly, as at install (a steward never gets here:
     * the app guard refuses them a host-reaching app).
     */
    async deployPending(domain: string, caller: Caller, confirm: Confirmations): Promise<JobRow> {
      const reach = await lifecycle.hostReach(domain);
      guardReach(caller, reach, confirm.hostReach, `${domain} with its pending changes`);
      const job = lifecycle.deploy(domain, actorOnly(caller), { force: true, reason: 'pending' });
      recordReach(caller, 'deploy', domain, reach);
      return job;
    },
    /** An upgrade or a rollback to the version chosen. */
    async changeVersion(domain: string, version: unknown, caller: Caller, direction: 'upgrade' | 'rollback', confirm: Confirmations): Promise<JobRow> {
      const job = await lifecycle.upgrade(domain, version, caller, direction, confirm);
      recordReach(caller, direction, domain, job.args.hostReach);
      return job;
    },
    /** A settings save; one that changes nothing (and starts no job) is not a change and is not audited. */
    async configure(domain: string, form: SettingsForm, redeploy: boolean, caller: Caller, confirm: Confirmations): Promise<ConfigResult> {
      const result = await lifecycle.configure(domain, form, redeploy, caller, confirm);
      recordReach(caller, 'config', domain, result.hostReach);
      if (!result.changed.length && !result.job) return result;
      audit.record(actorOnly(caller), 'app.config', { target: domain, detail: { changed: result.changed, ...(confirm.linkLocalUrls ? { linkLocalUrlsAllowed: true } : {}) } });
      return result;
    },
    /** "Create this folder" on the install form of `recipe` (as sent; the lifecycle validates it), or on the settings
     *  page of the installed app `app`. */
    async createFolder(where: { recipe: unknown; app?: string }, key: unknown, value: unknown, caller: Caller): Promise<string> {
      const folder = await lifecycle.createFolder(where.recipe, key, value, caller);
      const about = where.app ? { app: where.app } : { recipe: where.recipe };
      audit.record(actorOnly(caller), 'host.folder.create', { target: folder, detail: { ...about, setting: key } });
      return folder;
    },
    /** "Check for newer versions": asks the recipe's origin now; a failed look is audited as failed. */
    async checkVersions(recipe: string, caller: Caller): Promise<OriginState> {
      const state = await deps.recipeOrigin.check(recipe);
      if (!state) throw new UserFacingError(`The ${recipe} recipe on this node has no origin to ask for newer versions.`, 409);
      audit.record(actorOnly(caller), 'recipe.check', { target: recipe, outcome: state.error ? 'failed' : 'ok', detail: { origin: state.origin, ...(state.error ? { error: state.error } : { versions: state.versions }) } });
      return state;
    },
    /** An install's generated secrets, once, to the person who ran it; which names were shown is audited. */
    takeSecrets(viewer: Actor & { name: string }, job: { id: number; app: string | null }): ReturnType<Lifecycle['takeSecrets']> {
      const values = lifecycle.takeSecrets(job.id, viewer.name);
      if (values) audit.record(viewer, 'secrets.shown', { target: job.app ?? undefined, detail: { job: job.id, names: values.map((v) => v.name) } });
      return values;
    },
  };
}
export type AppChanges = ReturnType<typeof appChanges>;
