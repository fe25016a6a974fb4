// The app lifecycle through abra: install, configure, deploy, upgrade, rollback, undeploy, remove, restart.
// Every input is validated before a job starts; each action is a durable job whose output is abra's.
import { existsSync } from 'node:fs';
import type { Abra } from '../adapters/abra/commands.ts';
import { envPathFor, readAppEnv, serverDir, writeAppEnv, type InstalledApp } from '../adapters/abra/app-env.ts';
import { compareVersions, recipeNameSchema, recipeVersionSchema, serviceNameSchema, stackNameFor } from '../adapters/abra/names.ts';
import { AbraError } from '../adapters/abra/run.ts';
import { fileAt, imagesAt, listRecipes, recipeVersions, type ServiceImage } from '../adapters/recipes/checkout.ts';
import type { Store } from '../store/index.ts';
import type { JobRow } from '../store/jobs.ts';
import type { z, ZodType } from 'zod';
import { domainSchema, parseOrRefuse } from '../validation.ts';
import type { Actor } from './audit.ts';
import { applyEnvChanges, envValueSchema, parseEnvSample, readEnvValues, type EnvChanges, type EnvSample } from './env-file.ts';
import type { ArchFitService, Fit } from './arch-fit.ts';
import { UserFacingError } from './errors.ts';
import { nodeCapacity, resourceFit, resourcesIn, type ResourceFit } from './resource-fit.ts';
import { JobFailure, type JobContext, type JobRunner } from './jobs.ts';
import type { NodeSelf } from './node-self.ts';
import type { ConfigRepository } from './config-repo/repo.ts';

export type AbraStatus = { ok: true; version: string } | { ok: false; problem: string };

/** What a settings form sends: `env.<KEY>` values, `enable.<KEY>` for opt-ins, `overlay.<file>` switches. */
export type SettingsForm = Record<string, unknown>;

export type VersionChoice = { version: string; notes: string; images: { service: string; from: string | null; to: string }[] };

// Generated secret values wait here, in memory only, until their owner opens them once.
const SECRET_TTL_MS = 30 * 60_000;

/** What installing a version asks of the node and of the steward. */
export type InstallNeeds = { resources: ResourceFit; settings: number; secrets: string[]; overlays: string[] };

export function lifecycleService(deps: { abra: Abra; abraDir: string; dataDir: string; jobs: JobRunner; store: Store; archFit: ArchFitService; self: NodeSelf; nodeDomain: () => string; now: () => number; configRepo?: Pick<ConfigRepository, 'record'> }) {
  const { abra, abraDir, jobs, now } = deps;
  let status: AbraStatus = { ok: false, problem: 'abra has not been checked yet' };
  const secretsOnce = new Map<number, { owner: string | null; values: { name: string; value: string }[]; expires: number }>();

  const parse = <S extends ZodType>(schema: S, value: unknown, label: string): z.infer<S> => parseOrRefuse(schema, value, { value: label });

  async function knownRecipe(recipe: unknown): Promise<string> {
    const name = parse(recipeNameSchema, recipe, 'The recipe');
    if (!listRecipes(abraDir).includes(name)) throw new UserFacingError(`There is no recipe “${name}” on this node.`, 404);
    return name;
  }

  async function knownVersion(recipe: string, version: unknown): Promise<string> {
    const versions = await recipeVersions(abraDir, recipe);
    if (!versions.length) throw new UserFacingError(`The ${recipe} recipe has no published versions.`);
    if (version === undefined || version === '') return versions.at(-1)!;
    const v = parse(recipeVersionSchema, version, 'The version');
    if (!versions.includes(v)) throw new UserFacingError(`${recipe} has no version ${v}.`);
    return v;
  }

  async function sampleAt(recipe: string, version: string): Promise<EnvSample> {
    const text = await fileAt(abraDir, recipe, version, '.env.sample');
    if (text === undefined) throw new UserFacingError(`${recipe} ${version} has no .env.sample, so the node cannot configure it.`);
    return parseEnvSample(text);
  }

  /** Memory and disk against the node's, and what the form will ask. */
  async function needsAt(recipe: string, version: string, sample: EnvSample): Promise<InstallNeeds | undefined> {
    const compose = await fileAt(abraDir, recipe, version, 'compose.yml');
    if (compose === undefined) return undefined;
    let services: ReturnType<typeof resourcesIn>;
    try {
      services = resourcesIn(compose);
    } catch {
      return undefined; // a compose file that does not parse: abra will say so at install, with its own words
    }
    return {
      resources: resourceFit(services, nodeCapacity(deps.dataDir)),
      settings: sample.fields.length,
      secrets: sample.secrets.map((x) => x.name),
      overlays: sample.overlays.map((o) => o.file),
    };
  }

  /** Whether every image of the version has a build for this node's CPU (asked now, within the checker's timeout). */
  async function fitAt(recipe: string, version: string): Promise<Fit> {
    return deps.archFit.check((await imagesAt(abraDir, recipe, version)).filter((i) => i.image));
  }

  /** Turns a submitted settings form into env changes, refusing anything the recipe does not declare. */
  function changesFrom(sample: EnvSample, form: SettingsForm): EnvChanges {
    const fields = new Map(sample.fields.map((f) => [f.key, f]));
    const overlays = new Set(sample.overlays.map((o) => o.file));
    const changes: EnvChanges = { set: new Map(), unset: new Set(), overlays: new Map() };
    for (const [name, raw] of Object.entries(form)) {
      const [kind, ...rest] = name.split('.');
      const key = rest.join('.');
      if (kind === 'env' || kind === 'enable') {
        const field = fields.get(key);
        if (!field) throw new UserFacingError(`“${key.slice(0, 64)}” is not a setting of this recipe.`);
        // An opt-in left unticked stays commented out: what its box holds is neither used nor checked.
        const used = !(field.optional && form[`enable.${key}`] === undefined);
        if (kind === 'env' && used) changes.set.set(key, parse(envValueSchema, raw, key));
      } else if (kind === 'overlay') {
        if (!overlays.has(key)) throw new UserFacingError(`“${key.slice(0, 64)}” is not an option of this recipe.`);
      }
    }
    for (const f of sample.fields) {
      if (!f.optional) continue;
      if (form[`enable.${f.key}`] === undefined) {
        changes.set.delete(f.key);
        changes.unset.add(f.key);
      }
    }
    for (const o of sample.overlays) changes.overlays.set(o.file, form[`overlay.${o.file}`] !== undefined);
    return changes;
  }

  function installedApp(domain: unknown): InstalledApp & { text: string } {
    const d = parse(domainSchema, domain, 'The app');
    const text = readAppEnv(abraDir, d);
    if (text === undefined) throw new UserFacingError(`${d} was not installed with this node’s abra, so the node cannot change it.`, 404);
    const values = readEnvValues(text);
    const [recipe = '', version = null] = (values.get('TYPE') ?? values.get('RECIPE') ?? '').split(':');
    return { domain: d, stack: values.get('STACK_NAME') || stackNameFor(d), recipe, version, envPath: envPathFor(abraDir, d), text };
  }

  /** Runs an abra call inside a job: its lines go to the job's output; its failure becomes the job's reason. */
  async function step<T>(ctx: JobContext, what: string, call: (o: { onLine: (l: string) => void; signal: AbortSignal }) => Promise<T>): Promise<T> {
    ctx.log(`→ ${what}`, 'info');
    try {
      return await call({ onLine: (l) => ctx.log(l), signal: ctx.signal });
    } catch (err) {
      if (err instanceof AbraError) throw new JobFailure(`${what}: ${err.message}`, err.exitCode);
      throw err;
    }
  }

  function submit(kind: string, app: InstalledApp | { domain: string; stack: string; recipe: string }, actor: Actor, args: Record<string, unknown>, run: (ctx: JobContext) => Promise<void>): JobRow {
    if (!status.ok) throw new UserFacingError(`The node cannot run abra: ${status.problem}`, 503);
    const usesCheckout = !['restart', 'undeploy'].includes(kind);
    const self = deps.self.isSelf(app.stack);
    if (self && !['upgrade', 'rollback'].includes(kind)) {
      throw new UserFacingError(`This is the node itself: from its own page it can only be upgraded or rolled back. To ${kind} it, use abra from a terminal.`, 409);
    }
    // The node's own upgrade is finished by the node that replaces this one.
    return jobs.submit({ kind, app: app.stack, recipe: usesCheckout ? app.recipe : null, actor, args: { domain: app.domain, ...args, ...(self ? { self } : {}) }, survivesRestart: self, run });
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

  async function versionChoices(recipe: string, from: string | null, direction: 'newer' | 'older'): Promise<VersionChoice[]> {
    const versions = await recipeVersions(abraDir, recipe);
    const picked = versions.filter((v) => (from ? (direction === 'newer' ? compareVersions(v, from) > 0 : compareVersions(v, from) < 0) : direction === 'newer'));
    const before: ServiceImage[] = from ? await imagesAt(abraDir, recipe, from) : [];
    return Promise.all(
      picked.map(async (version) => {
        const after = await imagesAt(abraDir, recipe, version);
        const images = after
          .map((a) => ({ service: a.service, from: before.find((b) => b.service === a.service)?.image ?? null, to: a.image }))
          .filter((i) => i.from !== i.to);
        return { version, notes: (await fileAt(abraDir, recipe, version, `release/${version}`)) ?? '', images };
      }),
    );
  }

  return {
    status: () => status,
    /** Why abra cannot run, for the pages that would use it; undefined when it can. */
    problem: (): string | undefined => (status.ok ? undefined : status.problem),

    /** At start: is abra there, and is this machine its `default` server? Never fatal: pages say what is missing. */
    async checkAbra(): Promise<AbraStatus> {
      try {
        const version = await abra.version();
        if (!existsSync(serverDir(abraDir))) await abra.serverAddLocal();
        status = { ok: true, version };
      } catch (err) {
        status = { ok: false, problem: (err as Error).message };
      }
      return status;
    },

    async recipes(): Promise<{ name: string; versions: string[] }[]> {
      return Promise.all(listRecipes(abraDir).map(async (name) => ({ name, versions: await recipeVersions(abraDir, name) })));
    },

    async installPlan(recipeInput: unknown, versionInput: unknown) {
      const recipe = await knownRecipe(recipeInput);
      const version = await knownVersion(recipe, versionInput);
      const nodeDomain = deps.nodeDomain();
      const sample = await sampleAt(recipe, version);
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

    async installNeeds(recipeInput: unknown, versionInput: unknown): Promise<InstallNeeds | undefined> {
      const recipe = await knownRecipe(recipeInput);
      const version = await knownVersion(recipe, versionInput);
      const text = await fileAt(abraDir, recipe, version, '.env.sample');
      return needsAt(recipe, version, parseEnvSample(text ?? ''));
    },

    async install(input: { recipe: unknown; version: unknown; domain: unknown; deploy: boolean; overrideArch?: boolean; form: SettingsForm }, actor: Actor): Promise<JobRow> {
      const recipe = await knownRecipe(input.recipe);
      const version = await knownVersion(recipe, input.version);
      const domain = parse(domainSchema, input.domain, 'The domain');
      if (readAppEnv(abraDir, domain) !== undefined) throw new UserFacingError(`An app called ${domain} is already installed.`, 409);
      const sample = await sampleAt(recipe, version);
      const changes = changesFrom(sample, input.form);
      const fit = await fitAt(recipe, version);
      const misfits = fit.services.filter((x) => x.verdict === 'not-for-this-cpu').map((x) => x.service);
      if (misfits.length && !input.overrideArch) {
        throw new UserFacingError(`${recipe} ${version} has no build for this node’s CPU (${misfits.join(', ')}). To install it anyway, tick “Install even though it is not built for this CPU”.`, 409);
      }
      const app = { domain, stack: stackNameFor(domain), recipe };
      const archOverride = misfits.length ? { archOverride: misfits } : {};
      return submit('install', app, actor, { recipe, version, deploy: input.deploy, ...archOverride }, async (ctx) => {
        if (misfits.length) ctx.log(`Installing although ${misfits.join(', ')} has no build for this CPU, as ${actor.name ?? 'the steward'} chose.`, 'info');
        await step(ctx, `abra app new ${recipe} ${version}`, (o) => abra.appNew({ recipe, version, domain }, o));
        writeAppEnv(abraDir, domain, applyEnvChanges(readAppEnv(abraDir, domain) ?? '', changes));
        ctx.log(`Settings written to ${envPathFor(abraDir, domain)}`, 'info');
        if (sample.secrets.some((s) => s.generate)) {
          const generated = await step(ctx, 'abra app secret generate --all', (o) => abra.secretGenerateAll(domain, o));
          // Values are never logged or stored: only their names go to the job output.
          secretsOnce.set(ctx.job.id, { owner: actor.name, values: generated.map((g) => ({ name: g.name, value: g.value })), expires: now() + SECRET_TTL_MS });
          ctx.log(`Generated ${generated.length} secret(s): ${generated.map((g) => g.name).join(', ')}. Their values are shown once on this page.`, 'info');
        }
        if (input.deploy) await step(ctx, `abra app deploy ${domain}`, (o) => abra.appDeploy({ domain }, o));
        await recordChange(actor, domain, `Install ${domain}: ${recipe} ${version}${input.deploy ? ', deployed' : ''}`, input.deploy, (l) => ctx.log(l, 'info'), ctx.job.id);
      });
    },

    /** Brings a catalogue recipe onto the node (abra clones it; needs the internet), so it can be installed. */
    fetchRecipe(recipeInput: unknown, actor: Actor): JobRow {
      const recipe = parse(recipeNameSchema, recipeInput, 'The recipe');
      if (!status.ok) throw new UserFacingError(`The node cannot run abra: ${status.problem}`, 503);
      return jobs.submit({ kind: 'fetch', app: null, recipe, actor, args: { recipe }, run: async (ctx) => {
        await step(ctx, `abra recipe fetch ${recipe}`, (o) => abra.recipeFetch(recipe, o));
        const versions = await recipeVersions(abraDir, recipe);
        ctx.log(versions.length ? `${recipe} is on the node now, with ${versions.length} version(s); the newest is ${versions.at(-1)}.` : `${recipe} was fetched but has no published versions.`, 'info');
      } });
    },

    /** Secret values of an install, once, to the person who ran it. */
    takeSecrets(jobId: number, viewer: string): { name: string; value: string }[] | undefined {
      const entry = secretsOnce.get(jobId);
      if (!entry || entry.expires < now() || entry.owner !== viewer) return undefined;
      secretsOnce.delete(jobId);
      return entry.values;
    },
    hasSecrets: (jobId: number) => secretsOnce.has(jobId),

    async configPlan(domainInput: unknown) {
      const app = installedApp(domainInput);
      if (!app.version) throw new UserFacingError(`${app.domain} has no recipe version in its env file.`);
      const sample = await sampleAt(app.recipe, app.version);
      const values = readEnvValues(app.text);
      const overlaysOn = new Set([...app.text.matchAll(/^COMPOSE_FILE="?\$COMPOSE_FILE:([A-Za-z0-9._-]+\.ya?ml)"?\s*$/gm)].map((m) => m[1]));
      return {
        app,
        sample: {
          ...sample,
          fields: sample.fields.map((f) => ({ ...f, value: values.get(f.key) ?? f.value, enabled: values.has(f.key) })),
          overlays: sample.overlays.map((o) => ({ ...o, enabled: overlaysOn.has(o.file) })),
        },
      };
    },

    /** Saves settings (audited by the caller); with `redeploy`, a job redeploys the app with them. */
    async configure(domainInput: unknown, form: SettingsForm, redeploy: boolean, actor: Actor): Promise<{ changed: string[]; job?: JobRow }> {
      const app = installedApp(domainInput);
      if (!app.version) throw new UserFacingError(`${app.domain} has no recipe version in its env file.`);
      const changes = changesFrom(await sampleAt(app.recipe, app.version), form);
      if (redeploy && deps.self.isSelf(app.stack)) throw new UserFacingError('This is the node itself: save its settings without redeploying, then redeploy it with abra from a terminal.', 409);
      if (jobs.holder(app.stack)) throw new UserFacingError(`${app.domain} is busy: a “${jobs.holder(app.stack)}” job is running on it.`, 409);
      writeAppEnv(abraDir, app.domain, applyEnvChanges(app.text, changes));
      const changed = [...changes.set.keys(), ...[...changes.unset].map((k) => `-${k}`)];
      await recordChange(actor, app.domain, `Change settings of ${app.domain}: ${changed.join(', ') || 'none'}${redeploy ? ', then redeploy' : ' (not yet deployed)'}`, false, () => undefined);
      if (!redeploy) return { changed };
      const job = submit('deploy', app, actor, { reason: 'config' }, async (ctx) => {
        await step(ctx, `abra app deploy ${app.domain} --force`, (o) => abra.appDeploy({ domain: app.domain, force: true }, o));
        await recordChange(actor, app.domain, `Redeploy ${app.domain} with its new settings`, true, (l) => ctx.log(l, 'info'), ctx.job.id);
      });
      return { changed, job };
    },

    /** `force`: redeploy the same version (pending changes from the config repository). */
    deploy(domainInput: unknown, actor: Actor, opts: { force?: boolean; reason?: string } = {}): JobRow {
      const app = installedApp(domainInput);
      const force = opts.force === true;
      return submit('deploy', app, actor, opts.reason ? { reason: opts.reason } : {}, async (ctx) => {
        await step(ctx, `abra app deploy ${app.domain}${force ? ' --force' : ''}`, (o) => abra.appDeploy({ domain: app.domain, force }, o));
        await recordChange(actor, app.domain, `Deploy ${app.domain}${opts.reason === 'pending' ? ' with its pending changes' : ''}`, true, (l) => ctx.log(l, 'info'), ctx.job.id);
      });
    },

    async versionPlan(domainInput: unknown, direction: 'newer' | 'older') {
      const app = installedApp(domainInput);
      return { app, choices: await versionChoices(app.recipe, app.version, direction) };
    },

    async upgrade(domainInput: unknown, versionInput: unknown, actor: Actor, direction: 'upgrade' | 'rollback'): Promise<JobRow> {
      const app = installedApp(domainInput);
      const version = await knownVersion(app.recipe, versionInput);
      const newer = app.version ? compareVersions(version, app.version) : 1;
      if (direction === 'upgrade' && newer <= 0) throw new UserFacingError(`${version} is not newer than ${app.version}.`);
      if (direction === 'rollback' && newer >= 0) throw new UserFacingError(`${version} is not older than ${app.version}.`);
      const self = deps.self.isSelf(app.stack);
      return submit(direction, app, actor, { from: app.version, to: version }, async (ctx) => {
        const call = direction === 'upgrade' ? abra.appUpgrade : abra.appRollback;
        // The node's own: abra must not wait for a convergence it will not live to see (the swarm stops this process).
        await step(ctx, `abra app ${direction} ${app.domain} ${version}`, (o) => call({ domain: app.domain, version, noConverge: self }, o));
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
