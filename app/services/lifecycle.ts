// The app lifecycle through abra: install, configure, deploy, upgrade, rollback, undeploy, remove, restart.
// Every input is validated before a job starts; each action is a durable job whose output is abra's.
import type { Abra } from '../adapters/abra/commands.ts';
import { envPathFor, readAppEnv, writeAppEnv, type InstalledApp } from '../adapters/abra/app-env.ts';
import { recipeNameSchema, serviceNameSchema, stackNameFor } from '../adapters/abra/names.ts';
import { fileAt, imagesAt, listRecipes, recipeVersions } from '../adapters/recipes/checkout.ts';
import type { Store } from '../store/index.ts';
import type { JobRow } from '../store/jobs.ts';
import type { z, ZodType } from 'zod';
import { domainSchema, parseOrRefuse } from '../validation.ts';
import type { Actor } from './audit.ts';
import { applyEnvChanges, parseEnvSample, readEnvValues } from './env-file.ts';
import { secretsAfter, settingsFor, type SettingsForm } from './env/form.ts';
import { parseEnv } from '../adapters/abra/env-parse.ts';
import { changeNames, envAfterForm, formChanges, newSecrets, installEnvText, needsOf, nodeDefaultsForm, sampleAt, withNodeDefaults, type InstallNeeds } from './install-form.ts';
import { oneTimeSecrets } from './one-time-secrets.ts';
import { abraStatus, type AbraStatus } from './abra-status.ts';
import { checkDirection, resolveVersion, versionChoicesAt, type VersionChoice } from './recipe-versions.ts';
import type { Finding, Preflight } from './preflight.ts';
import type { SwarmView } from './deploy-watch.ts';
import { abraStep, findingsText, watchedDeployStep, type AbraCall } from './abra-steps.ts';
import type { Caller } from './app-access.ts';
import { confinedPathProblems, confinedPaths, SettingsError, type HostRoots } from './host-paths.ts';
import { describeReach, hostReachAt, type HostReach } from './host-reach.ts';
import { guardReach, newStackOnly } from './install-guards.ts';
import type { ArchFitService, Fit } from './arch-fit.ts';
import { UserFacingError } from '../errors.ts';
import { JobFailure, type JobContext, type JobRunner } from './jobs.ts';
import { guardSelfSettings, type NodeSelf } from './node-self.ts';
import type { ConfigRepository } from './config-repo/repo.ts';

export type { AbraStatus };

export type { InstallNeeds, SettingsForm, VersionChoice };

/** An admin's explicit answers on a form: what the version reaches on the host, and URLs at link-local addresses. */
export type Confirmations = { hostReach?: boolean; linkLocalUrls?: boolean };

export function lifecycleService(deps: {
  abra: Abra;
  abraDir: string;
  dataDir: string;
  jobs: JobRunner;
  store: Store;
  archFit: ArchFitService;
  self: NodeSelf;
  nodeDomain: () => string;
  /** Folders host-path settings must stay under (Kiwix's ZIM_FILES_PATH under ZIM_ROOT). */
  roots: HostRoots;
  /** What the node checks before abra deploys (folders, ports, images). */
  preflight: Preflight;
  /** The live model: a deploy watches it and ends at once on a task error that waiting will not fix. */
  swarm: SwarmView;
  /** Whether the swarm runs a stack of this name now (deployed by anyone); rejects when Docker cannot say. */
  stackExists: (stack: string) => Promise<boolean>;
  now: () => number;
  /** Runs in an upgrade's job before abra changes anything (the backups' safety snapshot). */
  beforeUpgrade?: (ctx: JobContext, stack: string) => Promise<void>;
  /** The config repository laptops share: every change made here becomes a commit by its author. */
  configRepo?: Pick<ConfigRepository, 'record'>;
}) {
  const { abra, abraDir, jobs, now } = deps;
  const abraState = abraStatus(abra, abraDir);
  const secretsOnce = oneTimeSecrets({ now });

  const parse = <S extends ZodType>(schema: S, value: unknown, label: string): z.infer<S> => parseOrRefuse(schema, value, { value: label });

  async function knownRecipe(recipe: unknown): Promise<string> {
    const name = parse(recipeNameSchema, recipe, 'The recipe');
    if (!listRecipes(abraDir).includes(name)) throw new UserFacingError(`There is no recipe “${name}” on this node.`, 404);
    return name;
  }

  const knownVersion = async (recipe: string, version: unknown): Promise<string> => resolveVersion(recipe, await recipeVersions(abraDir, recipe), version);

  const needsAt = async (recipe: string, version: string, sample: Parameters<typeof needsOf>[1]): Promise<InstallNeeds | undefined> =>
    needsOf(await fileAt(abraDir, recipe, version, 'compose.yml'), sample, deps.dataDir);

  /** Whether every image of the version has a build for this node's CPU (asked now, within the checker's timeout). */
  async function fitAt(recipe: string, version: string): Promise<Fit> {
    return deps.archFit.check((await imagesAt(abraDir, recipe, version)).filter((i) => i.image));
  }

  /** What the version would reach on the host with these env values (the file abra deploys it with). */
  const reachOf = (recipe: string, version: string, envText: string, stack: string): Promise<HostReach[]> =>
    hostReachAt(abraDir, recipe, version, envText, stack, confinedPaths(recipe, deps.roots));

  /** Host-path settings stay under their roots, for everyone: a clear refusal naming the setting. */
  function guardPaths(recipe: string, values: ReadonlyMap<string, string>): void {
    const problems = confinedPathProblems(recipe, values, deps.roots);
    if (problems.length) throw new SettingsError(problems);
  }

  const guardStack = (domain: string, stack: string) => newStackOnly(abraDir, deps.stackExists, domain, stack);

  function installedApp(domain: unknown): InstalledApp & { text: string } {
    const d = parse(domainSchema, domain, 'The app');
    const text = readAppEnv(abraDir, d);
    if (text === undefined) throw new UserFacingError(`${d} was not installed with this node’s abra, so the node cannot change it.`, 404);
    const values = readEnvValues(text);
    const [recipe = '', version = null] = (values.get('TYPE') ?? values.get('RECIPE') ?? '').split(':');
    return { domain: d, stack: values.get('STACK_NAME') || stackNameFor(d), recipe, version, envPath: envPathFor(abraDir, d), text };
  }

  const step = abraStep;
  /** Generated secrets are shown once to whoever asked; values are never logged or stored, only their names said. */
  function keepGenerated(ctx: JobContext, actor: Actor, generated: { name: string; value: string }[]): void {
    secretsOnce.keep(ctx.job.id, actor.name, generated);
    ctx.log(`Generated ${generated.length} secret(s): ${generated.map((g) => g.name).join(', ')}. Their values are shown once on this page.`, 'info');
  }
  const deployStep = (ctx: JobContext, what: string, stack: string, call: AbraCall) => watchedDeployStep(deps.swarm, ctx, what, stack, call);

  function submit(kind: string, app: InstalledApp | { domain: string; stack: string; recipe: string }, actor: Actor | Caller, args: Record<string, unknown>, run: (ctx: JobContext) => Promise<void>): JobRow {
    abraState.guard();
    const usesCheckout = !['restart', 'undeploy'].includes(kind);
    const self = deps.self.isSelf(app.stack);
    if (self && (!('role' in actor) || actor.role !== 'admin')) throw new UserFacingError('This is the node itself: only an admin may upgrade it or roll it back.', 403);
    if (self && !['upgrade', 'rollback'].includes(kind)) {
      throw new UserFacingError(`This is the node itself: from its own page it can only be upgraded or rolled back. To ${kind} it, use abra from a terminal.`, 409);
    }
    // The node's own upgrade is finished by the node that replaces this one.
    return jobs.submit({ kind, app: app.stack, recipe: usesCheckout ? app.recipe : null, actor: { name: actor.name, ip: actor.ip }, args: { domain: app.domain, ...args, ...(self ? { self } : {}) }, survivesRestart: self, run });
  }

  /** A page change goes into the config repository as a commit by the person who made it; a failure is said, not fatal. */
  async function recordChange(actor: Actor, domain: string, what: string, deployed: boolean, say: (line: string) => void, job?: number): Promise<void> {
    if (!deps.configRepo) return;
    const why = `Made by ${actor.name ?? 'the node'} on the node’s page${job ? ` (job #${job})` : ''}.`;
    try {
      const commit = await deps.configRepo.record({ actor: actor.name, domain, message: `${what}\n\n${why}\n`, deployed });
      if (commit) say(`Recorded in the config repository as ${commit.slice(0, 10)}.`);
    } catch (err) {
      say(`Could not record this change in the config repository: ${(err as Error).message}`);
    }
  }

  return {
    status: abraState.get,
    /** Why abra cannot run, for the pages that would use it; undefined when it can. */
    problem: abraState.problem,
    /** At start: is abra there, and is this machine its `default` server? Never fatal: pages say what is missing. */
    checkAbra: abraState.check,

    async recipes(): Promise<{ name: string; versions: string[] }[]> {
      return Promise.all(listRecipes(abraDir).map(async (name) => ({ name, versions: await recipeVersions(abraDir, name) })));
    },

    async installPlan(recipeInput: unknown, versionInput: unknown) {
      const recipe = await knownRecipe(recipeInput);
      const version = await knownVersion(recipe, versionInput);
      const nodeDomain = deps.nodeDomain();
      const sample = withNodeDefaults(recipe, await sampleAt(abraDir, recipe, version), deps.roots);
      return {
        recipe,
        version,
        versions: await recipeVersions(abraDir, recipe),
        sample,
        defaultDomain: nodeDomain ? `${recipe}.${nodeDomain}` : '',
        fit: await fitAt(recipe, version),
        needs: await needsAt(recipe, version, sample),
      };
    },

    /** What a version would reach on the host with the recipe's sample settings (what the install form starts with). */
    async installReach(recipeInput: unknown, versionInput: unknown): Promise<HostReach[]> {
      const recipe = await knownRecipe(recipeInput);
      const version = await knownVersion(recipe, versionInput);
      return reachOf(recipe, version, (await fileAt(abraDir, recipe, version, '.env.sample')) ?? '', stackNameFor(`${recipe}.example.org`));
    },

    /** What an installed app would reach on the host at a version (its current one by default), with its settings now. */
    async hostReach(domainInput: unknown, versionInput?: string): Promise<HostReach[]> {
      const app = installedApp(domainInput);
      const version = versionInput ?? app.version;
      if (!version) return [`${app.domain} names no recipe version, so what it would reach on the host is unknown`];
      return reachOf(app.recipe, version, app.text, app.stack);
    },

    async installNeeds(recipeInput: unknown, versionInput: unknown): Promise<InstallNeeds | undefined> {
      const recipe = await knownRecipe(recipeInput);
      const version = await knownVersion(recipe, versionInput);
      const text = await fileAt(abraDir, recipe, version, '.env.sample');
      return needsAt(recipe, version, parseEnvSample(text ?? ''));
    },

    async install(input: { recipe: unknown; version: unknown; domain: unknown; deploy: boolean; overrideArch?: boolean; confirm?: Confirmations; form: SettingsForm }, actor: Caller): Promise<JobRow> {
      if (actor.role === 'guest') throw new UserFacingError('Guests can look but not install apps.', 403);
      const recipe = await knownRecipe(input.recipe);
      const version = await knownVersion(recipe, input.version);
      const domain = parse(domainSchema, input.domain, 'The domain');
      if (readAppEnv(abraDir, domain) !== undefined) throw new UserFacingError(`An app called ${domain} is already installed.`, 409);
      const stack = stackNameFor(domain);
      await guardStack(domain, stack);
      const sample = await sampleAt(abraDir, recipe, version);
      // A setting the form left out starts from the node's default, as the form shows it (Kiwix's folder: ZIM_ROOT).
      const changes = formChanges(sample, { ...nodeDefaultsForm(recipe, sample, deps.roots), ...input.form });
      // The env file abra will deploy with: the sample with these changes (abra sets the recipe line and domain).
      const envText = installEnvText((await fileAt(abraDir, recipe, version, '.env.sample')) ?? '', changes, domain);
      guardPaths(recipe, changes.set);
      const reach = await reachOf(recipe, version, envText, stack);
      guardReach(actor, reach, input.confirm?.hostReach, `Installing ${recipe} ${version}`);
      const fit = await fitAt(recipe, version);
      const misfits = fit.services.filter((x) => x.verdict === 'not-for-this-cpu').map((x) => x.service);
      if (misfits.length && !input.overrideArch) {
        throw new UserFacingError(`${recipe} ${version} has no build for this node’s CPU (${misfits.join(', ')}). To install it anyway, tick “Install even though it is not built for this CPU”.`, 409);
      }
      if (input.deploy) await deps.preflight.guard(recipe, version, envText, stack);
      const app = { domain, stack, recipe };
      const archOverride = misfits.length ? { archOverride: misfits } : {};
      // Audited with the job: what the admin confirmed this version reaches on the host.
      const reached = reach.length ? { hostReach: reach } : {};
      return submit('install', app, actor, { recipe, version, deploy: input.deploy, ...archOverride, ...reached }, async (ctx) => {
        if (reach.length) ctx.log(`${actor.name ?? 'An admin'} confirmed what this reaches on the host: ${describeReach(reach)}.`, 'info');
        if (misfits.length) ctx.log(`Installing although ${misfits.join(', ')} has no build for this CPU, as ${actor.name ?? 'the steward'} chose.`, 'info');
        await step(ctx, `abra app new ${recipe} ${version}`, (o) => abra.appNew({ recipe, version, domain }, o));
        writeAppEnv(abraDir, domain, applyEnvChanges(readAppEnv(abraDir, domain) ?? '', changes));
        ctx.log(`Settings written to ${envPathFor(abraDir, domain)}`, 'info');
        if (secretsAfter(sample, applyEnvChanges(sample.text, changes)).some((s) => s.generate)) {
          keepGenerated(ctx, actor, await step(ctx, 'abra app secret generate --all', (o) => abra.secretGenerateAll(domain, o)));
        }
        if (input.deploy) await deployStep(ctx, `abra app deploy ${domain}`, stack, (o) => abra.appDeploy({ domain }, o));
        await recordChange(actor, domain, `Install ${domain}: ${recipe} ${version}${input.deploy ? ', deployed' : ''}`, input.deploy, (l) => ctx.log(l, 'info'), ctx.job.id);
      });
    },

    /** Host folders the form's settings name that are missing, under the node's roots (no Docker call). */
    async formFolderFindings(recipeInput: unknown, versionInput: unknown, form: SettingsForm): Promise<Finding[]> {
      const recipe = await knownRecipe(recipeInput);
      const version = await knownVersion(recipe, versionInput);
      const sample = await sampleAt(abraDir, recipe, version);
      const text = envAfterForm(sample, { ...nodeDefaultsForm(recipe, sample, deps.roots), ...form });
      return text === undefined ? [] : deps.preflight.folderFindings(recipe, version, text, stackNameFor(`${recipe}.example.org`));
    },

    /** Missing host folders of an installed app's settings (now, or as a settings form would change them). */
    async appFolderFindings(domainInput: unknown, form?: SettingsForm): Promise<Finding[]> {
      const app = installedApp(domainInput);
      if (!app.version) return [];
      const text = form ? envAfterForm(await sampleAt(abraDir, app.recipe, app.version), form, app.text) : app.text;
      return text === undefined ? [] : deps.preflight.folderFindings(app.recipe, app.version, text, app.stack);
    },

    /** Creates a missing host folder a setting names, under the node's root for it (stewards and admins; audited by the caller). */
    async createFolder(recipeInput: unknown, key: unknown, value: unknown, actor: Caller): Promise<string> {
      if (actor.role === 'guest') throw new UserFacingError('Guests can look but not create folders.', 403);
      const recipe = await knownRecipe(recipeInput);
      return deps.preflight.createFolder(recipe, typeof key === 'string' && /^[A-Z_][A-Z0-9_]{0,63}$/.test(key) ? key : '(none)', value);
    },

    /** Brings a catalogue recipe onto the node (abra clones it; needs the internet), so it can be installed. */
    fetchRecipe(recipeInput: unknown, actor: Actor): JobRow {
      const recipe = parse(recipeNameSchema, recipeInput, 'The recipe');
      abraState.guard();
      return jobs.submit({ kind: 'fetch', app: null, recipe, actor, args: { recipe }, run: async (ctx) => {
        await step(ctx, `abra recipe fetch ${recipe}`, (o) => abra.recipeFetch(recipe, o));
        const versions = await recipeVersions(abraDir, recipe);
        ctx.log(versions.length ? `${recipe} is on the node now, with ${versions.length} version(s); the newest is ${versions.at(-1)}.` : `${recipe} was fetched but has no published versions.`, 'info');
      } });
    },

    /** Secret values of an install, once, to the person who ran it. */
    takeSecrets: (jobId: number, viewer: string) => secretsOnce.take(jobId, viewer),
    hasSecrets: (jobId: number) => secretsOnce.has(jobId),

    async configPlan(domainInput: unknown) {
      const app = installedApp(domainInput);
      if (!app.version) throw new UserFacingError(`${app.domain} has no recipe version in its env file.`);
      // The recipe's sample says what the settings are; the app's env file what they hold now.
      return { app, sample: settingsFor(await sampleAt(abraDir, app.recipe, app.version), parseEnv(app.text)) };
    },

    /**
     * Saves settings (audited by the caller); with `redeploy`, a job redeploys the app with them. On a busy app the save
     * waits its turn as a job that applies the changes to the env file as it is then (an upgrade may have come first).
     */
    async configure(domainInput: unknown, form: SettingsForm, redeploy: boolean, actor: Caller, confirm: Confirmations = {}): Promise<{ changed: string[]; job?: JobRow; hostReach: HostReach[] }> {
      const app = installedApp(domainInput);
      if (!app.version) throw new UserFacingError(`${app.domain} has no recipe version in its env file.`);
      const self = deps.self.isSelf(app.stack);
      if (actor.role === 'guest' || (self && actor.role !== 'admin')) throw new UserFacingError('This is the node itself: only an admin may change its settings.', 403);
      const sample = await sampleAt(abraDir, app.recipe, app.version);
      const changes = formChanges(sample, form, app.text);
      if (redeploy && self) throw new UserFacingError('This is the node itself: save its settings without redeploying, then redeploy it with abra from a terminal.', 409);
      // The node's own settings: the rules it applies at start, so a saved value cannot stop it at its next upgrade.
      if (self) guardSelfSettings(changes.set, { allowLinkLocal: !!confirm.linkLocalUrls });
      guardPaths(app.recipe, changes.set);
      const text = applyEnvChanges(app.text, changes);
      const reach = await reachOf(app.recipe, app.version, text, app.stack);
      guardReach(actor, reach, confirm.hostReach, `${app.domain} with these settings`);
      // Secrets switched on with an overlay are generated now, before any deploy needs them.
      const fresh = newSecrets(sample, app.text, text);
      if (fresh.length && self) throw new UserFacingError('This is the node itself: switch on options that need new secrets with abra from a terminal.', 409);
      if (redeploy) await deps.preflight.guard(app.recipe, app.version, text, app.stack);
      const changed = changeNames(changes);
      const what = `Change settings of ${app.domain}: ${changed.join(', ') || 'none'}${redeploy ? ', then redeploy' : ' (not yet deployed)'}`;
      if (!changed.length && !redeploy) return { changed, hostReach: reach }; // nothing to save, busy app or not
      const busy = jobs.holder(app.stack) !== undefined;
      if (!busy) {
        writeAppEnv(abraDir, app.domain, text);
        await recordChange(actor, app.domain, what, false, () => undefined);
        if (!redeploy && !fresh.length) return { changed, hostReach: reach };
      }
      const saveNow = async (ctx: JobContext) => { // queued: the changes on the env file as it is when its turn comes
        const current = installedApp(app.domain);
        const now = applyEnvChanges(current.text, changes);
        const at = current.version ?? app.version!;
        const found = redeploy ? await deps.preflight.findings(current.recipe, at, now, app.stack) : [];
        if (found.length) throw new JobFailure(`${findingsText(found)} The settings were not saved.`);
        writeAppEnv(abraDir, app.domain, now);
        ctx.log(`Saved the settings of ${app.domain}: ${changed.join(', ') || 'none'}.`, 'info');
        await recordChange(actor, app.domain, what, false, (l) => ctx.log(l, 'info'), ctx.job.id);
        return newSecrets(at === app.version ? sample : await sampleAt(abraDir, current.recipe, at), current.text, now);
      };
      const kind = redeploy ? 'deploy' : busy ? 'settings' : 'secrets';
      const job = submit(kind, app, actor, { reason: 'config', ...(busy ? { changed } : {}), ...(reach.length ? { hostReach: reach } : {}) }, async (ctx) => {
        const toGenerate = busy ? await saveNow(ctx) : fresh;
        if (toGenerate.length) {
          const generated = [];
          for (const x of toGenerate) generated.push(...(await step(ctx, `abra app secret generate ${app.domain} ${x.name} ${x.version}`, (o) => abra.secretGenerate(app.domain, x.name, x.version, o))));
          keepGenerated(ctx, actor, generated);
        }
        if (!redeploy) return;
        await deployStep(ctx, `abra app deploy ${app.domain} --force`, app.stack, (o) => abra.appDeploy({ domain: app.domain, force: true }, o));
        await recordChange(actor, app.domain, `Redeploy ${app.domain} with its new settings`, true, (l) => ctx.log(l, 'info'), ctx.job.id);
      });
      return { changed, job, hostReach: reach };
    },

    /** `force`: redeploy the same version (pending changes from the config repository). */
    deploy(domainInput: unknown, actor: Actor, opts: { force?: boolean; reason?: string } = {}): JobRow {
      const app = installedApp(domainInput);
      // The env file may have come from a laptop (config repository): its host paths are held to their roots here too.
      guardPaths(app.recipe, readEnvValues(app.text));
      const force = opts.force === true;
      return submit('deploy', app, actor, opts.reason ? { reason: opts.reason } : {}, async (ctx) => {
        // No form to come back to: what pre-flight finds ends the job before abra runs, saying what to do.
        if (app.version) {
          const found = await deps.preflight.findings(app.recipe, app.version, app.text, app.stack);
          if (found.length) throw new JobFailure(findingsText(found));
        }
        await deployStep(ctx, `abra app deploy ${app.domain}${force ? ' --force' : ''}`, app.stack, (o) => abra.appDeploy({ domain: app.domain, force }, o));
        await recordChange(actor, app.domain, `Deploy ${app.domain}${opts.reason === 'pending' ? ' with its pending changes' : ''}`, true, (l) => ctx.log(l, 'info'), ctx.job.id);
      });
    },

    async versionPlan(domainInput: unknown, direction: 'newer' | 'older') {
      const app = installedApp(domainInput);
      return { app, choices: await versionChoicesAt(abraDir, app.recipe, app.version, direction) };
    },

    async upgrade(domainInput: unknown, versionInput: unknown, actor: Caller, direction: 'upgrade' | 'rollback', confirm: Confirmations = {}): Promise<JobRow> {
      const app = installedApp(domainInput);
      const self = deps.self.isSelf(app.stack);
      if (actor.role === 'guest' || (self && actor.role !== 'admin')) throw new UserFacingError('This is the node itself: only an admin may upgrade it or roll it back.', 403);
      const version = await knownVersion(app.recipe, versionInput);
      checkDirection(version, app.version, direction);
      guardPaths(app.recipe, readEnvValues(app.text));
      if (!self) await deps.preflight.guard(app.recipe, version, app.text, app.stack);
      const reach = await reachOf(app.recipe, version, app.text, app.stack);
      guardReach(actor, reach, confirm.hostReach, `${app.domain} at ${version}`);
      return submit(direction, app, actor, { from: app.version, to: version, ...(reach.length ? { hostReach: reach } : {}) }, async (ctx) => {
        if (direction === 'upgrade') await deps.beforeUpgrade?.(ctx, app.stack);
        const call = direction === 'upgrade' ? abra.appUpgrade : abra.appRollback;
        // The node's own: abra must not wait for a convergence it will not live to see (the swarm stops this process).
        const what = `abra app ${direction} ${app.domain} ${version}`;
        if (self) await step(ctx, what, (o) => call({ domain: app.domain, version, noConverge: true }, o));
        else await deployStep(ctx, what, app.stack, (o) => call({ domain: app.domain, version, noConverge: false }, o));
        await recordChange(actor, app.domain, `${direction === 'upgrade' ? 'Upgrade' : 'Roll back'} ${app.domain} from ${app.version ?? 'an unknown version'} to ${version}`, true, (l) => ctx.log(l, 'info'), ctx.job.id);
        if (self) await deps.self.awaitReplacement(ctx, version);
      });
    },

    undeploy(domainInput: unknown, actor: Actor): JobRow {
      const app = installedApp(domainInput);
      return submit('undeploy', app, actor, {}, (ctx) => step(ctx, `abra app undeploy ${app.domain}`, (o) => abra.appUndeploy(app.domain, o)).then(() => undefined));
    },

    remove(domainInput: unknown, typed: unknown, actor: Actor): JobRow {
      const app = installedApp(domainInput);
      if (typeof typed !== 'string' || typed.trim().toLowerCase() !== app.domain) {
        throw new UserFacingError(`To remove it, type the app’s domain exactly: ${app.domain}`);
      }
      return submit('remove', app, actor, {}, async (ctx) => {
        await step(ctx, `abra app remove ${app.domain}`, (o) => abra.appRemove(app.domain, o));
        for (const s of deps.store.stoppedServices.forStack(app.stack)) deps.store.stoppedServices.forget(app.stack, s.service);
        await recordChange(actor, app.domain, `Remove ${app.domain} (${app.recipe})`, false, (l) => ctx.log(l, 'info'), ctx.job.id);
      });
    },

    restart(domainInput: unknown, serviceInput: unknown, actor: Actor): JobRow {
      const app = installedApp(domainInput);
      const service = serviceInput ? parse(serviceNameSchema, serviceInput, 'The service') : undefined;
      return submit('restart', app, actor, { service: service ?? 'all' }, (ctx) =>
        step(ctx, `abra app restart ${app.domain} ${service ?? '--all-services'}`, (o) => abra.appRestart({ domain: app.domain, service }, o)).then(() => undefined),
      );
    },
  };
}
export type Lifecycle = ReturnType<typeof lifecycleService>;
