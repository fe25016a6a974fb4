// The node as one of its own apps: its env file written from what its recipe passes, and its own upgrade job
// outliving the process that started it, finished by the next one by the version the swarm runs. Real SQLite
// file; the swarm's answers about the node's service are given here (the real swarm does this in test/e2e).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { envPathFor, serverDir } from '../../app/adapters/abra/app-env.ts';
import { readEnvValues } from '../../app/services/env-file.ts';
import { createLogger } from '../../app/log.ts';
import { auditLog } from '../../app/services/audit.ts';
import { JobRunner } from '../../app/services/jobs.ts';
import { nodeSelf, selfIdentity, UNSET } from '../../app/services/node-self.ts';
import { createStore, type Store } from '../../app/store/index.ts';
import { RECIPE_DIR } from '../e2e/recipe-stack.ts';

const DOMAIN = 'node.lores.test';
const STACK = 'node_lores_test';
const log = createLogger('silent');
type Update = { State: string; Message?: string; StartedAt?: string } | undefined;
/** What the swarm says of the node's service: its deployed version label and its latest update. */
type Swarm = { version?: string; update?: Update };
const swarmSaying = (say: () => Swarm) =>
  ({ getService: () => ({ inspect: async () => ({ Spec: { Labels: say().version ? { [`coop-cloud.${STACK}.version`]: say().version } : {} }, UpdateStatus: say().update }) }) }) as unknown as Docker;
/** An update that started now (with the job under test), in a state. */
const updateNow = (State: string, Message?: string): Update => ({ State, Message, StartedAt: new Date(Date.now() + 1000).toISOString() });

describe('the node as one of its own apps', () => {
  let dir: string;
  let bundled: string;
  let abraDir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lores-self-'));
    bundled = path.join(dir, 'recipes');
    abraDir = path.join(dir, 'abra');
    cpSync(RECIPE_DIR, path.join(bundled, 'lores-node'), { recursive: true });
    mkdirSync(serverDir(abraDir), { recursive: true }); // as `abra server add --local` leaves it
    store = createStore(path.join(dir, 'data'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const bundledVersion = () => /coop-cloud\.\$\{STACK_NAME\}\.version=([^"\s]+)/.exec(readFileSync(path.join(bundled, 'lores-node', 'compose.yml'), 'utf8'))![1]!;
  const self = (env: Record<string, string>, jobs: JobRunner, say: () => Swarm = () => ({})) =>
    nodeSelf({ identity: selfIdentity({ stack: STACK, env, bundledRecipesDir: bundled }), env, bundledRecipesDir: bundled, abraDir, docker: swarmSaying(say), jobs, settings: store.settings, log, now: Date.now });
  const runner = () => new JobRunner(store.jobs, auditLog(store.audit, Date.now), { now: Date.now });

  it('knows itself only when run from its recipe: a stack, a domain, and its own recipe bundled', () => {
    expect(selfIdentity({ stack: '', env: { DOMAIN }, bundledRecipesDir: bundled })).toBeUndefined();
    expect(selfIdentity({ stack: STACK, env: {}, bundledRecipesDir: bundled })).toBeUndefined();
    expect(selfIdentity({ stack: STACK, env: { DOMAIN: '../../etc' }, bundledRecipesDir: bundled })).toBeUndefined();
    expect(selfIdentity({ stack: STACK, env: { DOMAIN }, bundledRecipesDir: path.join(dir, 'none') })).toBeUndefined();
    expect(selfIdentity({ stack: STACK, env: { DOMAIN }, bundledRecipesDir: bundled })).toEqual({ stack: STACK, domain: DOMAIN, version: bundledVersion() });
  });

  it('writes no env file before abra has its server folder', async () => {
    rmSync(serverDir(abraDir), { recursive: true });
    expect(await self({ DOMAIN }, runner()).adopt()).toBeUndefined();
  });

  it('writes its abra env file from its .env.sample and the values passed in, copies them again only when they change, and names the deployed version', async () => {
    const env = {
      DOMAIN,
      NODE_DOMAIN: 'lores.test',
      LETS_ENCRYPT_ENV: '',
      SECRET_ADMIN_PASSWORD_VERSION: 'v2',
      COMPOSE_FILE: 'compose.yml:compose.lan.yml',
      LAN_PORT: '8081',
      ZIM_ROOT: UNSET,
      EXTRA_DOMAINS: ', `other.lores.test`',
      TIMEOUT: UNSET,
    };
    expect(await self(env, runner()).adopt()).toBe('written'); // the swarm does not answer: the image's own version
    const text = readFileSync(envPathFor(abraDir, DOMAIN), 'utf8');
    expect(text).toMatch(new RegExp(`^TYPE=lores-node:${bundledVersion().replace(/[.+]/g, '\\$&')}$`, 'm'));
    expect(text).toMatch(/^DOMAIN=node\.lores\.test$/m);
    expect(text).toMatch(/^LETS_ENCRYPT_ENV=""$/m); // empty on purpose (no ACME) stays empty, not the sample's default
    expect(text).toMatch(/^SECRET_ADMIN_PASSWORD_VERSION=v2 # length=32$/m);
    expect(text).toMatch(/^COMPOSE_FILE="\$COMPOSE_FILE:compose\.lan\.yml"$/m);
    expect(text).toMatch(/^#COMPOSE_FILE="\$COMPOSE_FILE:compose\.zims\.yml"$/m);
    expect(text).toMatch(/^LAN_PORT=8081$/m);
    expect(text).toMatch(/^#ZIM_ROOT=/m); // left out by the operator: still left out
    expect(text).toMatch(/^EXTRA_DOMAINS=', `other\.lores\.test`'$/m); // backticks: between single quotes, taken literally
    expect(readEnvValues(text).get('EXTRA_DOMAINS')).toBe(', `other.lores.test`');

    // A setting saved on the node's page stays while the recipe's values are the same; the version line follows
    // what the swarm has deployed (not the image's own recipe: a recipe-only release keeps the image).
    writeFileSync(envPathFor(abraDir, DOMAIN), text.replace(/^#SESSION_HOURS=12$/m, 'SESSION_HOURS=4'));
    expect(await self(env, runner(), () => ({ version: '9.9.9+9.9.9', update: { State: 'completed' } })).adopt()).toBe('kept');
    const kept = readFileSync(envPathFor(abraDir, DOMAIN), 'utf8');
    expect(kept).toMatch(/^TYPE=lores-node:9\.9\.9\+9\.9\.9$/m);
    expect(kept).toMatch(/^SESSION_HOURS=4$/m);
    expect(kept).toMatch(/^LAN_PORT=8081$/m);

    // The operator redeployed with abra: another LAN port, no LAN overlay any more, EXTRA_DOMAINS left out.
    const redeployed = { ...env, LAN_PORT: '9090', COMPOSE_FILE: 'compose.yml', EXTRA_DOMAINS: UNSET };
    expect(await self(redeployed, runner(), () => ({ version: '9.9.9+9.9.9', update: { State: 'updating' } })).adopt()).toBe('updated');
    const after = readFileSync(envPathFor(abraDir, DOMAIN), 'utf8');
    expect(after).toMatch(/^LAN_PORT=9090$/m);
    expect(after).toMatch(/^#COMPOSE_FILE="\$COMPOSE_FILE:compose\.lan\.yml"$/m);
    expect(after).toMatch(/^#EXTRA_DOMAINS=/m);
    expect(after).toMatch(/^SESSION_HOURS=4$/m);
    expect(after).toMatch(/^TYPE=lores-node:9\.9\.9\+9\.9\.9$/m); // an update under way: the line is left as it was
  });

  it('leaves its own upgrade running at shutdown; the next process finishes it as succeeded once the swarm is done', async () => {
    const env = { DOMAIN, COMPOSE_FILE: 'compose.yml' };
    const before = runner();
    const target = bundledVersion();
    let started!: () => void;
    const waiting = new Promise<void>((r) => (started = r));
    const job = before.submit({
      kind: 'upgrade', app: STACK, recipe: 'lores-node', actor: { name: 'sam', ip: null }, args: { domain: DOMAIN, from: '0.0.1+0.0.1', to: target, self: true }, survivesRestart: true,
      run: async (ctx) => {
        ctx.log('abra app upgrade …');
        ctx.setPhase('Restarting');
        started();
        await new Promise(() => {}); // the swarm stops this process
      },
    });
    await waiting;
    before.abortAll(); // what shutdown does
    expect(store.jobs.byId(job.id)).toMatchObject({ state: 'running', phase: 'Restarting' });

    // The next process: the swarm first still updating, then done.
    let answers = 0;
    const after = runner();
    const next = self(env, after, () => ({ version: target, update: updateNow(++answers < 3 ? 'updating' : 'completed') }));
    const left = store.jobs.unfinished();
    const taken = next.continueCutOff(left);
    expect(taken).toEqual(new Set([job.id]));
    expect(after.recover(() => '', (j) => taken.has(j.id))).toEqual([]);
    const done = await after.finished(job.id);
    expect(done).toMatchObject({ state: 'succeeded', phase: null });
    const lines = store.jobs.output(job.id).map((l) => l.line);
    expect(lines[0]).toBe('abra app upgrade …');
    expect(lines).toContain('The node is back after its restart.');
    expect(lines.at(-1)).toBe(`The node runs ${target} now, and the swarm has finished its update.`);
    expect(store.jobs.output(job.id).map((l) => l.seq)).toEqual(lines.map((_, i) => i)); // one unbroken output
  });

  it('while waiting to be replaced, heeds only an update that started with the job: an earlier rollback is no verdict', async () => {
    const jobs = runner();
    const earlier = new Date(Date.now() - 60_000).toISOString();
    let polls = 0;
    const node = self({ DOMAIN, COMPOSE_FILE: 'compose.yml' }, jobs, () => ({
      version: '1.0.0+1.0.0',
      update: ++polls < 2 ? { State: 'rollback_completed', StartedAt: earlier } : updateNow('paused', 'update paused due to failure'),
    }));
    const job = jobs.submit({ kind: 'upgrade', app: STACK, recipe: 'lores-node', actor: { name: 'sam', ip: null }, args: { to: '9.9.9+9.9.9', self: true }, survivesRestart: true, run: (ctx) => node.awaitReplacement(ctx, '9.9.9+9.9.9') });
    const done = await jobs.finished(job.id);
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(done.error).toBe('The swarm did not replace the node: its update is “paused” (update paused due to failure).');
  });

  it('calls a deploy that replaced nobody (labels only) done once the swarm shows the target for a while', async () => {
    const jobs = runner();
    const node = self({ DOMAIN, COMPOSE_FILE: 'compose.yml' }, jobs, () => ({ version: '2.0.0+1.0.0', update: { State: 'completed', StartedAt: new Date(Date.now() - 60_000).toISOString() } }));
    const job = jobs.submit({ kind: 'upgrade', app: STACK, recipe: 'lores-node', actor: { name: 'sam', ip: null }, args: { to: '2.0.0+1.0.0', self: true }, survivesRestart: true, run: (ctx) => node.awaitReplacement(ctx, '2.0.0+1.0.0') });
    const done = await jobs.finished(job.id);
    expect(done.state).toBe('succeeded');
    expect(store.jobs.output(job.id).at(-1)!.line).toBe('The swarm took 2.0.0+1.0.0 without restarting the node.');
  }, 40_000);

  it('refuses to start the node’s own upgrade while other jobs run, and other jobs while it runs', async () => {
    const jobs = runner();
    const other = jobs.submit({ kind: 'deploy', app: 'other_lores_test', recipe: 'x', actor: { name: 'sam', ip: null }, run: ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')))) });
    const selfJob = { kind: 'upgrade', app: STACK, recipe: 'lores-node', actor: { name: 'sam', ip: null }, args: { self: true }, survivesRestart: true, run: () => new Promise<void>(() => {}) };
    expect(() => jobs.submit(selfJob)).toThrow('Wait until the running job has finished: the node restarts itself, which would cut it off.');
    jobs.stop(other.id, 'stopped');
    await jobs.finished(other.id);
    jobs.submit(selfJob);
    expect(() => jobs.submit({ kind: 'deploy', app: 'other_lores_test', recipe: 'x', actor: { name: 'sam', ip: null }, run: async () => {} })).toThrow('The node is upgrading itself: wait until it is back.');
  });

  it('records a failure when the swarm runs another version than the target: rolled back, or simply restarted', async () => {
    const env = { DOMAIN, COMPOSE_FILE: 'compose.yml' };
    const submitLeftOver = (to: string) =>
      store.jobs.create({ kind: 'upgrade', app: STACK, recipe: 'lores-node', args: { domain: DOMAIN, to, self: true }, actor: 'sam' }, Date.now());
    const rolledBack = submitLeftOver('7.7.7+7.7.7');
    const restarted = submitLeftOver('8.8.8+8.8.8');
    const notOurs = store.jobs.create({ kind: 'deploy', app: 'other_lores_test', recipe: 'x', args: {}, actor: 'sam' }, Date.now());
    for (const j of [rolledBack, restarted, notOurs]) store.jobs.markRunning(j.id, Date.now());

    const after = runner();
    let swarm: Swarm = { version: '6.6.6+6.6.6', update: updateNow('rollback_started', 'update rolled back due to failure') };
    const next = self(env, after, () => swarm);
    const taken = next.continueCutOff(store.jobs.unfinished().filter((j) => j.id === rolledBack.id));
    expect((await after.finished(rolledBack.id)).error).toBe(
      'The node did not move to 7.7.7+7.7.7: it did not become healthy, so the swarm rolled it back to 6.6.6+6.6.6 (update rolled back due to failure).',
    );
    // An earlier update's rollback is not this job's: the node restarted, on another version.
    swarm = { version: '6.6.6+6.6.6', update: { State: 'rollback_completed', StartedAt: new Date(Date.now() - 600_000).toISOString() } };
    next.continueCutOff(store.jobs.unfinished().filter((j) => j.id === restarted.id));
    expect((await after.finished(restarted.id)).error).toBe('The node did not move to 8.8.8+8.8.8: the swarm runs 6.6.6+6.6.6.');
    // Any other job cut off by the restart is interrupted as before.
    after.recover(() => 'Live state now: unknown.', (j) => taken.has(j.id));
    expect(store.jobs.byId(notOurs.id)!.state).toBe('interrupted');
  });
});
