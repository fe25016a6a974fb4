// The node as one of its own apps. Run from its recipe, it writes its own abra env file (so abra can upgrade
// it like any app), and it finishes its own upgrade across the restart that the upgrade causes: the old
// process starts the job and is replaced by the swarm (stop-first); the new process finds the job still
// running, compares the version it runs with the target, and records success or failure.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { readAppEnv, serverDir, writeAppEnv } from '../adapters/abra/app-env.ts';
import { declaredVersion } from '../adapters/recipes/checkout.ts';
import type { Logger } from '../log.ts';
import type { JobRow } from '../store/jobs.ts';
import { applyEnvChanges, envValueSchema, readEnvValues } from './env-file.ts';
import { JobFailure, type JobContext, type JobRunner } from './jobs.ts';

export const SELF_RECIPE = 'lores-node';
/** What the recipe passes for an optional setting the operator left out (compose `${KEY-<unset>}`). */
export const UNSET = '<unset>';
/** Job kinds that replace the node's own container. */
const SELF_KINDS = new Set(['upgrade', 'rollback']);

/** Which app the node itself is: its stack and domain, and the recipe version this image carries. */
export type SelfIdentity = { stack: string; domain: string; version: string };

/** The node's identity when it runs from its recipe (stack and domain given, its own recipe bundled); else undefined. */
export function selfIdentity(opts: { stack: string; env: Record<string, string>; bundledRecipesDir: string }): SelfIdentity | undefined {
  const domain = opts.env.DOMAIN;
  const compose = path.join(opts.bundledRecipesDir, SELF_RECIPE, 'compose.yml');
  if (!opts.stack || !domain || !existsSync(compose)) return undefined;
  const version = declaredVersion(readFileSync(compose, 'utf8'));
  return version ? { stack: opts.stack, domain, version } : undefined;
}

/** The swarm's update of the node's service: its state, message and when it started (ms; 0 when unknown). */
type UpdateStatus = { state: string; message: string; startedAt: number } | null;

const WATCH_EVERY_MS = 2000;
/** How long the old process waits to be replaced, and the new one for the swarm to call the update done. */
const REPLACED_WITHIN_MS = 15 * 60_000;
const SETTLED_WITHIN_MS = 10 * 60_000;

export function nodeSelf(deps: {
  identity: SelfIdentity | undefined;
  env: Record<string, string>;
  bundledRecipesDir: string;
  abraDir: string;
  docker: Docker;
  jobs: JobRunner;
  log: Logger;
  now: () => number;
}) {
  const { identity, abraDir, log } = deps;

  async function updateStatus(stack: string): Promise<UpdateStatus> {
    const info = (await deps.docker.getService(`${stack}_app`).inspect()) as { UpdateStatus?: { State?: string; Message?: string; StartedAt?: string } };
    const u = info.UpdateStatus;
    return u?.State ? { state: u.State, message: u.Message ?? '', startedAt: Date.parse(u.StartedAt ?? '') || 0 } : null;
  }

  /** The env file's recipe line moved to the version running now: the swarm, not an interrupted abra, has the last word. */
  function syncEnvVersion(self: SelfIdentity): void {
    const text = readAppEnv(abraDir, self.domain);
    if (text === undefined) return;
    const key = readEnvValues(text).has('RECIPE') ? 'RECIPE' : 'TYPE';
    const want = `${SELF_RECIPE}:${self.version}`;
    if (readEnvValues(text).get(key) === want) return;
    writeAppEnv(abraDir, self.domain, applyEnvChanges(text, { set: new Map([[key, want]]), unset: new Set(), overlays: new Map() }));
    log.info({ version: self.version }, 'the node’s env file now names the version it runs');
  }

  /** The env file abra would have made for the node: its own .env.sample with the values its recipe passed in. */
  function envFileFor(self: SelfIdentity): string {
    const sample = readFileSync(path.join(deps.bundledRecipesDir, SELF_RECIPE, '.env.sample'), 'utf8');
    const set = new Map<string, string>([['TYPE', `${SELF_RECIPE}:${self.version}`]]);
    const overlays = new Map<string, boolean>();
    for (const [key, value] of Object.entries(deps.env)) {
      if (value === UNSET) continue;
      if (key === 'COMPOSE_FILE') {
        for (const file of value.split(':').slice(1)) overlays.set(file, true);
      } else if (envValueSchema.safeParse(value).success) {
        set.set(key, value);
      } else {
        // Values the node's forms would refuse (quotes, backticks) stay with the operator's abra.
        log.warn({ key }, 'a setting of the node’s recipe holds characters the node does not write: set it with abra');
      }
    }
    return applyEnvChanges(sample, { set, unset: new Set(), overlays });
  }

  /** A self job cut off by the restart: finish it here, by the version this process runs. */
  async function verify(self: SelfIdentity, ctx: JobContext): Promise<void> {
    const target = String(ctx.job.args.to ?? '');
    ctx.log(`The node is back, running ${self.version}.`, 'info');
    if (self.version !== target) {
      const status = await updateStatus(self.stack).catch(() => null);
      const why = status?.state.startsWith('rollback')
        ? `${target} did not become healthy, so the swarm rolled the node back to ${self.version}${status.message ? ` (${status.message})` : ''}`
        : `it restarted on ${self.version}`;
      throw new JobFailure(`The node did not move to ${target}: ${why}.`);
    }
    ctx.setPhase(`Checking: the node runs ${target}; the swarm watches it for a while before it calls the update done.`);
    const deadline = deps.now() + SETTLED_WITHIN_MS;
    for (;;) {
      const status = await updateStatus(self.stack).catch((err: Error) => ({ state: 'unknown', message: err.message, startedAt: 0 }));
      if (!status || status.state === 'completed') break;
      if (status.state === 'paused') throw new JobFailure(`The swarm paused the node’s update${status.message ? `: ${status.message}` : ''}.`);
      if (deps.now() > deadline) throw new JobFailure(`The swarm has not finished the node’s update after ${SETTLED_WITHIN_MS / 60_000} minutes (${status.state}).`);
      await sleep(WATCH_EVERY_MS, undefined, { signal: ctx.signal });
    }
    syncEnvVersion(self);
    ctx.log(`The node runs ${target} now, and the swarm has finished its update.`, 'info');
  }

  return {
    identity,
    isSelf: (stack: string | null) => !!identity && stack === identity.stack,

    /**
     * At start: makes sure abra knows the node as an app (its env file, written once from what the recipe passed
     * in), and that the file names the version that runs.
     */
    adopt(): 'written' | 'kept' | undefined {
      if (!identity) return undefined;
      // abra's server folder is made by `abra server add --local` (at start): without it, abra cannot run anyway.
      if (!existsSync(serverDir(abraDir))) return undefined;
      if (readAppEnv(abraDir, identity.domain) === undefined) {
        writeAppEnv(abraDir, identity.domain, envFileFor(identity));
        log.info({ domain: identity.domain }, 'wrote the node’s own abra env file, so it can be upgraded like any app');
        return 'written';
      }
      syncEnvVersion(identity);
      return 'kept';
    },

    /**
     * The old process's part, after abra has handed the new spec to the swarm: wait to be replaced. The swarm stops
     * this process (stop-first); the job stays running in the store for the next one. Returns only by failing.
     */
    async awaitReplacement(ctx: JobContext, target: string): Promise<void> {
      if (!identity) throw new JobFailure('The node does not run from its recipe, so it cannot replace itself.');
      ctx.setPhase(`Restarting: the swarm is replacing the node with ${target}. This page reconnects by itself.`);
      ctx.log(`The swarm is replacing the node with ${target}; the next node finishes this job.`, 'info');
      const deadline = deps.now() + REPLACED_WITHIN_MS;
      while (deps.now() < deadline) {
        await sleep(WATCH_EVERY_MS, undefined, { signal: ctx.signal });
        const status = await updateStatus(identity.stack).catch(() => null);
        // Only an update that started with this job counts: the status of an earlier one may still be showing.
        if (status && status.startedAt >= ctx.job.createdAt && ['rollback_completed', 'paused', 'rollback_paused'].includes(status.state)) {
          throw new JobFailure(`The swarm did not replace the node (its update is “${status.state.replace('_', ' ')}”${status.message ? `: ${status.message}` : ''}).`);
        }
      }
      throw new JobFailure(`The swarm did not replace the node within ${REPLACED_WITHIN_MS / 60_000} minutes.`);
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
