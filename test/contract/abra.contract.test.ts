// One case for every abra command the node runs (app/adapters/abra/commands.ts), with the assertions the node
// relies on: files under $ABRA_DIR, exit codes, the -m JSON the adapter parses, and the stack on the real swarm.
// They run against the abra stand-in (test/abra-double/abra.ts) always, and against a real abra when
// ABRA_CONTRACT_BIN points at one. test/abra-double/README.md writes down the behaviour checked here.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abraCommands } from '../../app/adapters/abra/commands.ts';
import { AbraError } from '../../app/adapters/abra/run.ts';
import { installBundledRecipes } from '../../app/adapters/recipes/checkout.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';
import { within } from '../support/poll.ts';
import { haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStackAndObjects } from '../support/swarm.ts';

const dockerThere = await haveDocker();
const realAbra = process.env.ABRA_CONTRACT_BIN;
if (!realAbra) console.warn('abra contract: real abra NOT RUN (set ABRA_CONTRACT_BIN=/path/to/abra to check the stand-in against it)');

const RECIPE = 'lores-test-app';
const V1 = '1.0.0+1.0';
const V2 = '1.1.0+1.1';
const STEP_MS = 150_000; // a deploy that waits for convergence on a loaded machine

/** Where `recipe fetch` gets a recipe: for the stand-in, a local forge set up per run; real abra goes online. */
type Fetch = { recipe: string; setUp(): Promise<{ env: Record<string, string>; done(): void }> };

/** A local stand-in for Co-op Cloud's forge: the test recipe as a git repo with annotated tags, served by path. */
const localForge: Fetch = {
  recipe: 'lores-fetched',
  async setUp() {
    const forge = mkdtempSync(path.join(tmpdir(), 'lores-contract-forge-'));
    for (const v of [V1, V2]) cpSync(path.join(FIXTURE_RECIPES, RECIPE, v), path.join(forge, 'src', 'lores-fetched', v), { recursive: true });
    await installBundledRecipes(path.join(forge, 'src'), forge, () => {});
    symlinkSync(path.join(forge, 'recipes', 'lores-fetched'), path.join(forge, 'recipes', 'lores-fetched.git'));
    return { env: { ABRA_DOUBLE_GIT_BASE: `file://${path.join(forge, 'recipes')}` }, done: () => rmSync(forge, { recursive: true, force: true }) };
  },
};

/** Real abra clones from the catalogue's forge: a real, small recipe (needs the internet). */
const onlineForge: Fetch = { recipe: process.env.ABRA_CONTRACT_FETCH_RECIPE ?? 'custom-html', setUp: async () => ({ env: {}, done: () => {} }) };

const docker = async (args: string[]) => (await execa('docker', args, { reject: false })).stdout.trim();
const annotatedTags = async (repo: string) =>
  (await execa('git', ['-C', repo, 'for-each-ref', '--format=%(objecttype) %(refname:lstrip=2)', 'refs/tags'])).stdout
    .split('\n')
    .filter((l) => l.startsWith('tag '))
    .map((l) => l.slice(4));

function contract(label: string, bin: string, fetch: Fetch) {
  describe.skipIf(!dockerThere)(`abra contract: ${label}`, () => {
    const abraDir = mkdtempSync(path.join(tmpdir(), 'lores-contract-'));
    const abra = abraCommands({ bin, abraDir, pty: 'script', timeoutMs: STEP_MS - 10_000 });
    const domain = `c${randomBytes(3).toString('hex')}.lores.test`;
    const stack = domain.replaceAll('.', '_');
    const envFile = path.join(abraDir, 'servers', 'default', `${domain}.env`);
    const envText = () => readFileSync(envFile, 'utf8');
    /** The deploy labels of service `app` and its image, as the swarm holds them. */
    const appService = async () => {
      const out = await docker(['service', 'inspect', `${stack}_app`, '--format', '{{json .Spec.Labels}}|{{.Spec.TaskTemplate.ContainerSpec.Image}}|{{json .Spec.TaskTemplate.ContainerSpec.Env}}|{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}']);
      const [labels = 'null', image = '', env = 'null', secrets = 'null'] = out.split('|');
      return {
        labels: (JSON.parse(labels || 'null') ?? {}) as Record<string, string>,
        image: image.split('@')[0]!,
        env: (JSON.parse(env || 'null') ?? []) as string[],
        secrets: ((JSON.parse(secrets || 'null') ?? []) as { SecretName: string }[]).map((s) => s.SecretName),
      };
    };
    const replicas = () => docker(['service', 'ls', '--filter', `name=${stack}_app`, '--format', '{{.Replicas}}']);
    const secretNames = async () => (await docker(['secret', 'ls', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith(`${stack}_`));
    const refused = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as AbraError);
    let forge: Awaited<ReturnType<Fetch['setUp']>> | undefined;
    const envBefore: Record<string, string | undefined> = {};

    beforeAll(async () => {
      await ensureTestImage();
      forge = await fetch.setUp();
      for (const [k, v] of Object.entries(forge.env)) (envBefore[k] = process.env[k]), (process.env[k] = v);
    }, 60_000);

    afterAll(async () => {
      for (const [k, v] of Object.entries(envBefore)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      forge?.done();
      await removeStackAndObjects(stack, 90_000);
      rmSync(abraDir, { recursive: true, force: true });
    }, 120_000);

    it('--version: prints its version', async () => {
      expect(await abra.version()).toMatch(/\d+\.\d+\.\d+/);
    });

    it('server add --local: registers the local server as `default` once; server ls -m lists it as JSON', async () => {
      await abra.serverAddLocal();
      await abra.serverAddLocal(); // idempotent: a second run must not fail
      expect(existsSync(path.join(abraDir, 'servers', 'default'))).toBe(true);
      expect(await abra.serverLs()).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'default' })]));
    });

    it('recipe fetch: clones the recipe into $ABRA_DIR/recipes/<recipe> with its versions as annotated tags, and refreshes it', async () => {
      await abra.recipeFetch(fetch.recipe);
      const repo = path.join(abraDir, 'recipes', fetch.recipe);
      expect(existsSync(path.join(repo, '.git'))).toBe(true);
      expect((await annotatedTags(repo)).length).toBeGreaterThan(0);
      await abra.recipeFetch(fetch.recipe); // the checkout exists: fetched again, no failure
      if (fetch === localForge) expect(await annotatedTags(repo)).toEqual([V1, V2]);
    }, 120_000);

    it('app new: writes servers/default/<domain>.env from the version’s .env.sample, offline, with TYPE=<recipe>:<version>', async () => {
      await installBundledRecipes(FIXTURE_RECIPES, abraDir, () => {});
      await abra.appNew({ recipe: RECIPE, version: V1, domain });
      const env = envText();
      expect(env).toMatch(new RegExp(`^(TYPE|RECIPE)=${RECIPE}:1\\.0\\.0\\+1\\.0$`, 'm'));
      expect(env).toMatch(new RegExp(`^DOMAIN=${domain.replaceAll('.', '\\.')}$`, 'm'));
      expect(env).toContain('# What the app says hello to'); // comments kept: the install form's help comes from them
      expect(env).toContain('SECRET_DB_PASSWORD_VERSION=v1 # length=32');
    });

    it('app new: a second app with the same domain fails with exit code 1 and a readable reason, the file untouched', async () => {
      const before = envText();
      const err = await refused(abra.appNew({ recipe: RECIPE, version: V1, domain }));
      expect(err).toBeInstanceOf(AbraError);
      expect(err!.exitCode).toBe(1);
      expect(err!.message).toMatch(/^abra failed: .+/);
      expect(envText()).toBe(before);
    });

    it('app secret generate --all -m: makes every declared secret as <stack>_<name>_<version>, values printed once as JSON', async () => {
      const secrets = await abra.secretGenerateAll(domain);
      expect(secrets).toEqual([expect.objectContaining({ name: 'db_password', version: 'v1', dockerName: `${stack}_db_password_v1` })]);
      expect(secrets[0]!.value).toHaveLength(32); // `# length=32`
      expect(await secretNames()).toEqual([`${stack}_db_password_v1`]);
    });

    it('app deploy: deploys the env’s version as a stack, labels service app, waits until it runs, env values reach it', async () => {
      writeFileSync(envFile, envText().replace(/^GREETING=.*$/m, 'GREETING=contract'));
      await abra.appDeploy({ domain });
      const app = await appService();
      expect(app.labels).toMatchObject({ [`coop-cloud.${stack}.recipe`]: RECIPE, [`coop-cloud.${stack}.version`]: V1, [`coop-cloud.${stack}.chaos`]: 'false' });
      expect(app.image).toBe('lores-test/busybox:1');
      expect(app.env).toContain('GREETING=contract');
      expect(app.secrets).toEqual([`${stack}_db_password_v1`]);
      expect(await replicas()).toBe('1/1'); // converged before it returned
      expect(envText()).toMatch(new RegExp(`^TYPE=${RECIPE}:1\\.0\\.0\\+1\\.0$`, 'm'));
    }, STEP_MS);

    it('app secret generate <name> <version> -m: makes one new version of a secret (a rotation), value printed once', async () => {
      writeFileSync(envFile, envText().replace('SECRET_DB_PASSWORD_VERSION=v1', 'SECRET_DB_PASSWORD_VERSION=v2'));
      const secrets = await abra.secretGenerate(domain, 'db_password', 'v2');
      expect(secrets).toEqual([expect.objectContaining({ name: 'db_password', version: 'v2', dockerName: `${stack}_db_password_v2` })]);
      expect(secrets[0]!.value.length).toBeGreaterThan(0);
      expect((await secretNames()).sort()).toEqual([`${stack}_db_password_v1`, `${stack}_db_password_v2`]);
    });

    it('app deploy -f: redeploys the same version with the changed env (settings, rotated secret)', async () => {
      writeFileSync(envFile, envText().replace(/^GREETING=.*$/m, 'GREETING=neighbours'));
      await abra.appDeploy({ domain, force: true });
      const app = await appService();
      expect(app.env).toContain('GREETING=neighbours');
      expect(app.secrets).toEqual([`${stack}_db_password_v2`]);
      expect(app.labels[`coop-cloud.${stack}.version`]).toBe(V1);
      expect(await replicas()).toBe('1/1');
    }, STEP_MS);

    it('app upgrade <version>: moves to the newer version, writes it to the env file and the version label', async () => {
      await abra.appUpgrade({ domain, version: V2 });
      const app = await appService();
      expect(app.labels[`coop-cloud.${stack}.version`]).toBe(V2);
      expect(app.image).toBe('lores-test/busybox:2');
      expect(app.env).toContain('GREETING=neighbours'); // settings carried over
      expect(envText()).toMatch(new RegExp(`^TYPE=${RECIPE}:1\\.1\\.0\\+1\\.1$`, 'm'));
      expect(await replicas()).toBe('1/1');
    }, STEP_MS);

    it('app rollback <version> -c: moves back to the older version without waiting for convergence', async () => {
      await abra.appRollback({ domain, version: V1, noConverge: true });
      expect(envText()).toMatch(new RegExp(`^TYPE=${RECIPE}:1\\.0\\.0\\+1\\.0$`, 'm'));
      const app = await appService();
      expect(app.labels[`coop-cloud.${stack}.version`]).toBe(V1);
      expect(app.image).toBe('lores-test/busybox:1');
      await within('the rolled-back app runs', 90_000, async () => (await replicas()) === '1/1');
    }, STEP_MS);

    it('app restart <service> and -a: starts a new task of the running service', async () => {
      const runningTask = () => docker(['service', 'ps', `${stack}_app`, '--filter', 'desired-state=running', '--format', '{{.ID}} {{.CurrentState}}']);
      const first = (await within('the app has a running task', 60_000, async () => /Running/.test(await runningTask()) && (await runningTask()))).value;
      await abra.appRestart({ domain, service: 'app' });
      const second = (await within('a new task runs after restart app', 90_000, async () => {
        const now = await runningTask();
        return /Running/.test(now) && now.split(' ')[0] !== first.split(' ')[0] && now;
      })).value;
      await abra.appRestart({ domain });
      await within('a new task runs after restart -a', 90_000, async () => {
        const now = await runningTask();
        return /Running/.test(now) && now.split(' ')[0] !== second.split(' ')[0];
      });
    }, STEP_MS);

    it('app remove: refuses while the app is deployed, with exit code 1, and keeps everything', async () => {
      const err = await refused(abra.appRemove(domain));
      expect(err).toBeInstanceOf(AbraError);
      expect(err!.exitCode).toBe(1);
      expect(existsSync(envFile)).toBe(true);
      expect(await secretNames()).toHaveLength(2);
      expect(await replicas()).not.toBe('');
    });

    it('app undeploy: removes the stack and waits for its containers; env file and secrets stay', async () => {
      await abra.appUndeploy(domain);
      expect(await docker(['service', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '-q'])).toBe('');
      await within('the stack’s containers are gone', 60_000, async () => (await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`])) === '');
      expect(existsSync(envFile)).toBe(true);
      expect(await secretNames()).toHaveLength(2);
    }, STEP_MS);

    it('app remove -f: deletes the undeployed app’s env file and secrets', async () => {
      await abra.appRemove(domain);
      expect(existsSync(envFile)).toBe(false);
      expect(await secretNames()).toEqual([]);
    }, STEP_MS);
  });
}

contract('the stand-in (test/abra-double/abra.ts)', ABRA_DOUBLE, localForge);
if (realAbra) contract(`real abra at ${realAbra}`, realAbra, onlineForge);
else it.skip('abra contract against a real abra: not run here (set ABRA_CONTRACT_BIN=/path/to/abra; the stand-in cases above always run)');
