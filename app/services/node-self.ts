// The node as one of its own apps. Run from its recipe, it keeps its own abra env file (so abra can upgrade it
// like any app), and it finishes its own upgrade across the restart that the upgrade causes: the old process
// starts the job and is replaced by the swarm (stop-first); the new process finds the job still running, reads
// the version the swarm runs (the deployed version label, which a rollback puts back) against the target, and
// records success or failure.
import { existsSync, readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { readAppEnv, serverDir, writeAppEnv } from '../adapters/abra/app-env.ts';
import { declaredVersion } from '../adapters/recipes/checkout.ts';
import { settingProblem } from '../config.ts';
import { UserFacingError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SettingsStore } from '../store/settings.ts';
import type { JobRow } from '../store/jobs.ts';
import { domainSchema } from '../validation.ts';
import { applyEnvChanges, envValueSchema, parseEnvSample, readEnvValues, type EnvChanges } from './env-file.ts';
import { JobFailure, type JobContext, type JobRunner } from './jobs.ts';

export const SELF_RECIPE = 'lores-node';
/** What the recipe passes for an optional setting the operator left out (compose `${KEY-<unset>}`). */
export const UNSET = '<unset>';
/** Job kinds that replace the node's own container. */
const SELF_KINDS = new Set(['upgrade', 'rollback']);
/** Keys abra itself writes: never taken from the recipe's values. */
const ABRA_KEYS = new Set(['TYPE', 'RECIPE', 'STACK_NAME']);
/** Where the node remembers the values it last copied into its env file, to notice an operator's redeploy. */
const COPIED_KEY = 'self.env';

/** The node's own settings that point it at servers: never at a cloud's metadata service unless an admin says so. */
const URL_SETTINGS = new Set(['CATALOGUE_URL', 'KIWIX_CATALOGUE_URL']);
const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, and every cloud's metadata address
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');
LINK_LOCAL.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud's metadata service
LINK_LOCAL.addAddress('192.0.0.192', 'ipv4'); // Oracle Cloud's
LINK_LOCAL.addAddress('fd00:ec2::254', 'ipv6'); // AWS's, over IPv6
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'metadata.internal', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal']);

/** Why a URL setting reaches a link-local or metadata address; undefined when it does not. */
export function metadataProblem(value: string): string | undefined {
  if (!value) return undefined;
  let host: string;
  try {
    host = new URL(value).hostname.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
  } catch {
    return undefined; // not a URL at all: the start-up rules say so
  }
  const family = isIP(host);
  if (family ? LINK_LOCAL.check(host, family === 6 ? 'ipv6' : 'ipv4') : METADATA_NAMES.has(host)) {
    return `points at ${host}, a link-local or cloud metadata address`;
  }
  return undefined;
}

/** Settings of the node's recipe that are not the node's own start-up settings, with their rules. */
const RECIPE_RULES: Record<string, (v: string) => string | undefined> = {
  LAN_PORT: (v) => (/^\d{1,5}$/.test(v) && +v >= 1 && +v <= 65535 ? undefined : 'must be a port number from 1 to 65535'),
  TIMEOUT: (v) => (/^\d{1,5}$/.test(v) && +v >= 1 ? undefined : 'must be a number of seconds'),
  LETS_ENCRYPT_ENV: (v) => (['', 'production', 'staging'].includes(v) ? undefined : 'must be production, staging or empty'),
  ENABLE_BACKUPS: (v) => (['true', 'false'].includes(v) ? undefined : 'must be true or false'),
};

/**
 * What is wrong with settings about to be saved for the node itself: the same rules the node applies at start
 * (app/config.ts), and URL settings never at link-local or metadata addresses unless `allowLinkLocal`.
 */
export function selfSettingProblems(values: ReadonlyMap<string, string>, opts: { allowLinkLocal: boolean }): { key: string; problem: string }[] {
  const problems: { key: string; problem: string }[] = [];
  for (const [key, value] of values) {
    const problem = settingProblem(key, value) ?? RECIPE_RULES[key]?.(value) ?? (URL_SETTINGS.has(key) && !opts.allowLinkLocal ? metadataProblem(value) : undefined);
    if (problem) problems.push({ key, problem: `${key} ${problem}` });
  }
  return problems;
}

/** The node's own settings refused as one sentence, saying how to allow a link-local address; nothing when all are fine. */
export function guardSelfSettings(values: ReadonlyMap<string, string>, opts: { allowLinkLocal: boolean }): void {
  const problems = selfSettingProblems(values, opts);
  if (!problems.length) return;
  const howToAllow = problems.some((p) => /link-local/.test(p.problem)) ? ' To use such an address anyway, tick “Allow link-local and metadata addresses”.' : '';
  throw new UserFacingError(`${problems.map((p) => p.problem).join('; ')}.${howToAllow}`);
}

/** Which app the node itself is: its stack and domain, and the recipe version its image carries. */
export type SelfIdentity = { stack: string; domain: string; version: string };

/** The node's identity when it runs from its recipe (stack and domain given, its own recipe bundled); else undefined. */
export function selfIdentity(opts: { stack: string; env: Record<string, string>; bundledRecipesDir: string }): SelfIdentity | undefined {
  const domain = domainSchema.safeParse(opts.env.DOMAIN);
  const compose = path.join(opts.bundledRecipesDir, SELF_RECIPE, 'compose.yml');
  if (!opts.stack || !domain.success || !existsSync(compose)) return undefined;
  const version = declaredVersion(readFileSync(compose, 'utf8'));
  return version ? { stack: opts.stack, domain: domain.data, version } : undefined;
}

/** The swarm's update of the node's service: its state, message and when it started (ms; 0 when unknown). */
type UpdateStatus = { state: string; message: string; startedAt: number };
/** What the swarm says of the node's service: the deployed recipe version (label) and its latest update. */
type Deployed = { version: string | undefined; update: UpdateStatus | null };

const WATCH_EVERY_MS = 2000;
/** How long the old process waits to be replaced, and the new one for the swarm to call the update done. */
const REPLACED_WITHIN_MS = 15 * 60_000;
const SETTLED_WITHIN_MS = 10 * 60_000;
/** A deploy that changed no task (labels only) replaces nobody: the old process calls it done after this. */
const UNCHANGED_TASK_MS = 20_000;

/** A value safe to write between single quotes on one line of an env file. */
const quotable = (v: string) => v.length <= 500 && !/['\n\r\0]/.test(v);

export function nodeSelf(deps: {
  identity: SelfIdentity | undefined;
  env: Record<string, string>;
  bundledRecipesDir: string;
  abraDir: string;
  docker: Docker;
  jobs: JobRunner;
  settings: SettingsStore;
  log: Logger;
  now: () => number;
}) {
  const { identity, abraDir, log } = deps;

  async function deployed(stack: string): Promise<Deployed> {
    const info = (await deps.docker.getService(`${stack}_app`).inspect()) as {
      Spec?: { Labels?: Record<string, string> };
      UpdateStatus?: { State?: string; Message?: string; StartedAt?: string };
    };
    const u = info.UpdateStatus;
    return {
      version: info.Spec?.Labels?.[`coop-cloud.${stack}.version`],
      update: u?.State ? { state: u.State, message: u.Message ?? '', startedAt: Date.parse(u.StartedAt ?? '') || 0 } : null,
    };
  }

  /** The latest update, if it started with this job (an earlier one's status may still be showing). */
  const updateSince = (d: Deployed, job: JobRow): UpdateStatus | null => (d.update && d.update.startedAt >= job.createdAt ? d.update : null);
  const saying = (u: UpdateStatus) => (u.message ? ` (${u.message})` : '');

  /** The recipe's values as env changes; values that cannot be written safely are left to the operator's abra. */
  function recipeChanges(sampleText: string): EnvChanges {
    const sample = parseEnvSample(sampleText);
    const changes: EnvChanges = { set: new Map(), unset: new Set(), overlays: new Map() };
    for (const [key, value] of Object.entries(deps.env)) {
      if (ABRA_KEYS.has(key)) continue;
      if (key === 'COMPOSE_FILE') {
        const files = new Set(value.split(':'));
        for (const o of sample.overlays) changes.overlays.set(o.file, files.has(o.file));
      } else if (value === UNSET) {
        changes.unset.add(key); // left out by the operator: commented out (only optional settings can be)
      } else if (envValueSchema.safeParse(value).success || quotable(value)) {
        changes.set.set(key, value);
      } else {
        log.warn({ key }, 'a setting of the node’s recipe holds a quote or a line break: the node leaves it to abra');
      }
    }
    return changes;
  }

  /** The env file's recipe line names the deployed version: the swarm, not an interrupted abra, has the last word. */
  function syncEnvVersion(self: SelfIdentity, version: string): void {
    const text = readAppEnv(abraDir, self.domain);
    if (text === undefined) return;
    const values = readEnvValues(text);
    const key = values.has('RECIPE') ? 'RECIPE' : 'TYPE';
    const want = `${SELF_RECIPE}:${version}`;
    if (values.get(key) === want) return;
    writeAppEnv(abraDir, self.domain, applyEnvChanges(text, { set: new Map([[key, want]]), unset: new Set(), overlays: new Map() }));
    log.info({ version }, 'the node’s env file now names the version the swarm runs');
  }

  /** The old process, after abra has handed the new spec to the swarm: wait to be replaced (stop-first). */
  async function awaitReplacement(self: SelfIdentity, ctx: JobContext, target: string): Promise<void> {
    ctx.setPhase(`Restarting: the swarm is replacing the node with ${target}. This page reconnects by itself.`);
    ctx.log(`The swarm is replacing the node with ${target}; the next node finishes this job.`, 'info');
    const deadline = deps.now() + REPLACED_WITHIN_MS;
    let unchangedSince: number | undefined;
    while (deps.now() < deadline) {
      await sleep(WATCH_EVERY_MS, undefined, { signal: ctx.signal });
      const d = await deployed(self.stack).catch(() => undefined);
      if (!d) continue;
      const update = updateSince(d, ctx.job);
      if (update && ['rollback_completed', 'paused', 'rollback_paused'].includes(update.state)) {
        throw new JobFailure(`The swarm did not replace the node: its update is “${update.state.replace('_', ' ')}”${saying(update)}.`);
      }
      // Nothing to replace: the deploy changed the service's labels or settings, not its task.
      const taken = d.version === target && (!update || update.state === 'completed');
      unchangedSince = taken ? (unchangedSince ?? deps.now()) : undefined;
      if (unchangedSince !== undefined && deps.now() - unchangedSince >= UNCHANGED_TASK_MS) {
        syncEnvVersion(self, target);
        ctx.log(`The swarm took ${target} without restarting the node.`, 'info');
        return;
      }
    }
    throw new JobFailure(`The swarm did not replace the node within ${REPLACED_WITHIN_MS / 60_000} minutes.`);
  }

  /** The new process: a self job cut off by the restart, finished by what the swarm runs now. */
  async function verify(self: SelfIdentity, ctx: JobContext): Promise<void> {
    const target = String(ctx.job.args.to ?? '');
    ctx.log('The node is back after its restart.', 'info');
    ctx.setPhase(`Checking: the swarm watches the new node for a while before it calls the update to ${target} done.`);
    const deadline = deps.now() + SETTLED_WITHIN_MS;
    let problem = '';
    for (;;) {
      const d = await deployed(self.stack).catch((err: Error) => ((problem = `Docker does not answer: ${err.message}`), undefined));
      if (d) {
        const update = updateSince(d, ctx.job);
        if (update?.state.startsWith('rollback')) {
          throw new JobFailure(`The node did not move to ${target}: it did not become healthy, so the swarm rolled it back to ${d.version ?? 'the previous version'}${saying(update)}.`);
        }
        if (update?.state === 'paused') throw new JobFailure(`The swarm paused the node’s update to ${target}${saying(update)}.`);
        const settled = !update || update.state === 'completed';
        if (settled && d.version !== target) throw new JobFailure(`The node did not move to ${target}: the swarm runs ${d.version ?? 'an unknown version'}.`);
        if (settled) {
          syncEnvVersion(self, target);
          ctx.log(`The node runs ${target} now, and the swarm has finished its update.`, 'info');
          return;
        }
        problem = `the swarm’s update is still “${update.state}”`;
      }
      if (deps.now() > deadline) throw new JobFailure(`The node’s update to ${target} did not settle within ${SETTLED_WITHIN_MS / 60_000} minutes: ${problem}.`);
      await sleep(WATCH_EVERY_MS, undefined, { signal: ctx.signal });
    }
  }

  return {
    identity,
    isSelf: (stack: string | null) => !!identity && stack === identity.stack,

    /**
     * At start: makes sure abra knows the node as an app. Its env file is written from the recipe's .env.sample and
     * the values the recipe passed in; later, those values are copied again only when they changed (an operator
     * redeployed the node with abra), so settings saved on the node's own page stay. Its version line follows the
     * version the swarm has deployed.
     */
    async adopt(): Promise<'written' | 'updated' | 'kept' | undefined> {
      if (!identity) return undefined;
      // abra's server folder is made by `abra server add --local` (at start): without it, abra cannot run anyway.
      if (!existsSync(serverDir(abraDir))) return undefined;
      const d = await deployed(identity.stack).catch(() => undefined);
      const settled = d?.version && (!d.update || ['completed', 'rollback_completed'].includes(d.update.state));
      const version = settled ? d.version! : identity.version;
      const copied = JSON.stringify(Object.entries(deps.env).sort(([a], [b]) => a.localeCompare(b)));
      const text = readAppEnv(abraDir, identity.domain);
      let outcome: 'written' | 'updated' | 'kept' = 'kept';
      if (text === undefined) {
        const sample = readFileSync(path.join(deps.bundledRecipesDir, SELF_RECIPE, '.env.sample'), 'utf8');
        const changes = recipeChanges(sample);
        changes.set.set('TYPE', `${SELF_RECIPE}:${version}`);
        writeAppEnv(abraDir, identity.domain, applyEnvChanges(sample, changes));
        log.info({ domain: identity.domain }, 'wrote the node’s own abra env file, so it can be upgraded like any app');
        outcome = 'written';
      } else if (deps.settings.get(COPIED_KEY) !== copied) {
        writeAppEnv(abraDir, identity.domain, applyEnvChanges(text, recipeChanges(text)));
        log.info({ domain: identity.domain }, 'the node was redeployed with other settings: its env file now has them');
        outcome = 'updated';
      }
      deps.settings.set(COPIED_KEY, copied, null, deps.now());
      if (settled) syncEnvVersion(identity, version);
      return outcome;
    },

    /** Returns only when the swarm took the change without a restart; otherwise the swarm stops this process first. */
    async awaitReplacement(ctx: JobContext, target: string): Promise<void> {
      if (!identity) throw new JobFailure('The node does not run from its recipe, so it cannot replace itself.');
      await awaitReplacement(identity, ctx, target);
    },

    /** At start, before other left-over jobs are marked interrupted: takes over the node's own upgrade, if one was under way. */
    continueCutOff(unfinished: JobRow[]): Set<number> {
      const taken = new Set<number>();
      if (!identity) return taken;
      for (const job of unfinished) {
        if (job.app !== identity.stack || !SELF_KINDS.has(job.kind) || job.args.self !== true) continue;
        deps.jobs.continueJob(job, { actor: { name: job.actor, ip: null }, survivesRestart: true, run: (ctx) => verify(identity, ctx) });
        taken.add(job.id);
      }
      return taken;
    },
  };
}
export type NodeSelf = ReturnType<typeof nodeSelf>;
