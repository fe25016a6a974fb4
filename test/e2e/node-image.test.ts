// The node as a Co-op Cloud app on the real swarm: its image built from the repo's Dockerfile (a base made
// here from this machine's Node 24, the abra test double as abra), deployed from recipe/ with compose.lan.yml
// and the .env.sample values as abra would. Then it upgrades itself from its own page (the job page follows
// it across the restart), and "upgrades" itself to an unhealthy version that the swarm must roll back by
// itself, the rolled-back node recording the failure. Prints image_mb, container_rss_mb and rollback_s.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackNameFor } from '../../app/adapters/abra/names.ts';
import { loginOverHttp, postForm } from '../support/http-login.ts';
import { buildDerivedImage, buildNodeImage, ensureBaseImage, HOST_CA_BUNDLE, imageSizeMb, removeImages } from '../support/image.ts';
import { haveDocker } from '../support/requirements.ts';
import { closePage, cspErrors, openPage, type BrowserPage } from '../support/browser.ts';
import { within, eventually } from '../support/poll.ts';
import { freePort } from '../support/server.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';
import { deployRelease, generatedPassword, lanAppEnv, makeForge, RECIPE_DIR, runningContainers, serviceInspect, tmp, writeReleaseTree, type Container, type RecipeRelease } from './recipe-stack.ts';

const canRun = await haveDocker();
const RUN = randomBytes(3).toString('hex');
const DOMAIN = `e2e-${RUN}.lores.test`;
const STACK = stackNameFor(DOMAIN); // e2e-<run>_lores_test, as abra names it
const SERVICE = `${STACK}_app`;
const SIBLING = `e2e${RUN}sib_lores_test`;
const SECRET = `${STACK}_admin_password_v1`;
const IMAGE = 'e2e-lores-node';
/** What the Dockerfile builds; each version below is it with that version's recipe bundled (and a docker CLI for the abra double). */
const BUILT = `${IMAGE}:${RUN}-built`;
const WITH_CLI = `${IMAGE}:${RUN}-cli`;
const TAG = { v1: `${IMAGE}:${RUN}-1`, v2: `${IMAGE}:${RUN}-2`, bad: `${IMAGE}:${RUN}-bad` };
const KEEP = process.env.E2E_KEEP === '1';
/** Swarm's own time to start or replace a task; the machine may be shared with benchmarks. */
const CONVERGE_MS = 180_000;

const log = (line: string) => console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${line}`);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

describe.skipIf(!canRun)('the node image, deployed from its recipe on the swarm', () => {
  const started = Date.now();
  const work = tmp('e2e-node-image-');
  const forge = path.join(work, 'forge');
  let browserPage: Partial<BrowserPage> = {};
  const password = generatedPassword();
  const steward = { username: `steward${RUN}`, password: `steward password ${RUN}` };
  const nodeDomainSetting = `e2e-${RUN}.example.org`;
  let lanPort = 0;
  let base = '';
  let url = '';
  let appEnv = '';
  let auditBefore = 0;
  const releases: Record<'v1' | 'v2' | 'bad', RecipeRelease> = {
    v1: { version: '0.1.0+0.1.0', image: TAG.v1 },
    v2: { version: '0.1.1+0.1.0', image: TAG.v2 },
    bad: { version: '0.1.2+0.1.0', image: TAG.bad },
  };

  /** Waits until the service runs one healthy container of `image` and the UI answers on the LAN port. */
  async function healthyOn(image: string, timeoutMs = CONVERGE_MS): Promise<Container> {
    let seen: Container[] = [];
    let lastHttp = '';
    const ok = await eventually(
      async () => {
        seen = await runningContainers(SERVICE);
        const c = seen.find((x) => x.image === image && x.health === 'healthy');
        if (!c) return false;
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => e);
        lastHttp = res instanceof Error ? res.message : String(res.status);
        return !(res instanceof Error) && res.status === 200;
      },
      timeoutMs,
      1000,
    );
    if (!ok) {
      const ps = await execa('docker', ['service', 'ps', '--no-trunc', SERVICE], { reject: false });
      throw new Error(`${SERVICE} did not become healthy on ${image}: containers ${JSON.stringify(seen)}, last /healthz ${lastHttp}\n${ps.stdout}`);
    }
    return seen.find((x) => x.image === image)!;
  }

  /** Logs in over the LAN port, as a browser would. */
  const login = (username: string, pw: string) => loginOverHttp(url, username, pw);
  const page = async (cookie: string, p: string) => {
    const res = await fetch(`${url}${p}`, { headers: { cookie } });
    expect(res.status, p).toBe(200);
    return res.text();
  };
  const auditRows = (html: string) => (html.match(/<tr class="outcome-/g) ?? []).length;

  /** What must survive every upgrade and rollback: the steward, the setting, the audit log. */
  async function expectDataKept(): Promise<void> {
    const asSteward = await login(steward.username, steward.password);
    expect(asSteward.cookie).toMatch(/^lores_session=/);
    const admin = await login('admin', password);
    const users = await page(admin.cookie, '/users');
    expect(users).toContain(steward.username);
    expect(await page(admin.cookie, '/settings')).toContain(nodeDomainSetting);
    const audit = await page(admin.cookie, '/audit');
    expect(audit).toContain('user.add');
    expect(audit).toContain('settings.node-domain');
    expect(auditRows(audit)).toBeGreaterThanOrEqual(auditBefore);
  }

  beforeAll(async () => {
    base = await ensureBaseImage(log);
    log(`base image ${base}`);
    const t0 = Date.now();
    await buildNodeImage(BUILT, {
      base,
      abraSource: 'test/abra-double',
      extraCaCert: HOST_CA_BUNDLE,
      onLine: (line) => /^(Step \d+\/\d+ : (FROM|RUN)|Successfully|added \d+|removed \d+)/.test(line) && log(`build: ${line.slice(0, 110)}`),
    });
    log(`built ${BUILT} in ${seconds(Date.now() - t0)} s`);
    // The abra double runs `docker stack deploy` inside the node (real abra speaks to the Docker API itself).
    const cliContext = path.join(work, 'cli');
    mkdirSync(cliContext);
    copyFileSync('/usr/bin/docker', path.join(cliContext, 'docker'));
    await buildDerivedImage(WITH_CLI, `FROM ${BUILT}\nCOPY docker /usr/local/bin/docker\n`, cliContext);
    // Each release bundles its own recipe (so the node knows which version it is). The unhealthy one is the same
    // node told to listen on another port than the recipe's 3000, so the recipe's healthcheck (and Traefik, and
    // the LAN port) find nothing there. It keeps running, unhealthy.
    for (const [name, release] of Object.entries(releases)) {
      const context = path.join(work, `image-${name}`);
      writeReleaseTree(release, path.join(context, 'recipe'));
      const extra = name === 'bad' ? 'ENV PORT=3001\n' : '';
      await buildDerivedImage(release.image, `FROM ${WITH_CLI}\nRUN rm -rf /srv/lores-node/recipes/lores-node\nCOPY recipe /srv/lores-node/recipes/lores-node\n${extra}`, context);
    }
    // The releases after the first, in the recipe's forge, for the node to fetch.
    await makeForge([releases.v2, releases.bad], forge);
    await ensureTestImage();

    lanPort = await freePort();
    url = `http://127.0.0.1:${lanPort}`;
    appEnv = lanAppEnv(DOMAIN, lanPort);
    // The versioned secret first, as `abra app secret generate` makes it (its value printed once).
    await execa('docker', ['secret', 'create', SECRET, '-'], { input: password });
  }, 900_000);

  afterAll(async () => {
    if (KEEP) return log(`E2E_KEEP=1: left ${STACK}, ${SIBLING}, ${SECRET}, volumes and images ${Object.values(TAG).join(' ')}`);
    await Promise.all([removeStack(STACK, 90_000), removeStack(SIBLING, 90_000)]);
    await execa('docker', ['secret', 'rm', SECRET], { reject: false });
    // Containers are gone (removeStack waited); a removed container can hold its volume a moment longer.
    const volumes = [`${STACK}_data`, `${STACK}_abra`];
    await eventually(async () => (await execa('docker', ['volume', 'rm', ...volumes], { reject: false })).exitCode === 0 || !(await volumesLeft(volumes)), 30_000, 500);
    await closePage(browserPage);
    await removeImages([...Object.values(TAG), WITH_CLI, BUILT]);
    rmSync(work, { recursive: true, force: true });
    log(`e2e total ${seconds(Date.now() - started)} s`);
  }, 180_000);

  async function volumesLeft(names: string[]): Promise<boolean> {
    const r = await execa('docker', ['volume', 'ls', '-q'], { reject: false });
    return r.stdout.split('\n').some((v) => names.includes(v));
  }

  it('is the image the Dockerfile promises: compiled output and production dependencies only, tini, healthcheck, labels', async () => {
    const { stdout } = await execa('docker', ['image', 'inspect', BUILT, '--format', '{{json .Config}}']);
    const config = JSON.parse(stdout) as { Labels: Record<string, string>; Entrypoint: string[]; Cmd: string[]; Healthcheck?: { Test: string[] }; Env: string[] };
    expect(config.Labels).toMatchObject({ 'org.opencontainers.image.version': '0.1.0', 'org.opencontainers.image.licenses': 'AGPL-3.0-or-later' });
    expect(config.Entrypoint).toEqual(['tini', '--']);
    expect(config.Cmd).toEqual(['node', '--max-semi-space-size=1', '--no-maglev', '--no-turbofan', 'dist/app/server.js']);
    expect(config.Healthcheck?.Test.join(' ')).toContain('/healthz');
    expect(config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'HOST=0.0.0.0', 'PORT=3000', 'DATA_DIR=/data', 'ABRA_DIR=/abra', 'BUNDLED_RECIPES_DIR=/srv/lores-node/recipes']));
    const inside = await execa('docker', [
      'run', '--rm', '--entrypoint', 'sh', BUILT, '-c',
      'test -f dist/app/server.js && test -d dist/app/views && test -f recipes/lores-node/compose.yml && test -f recipes/kiwix/compose.yml && test ! -e app && test ! -e node_modules/typescript && test ! -e node_modules/vitest && ' +
        'test -d node_modules/better-sqlite3 && test ! -e node_modules/better-sqlite3/deps && id -u && ' +
        'for c in abra git script bash tini; do command -v "$c" >/dev/null || { echo "missing $c"; exit 1; }; done',
    ], { reject: false });
    expect(inside.exitCode, inside.stderr + inside.stdout).toBe(0);
    expect(inside.stdout.split('\n')[0]).toBe('0'); // root, for the Docker socket
  });

  it('deploys from the recipe with the LAN overlay, becomes healthy and answers on the host-mode port', async () => {
    const t0 = Date.now();
    const { files } = await deployRelease(appEnv, releases.v1, work);
    expect(files).toEqual(['compose.yml', 'compose.lan.yml']);
    await healthyOn(TAG.v1);
    log(`healthy on the LAN port ${seconds(Date.now() - t0)} s after deploy`);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' }); // no details without login
    const admin = await login('admin', password);
    const health = (await (await fetch(`${url}/healthz`, { headers: { cookie: admin.cookie } })).json()) as { status: string; docker: { ok: boolean; swarm?: string } };
    expect(health.status).toBe('ok');
    expect(health.docker).toMatchObject({ ok: true, swarm: 'active' });
    const svc = await serviceInspect(SERVICE);
    expect(svc.labels).toMatchObject({ 'traefik.enable': 'true', [`coop-cloud.${STACK}.version`]: '0.1.0+0.1.0', [`coop-cloud.${STACK}.recipe`]: 'lores-node' });
    expect(svc.labels[`traefik.http.routers.${STACK}.rule`]).toBe(`Host(\`${DOMAIN}\`)`);
    console.log(`image_mb: ${(await imageSizeMb(BUILT)).toFixed(1)}`);
  });

  it('lets the admin log in with the password from the secret, and keeps what people change', async () => {
    const admin = await login('admin', password);
    expect((await postForm(url, '/users', admin, { username: steward.username, role: 'steward', password: steward.password })).status).toBe(303);
    expect((await postForm(url, '/settings', admin, { nodeDomain: nodeDomainSetting })).status).toBe(303);
    const asSteward = await login(steward.username, steward.password);
    expect(await page(asSteward.cookie, '/')).toContain(steward.username);
    auditBefore = auditRows(await page(admin.cookie, '/audit'));
    expect(auditBefore).toBeGreaterThanOrEqual(4); // logins and the two changes
    await expect(login('admin', 'not the password from the secret')).rejects.toThrow(/login as admin failed/);
  });

  it('sees a sibling stack through the mounted Docker socket', async () => {
    await deployStack(SIBLING, coopCloudStack(SIBLING, { recipe: 'custom-html', version: '1.0.0+1', domain: `sib-${RUN}.lores.test` }));
    const admin = await login('admin', password);
    let html = '';
    const listed = await eventually(
      async () => {
        html = await page(admin.cookie, '/');
        return html.includes(`data-stack="${SIBLING}"`) && html.includes(`data-stack="${STACK}"`);
      },
      CONVERGE_MS,
      1000,
    );
    expect(listed, `dashboard without ${SIBLING}:\n${html.slice(0, 2000)}`).toBe(true);
    expect(html).toContain('custom-html');
  });

  it('has the recipe’s operator commands working inside the container (abra app cmd runs them with bash)', async () => {
    const [c] = await runningContainers(SERVICE);
    await execa('docker', ['cp', path.join(RECIPE_DIR, 'abra.sh'), `${c!.id}:/tmp/abra.sh`]);
    const cmd = (fn: string) => execa('docker', ['exec', c!.id, 'bash', '-c', `. /tmp/abra.sh && ${fn}`], { reject: false });
    const health = await cmd('health');
    expect(health.exitCode, health.stderr).toBe(0);
    // Without a login /healthz says up or down only (#14): the operator's command reports that, with its exit code.
    expect(JSON.parse(health.stdout)).toEqual({ status: 'ok' });
    const version = await cmd('version');
    expect(version.stdout).toContain('lores-node 0.1.0');
    expect(version.stdout).toMatch(/abra version 0\.13\.0-beta/); // abra runs in the image, under `script`
    const exported = await cmd('export_config');
    expect(exported.exitCode, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ version: '0.1.0', environment: { NODE_DOMAIN: 'example.com', ABRA_DIR: '/abra' } });
    const reset = await cmd('reset_admin_password');
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(reset.stdout).toContain('The password of admin is reset');
  });

  it('reports the idle memory of the node process in the container', async () => {
    const [c] = await runningContainers(SERVICE);
    await new Promise((r) => setTimeout(r, 5000)); // idle: no requests
    // tini is PID 1; its one child is the node (processes from `docker exec` and the healthcheck have parent 0).
    const { stdout } = await execa('docker', [
      'exec', c!.id, 'sh', '-c',
      'for s in /proc/[0-9]*/stat; do set -- $(cat "$s"); if [ "$4" = 1 ]; then grep VmRSS "${s%/stat}/status"; fi; done',
    ]);
    const kb = Number(/VmRSS:\s*(\d+)\s*kB/.exec(stdout)?.[1]);
    expect(kb).toBeGreaterThan(10_000);
    console.log(`container_rss_mb: ${(kb / 1024).toFixed(1)}`);
  });

  it('is one of its own apps: it wrote its abra env file from its recipe, and offers the releases fetched into its recipe', async () => {
    const [c] = await runningContainers(SERVICE);
    const env = (await execa('docker', ['exec', c!.id, 'cat', `/abra/servers/default/${DOMAIN}.env`])).stdout;
    expect(env).toMatch(/^TYPE=lores-node:0\.1\.0\+0\.1\.0$/m);
    expect(env).toMatch(new RegExp(`^DOMAIN=${DOMAIN.replace(/\./g, '\\.')}$`, 'm'));
    expect(env).toMatch(new RegExp(`^LAN_PORT=${lanPort}$`, 'm'));
    expect(env).toMatch(/^COMPOSE_FILE="\$COMPOSE_FILE:compose\.lan\.yml"$/m);
    expect(env).toMatch(/^SECRET_ADMIN_PASSWORD_VERSION=v1 # length=32$/m);
    expect(env).toMatch(/^#ZIM_ROOT=/m); // left out by the operator: still left out
    // A new release reaches the node's recipe checkout, as `abra recipe fetch` brings it from the recipe's forge.
    await execa('docker', ['cp', forge, `${c!.id}:/tmp/forge`]);
    await execa('docker', ['exec', c!.id, 'git', '-C', '/abra/recipes/lores-node', 'fetch', '-q', '/tmp/forge', 'refs/tags/*:refs/tags/*']);
    const admin = await login('admin', password);
    const appPage = await page(admin.cookie, `/apps/${STACK}`);
    expect(appPage).toContain(`href="/apps/${STACK}/upgrade"`);
    expect(appPage).toContain('This is the node itself');
    expect(appPage).not.toContain(`action="/apps/${STACK}/undeploy"`);
    const choices = await page(admin.cookie, `/apps/${STACK}/upgrade`);
    expect(choices).toContain('value="0.1.1+0.1.0"');
    expect(choices).toContain('value="0.1.2+0.1.0"');
    // What would leave no page to come back to is refused, and says why.
    const refused = await postForm(url, `/apps/${STACK}/undeploy`, admin, {});
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('This is the node itself');
  });

  it('upgrades itself from its own page: the open job page says it is restarting, reconnects by itself, and shows success; nothing is lost', async () => {
    browserPage = await openPage(30_000);
    const { page: tab, errors } = browserPage as BrowserPage;
    await tab.goto(`${url}/login`);
    await tab.fill('input[name="username"]', 'admin');
    await tab.fill('input[name="password"]', password);
    await Promise.all([tab.waitForURL(`${url}/`), tab.click('button[type="submit"]')]);
    await tab.goto(`${url}/apps/${STACK}/upgrade`);
    const t0 = Date.now();
    // The node's recipe mounts the Docker socket: an admin ticks that they understand (issue #14).
    await tab.check('form:has(input[value="0.1.1+0.1.0"]) input[name="confirm_host_reach"]');
    await Promise.all([tab.waitForURL(/\/jobs\/\d+$/), tab.click('form:has(input[value="0.1.1+0.1.0"]) button[type="submit"]')]);
    await tab.evaluate('window.__notReloaded = 1');
    // "Restarting…": the phase the old node wrote before the swarm stopped it, or the page's own note once its
    // connection dropped.
    await tab.locator('[data-phase]:text-matches("restarting", "i"), [data-reconnecting]').first().waitFor({ state: 'attached', timeout: 120_000 });
    log(`the job page said “restarting” ${seconds(Date.now() - t0)} s after the click`);
    await tab.waitForSelector('#job-state [data-state="succeeded"]', { timeout: CONVERGE_MS });
    log(`the job page showed success ${seconds(Date.now() - t0)} s after the click, without a reload`);
    expect(await tab.evaluate('window.__notReloaded')).toBe(1);
    expect(await tab.locator('[data-reconnecting]').count()).toBe(0);
    const output = (await tab.textContent('#job-output')) ?? '';
    expect(output).toContain('abra app upgrade');
    expect(output).toContain('The node is back after its restart.');
    expect(output).toContain('The node runs 0.1.1+0.1.0 now');
    // The reconnected page shows the job's output once: the same lines as the page loaded afresh.
    const shown = await tab.locator('#job-output .log-line').allTextContents();
    const stored = [...(await page(await login('admin', password).then((a) => a.cookie), new URL(tab.url()).pathname)).matchAll(/<div class="log-line [a-z]+">([^<]*)<\/div>/g)].map((m) => m[1]);
    expect(shown.length).toBeGreaterThan(3);
    expect(shown.length).toBe(stored.length);
    expect(cspErrors(errors)).toEqual([]);

    await healthyOn(TAG.v2);
    await expectDataKept();
    const svc = await serviceInspect(SERVICE);
    expect(svc.image).toBe(TAG.v2);
    expect(svc.labels[`coop-cloud.${STACK}.version`]).toBe('0.1.1+0.1.0');
    expect(svc.update?.State).toBe('completed');
  });

  it('is rolled back by the swarm from an unhealthy version it was upgraded to from its page; the job says so, and nothing is lost', async () => {
    const admin = await login('admin', password);
    const t0 = Date.now();
    const res = await postForm(url, `/apps/${STACK}/upgrade`, admin, { version: '0.1.2+0.1.0', confirm_host_reach: 'on' });
    expect(res.status).toBe(303);
    const jobPath = res.headers.get('location') ?? '';
    expect(jobPath).toMatch(/^\/jobs\/\d+$/);
    const states: string[] = [];
    const rolledBack = await eventually(
      async () => {
        const state = (await serviceInspect(SERVICE)).update?.State ?? '';
        if (states.at(-1) !== state) states.push(state);
        return state === 'rollback_completed';
      },
      360_000,
      500,
    );
    expect(rolledBack, `update states: ${states.join(' → ')}`).toBe(true);
    const rollbackMs = Date.now() - t0;
    // Swarm's own stamps: when the (failed) update started and when the rollback was complete.
    const { StartedAt, CompletedAt } = (await serviceInspect(SERVICE)).update ?? {};
    if (StartedAt && CompletedAt) {
      log(`update states seen: ${states.join(' → ')}; swarm: update started +${seconds(Date.parse(StartedAt) - t0)} s, rollback completed +${seconds(Date.parse(CompletedAt) - t0)} s`);
    }
    console.log(`rollback_s: ${seconds(rollbackMs)}`);
    const svc = await serviceInspect(SERVICE);
    expect(svc.image).toBe(TAG.v2);
    expect(svc.labels[`coop-cloud.${STACK}.version`]).toBe('0.1.1+0.1.0');
    await healthyOn(TAG.v2);
    // The node the swarm rolled back to finds the job, sees it does not run the target, and says why.
    const { value: job } = await within('the upgrade job to end', CONVERGE_MS, async () => {
      const html = await page(admin.cookie, jobPath);
      return html.includes('data-state="failed"') ? html : undefined;
    });
    expect(job).toContain('The node did not move to 0.1.2+0.1.0: it did not become healthy, so the swarm rolled it back to 0.1.1+0.1.0');
    await expectDataKept();
    const [c] = await runningContainers(SERVICE);
    const env = (await execa('docker', ['exec', c!.id, 'cat', `/abra/servers/default/${DOMAIN}.env`])).stdout;
    expect(env).toMatch(/^TYPE=lores-node:0\.1\.1\+0\.1\.0$/m); // the version that runs, not the one abra wrote
    const audit = await page(admin.cookie, '/audit');
    expect(audit).toContain('job.upgrade');
  });
});
