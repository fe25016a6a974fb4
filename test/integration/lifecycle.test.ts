// The app lifecycle through the abra adapter, driving the abra test double, deploying for real on the swarm.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { appsFrom } from '../../app/services/apps.ts';
import { listInstalled } from '../../app/adapters/abra/app-env.ts';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES, abraCalls, setFaults } from '../support/abra.ts';
import { actingAs, jobIdFrom, sessionFor, type Person } from '../support/jobs.ts';
import { haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStack } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

// Each step deploys for real and waits for the swarm to converge: give a busy 2-core machine time.
vi.setConfig({ testTimeout: 180_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const DOMAIN = `t${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');

describe.skipIf(!dockerThere)('app lifecycle through abra (test double, real swarm)', () => {
  let node: TestNode;
  let abraDir: string;
  let sam: Person;

  const app = () => appsFrom(node.services.model, listInstalled(abraDir)).find((a) => a.stack === STACK);
  const envText = () => readFileSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`), 'utf8');
  const serviceEnv = async () => (await execa('docker', ['service', 'inspect', `${STACK}_app`, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'])).stdout;

  beforeAll(async () => {
    await ensureTestImage();
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '90' }, { full: true });
    const steward = await addUser(node, 'sam', 'steward');
    sam = actingAs(node, await sessionFor(node, steward.username, steward.password));
  }, 60_000);

  afterAll(async () => {
    node?.close();
    await removeStack(STACK);
    const secrets = await execa('docker', ['secret', 'ls', '-q', '--filter', `name=${STACK}_`], { reject: false });
    if (secrets.stdout.trim()) await execa('docker', ['secret', 'rm', ...secrets.stdout.trim().split('\n')], { reject: false });
    rmSync(abraDir, { recursive: true, force: true });
  }, 60_000);

  it('starts with abra ready, the local server registered and the bundled recipe installed as a git checkout', async () => {
    expect(node.services.lifecycle.status()).toMatchObject({ ok: true });
    expect(existsSync(path.join(abraDir, 'servers', 'default'))).toBe(true);
    expect(await node.services.lifecycle.recipes()).toEqual([{ name: 'lores-test-app', versions: ['1.0.0+1.0', '1.1.0+1.1'] }]);
    const form = await sam.get('/install/lores-test-app?version=1.0.0%2B1.0').expect(200);
    expect(form.text).toContain('name="env.GREETING" value="world"');
    expect(form.text).toContain('What the app says hello to');
    expect(form.text).toContain('name="enable.TIMEOUT"');
    expect(form.text).toContain('name="overlay.compose.worker.yml"');
    expect(form.text).toContain('db_password');
  });

  it('refuses bad input with a 400 and runs nothing', async () => {
    const before = abraCalls(abraDir).length;
    const good = { version: '1.0.0+1.0', domain: DOMAIN, 'env.GREETING': 'hi', deploy: 'on' };
    const cases: [string, Record<string, string>, number][] = [
      ['/install/lores-test-app', { ...good, domain: 'x.org;reboot' }, 400],
      ['/install/lores-test-app', { ...good, domain: '../../etc/passwd' }, 400],
      ['/install/lores-test-app', { ...good, 'env.GREETING': 'a\nEVIL=1' }, 400],
      // '$(touch /tmp/lores-pwned)', 'x; rm -rf /' and '../../etc' were refused here once; they are ordinary text now,
      // written quoted into an env file that abra reads and no shell runs (test/unit/env-semantics.test.ts).
      ['/install/lores-test-app', { ...good, 'env.GREETING': 'a\rEVIL=1' }, 400],
      ['/install/lores-test-app', { ...good, 'env.GREETING': 'x'.repeat(10_000) }, 400],
      ['/install/lores-test-app', { ...good, 'env.NOT_DECLARED': 'x' }, 400],
      ['/install/lores-test-app', { ...good, 'overlay.compose.evil.yml': 'on' }, 400],
      ['/install/lores-test-app', { ...good, version: '1.0.0+1.0;ls' }, 400],
      ['/install/lores-test-app', { ...good, version: '9.9.9+9' }, 400],
      ['/install/..%2Fetc', good, 400],
      ['/install/no-such-recipe', good, 404],
    ];
    for (const [url, form, status] of cases) {
      const res = await sam.post(url, form);
      expect(res.status, `${url} ${JSON.stringify(form).slice(0, 120)}`).toBe(status);
      expect(res.text).not.toMatch(/at .*\.ts:\d+/);
    }
    expect(abraCalls(abraDir).length).toBe(before);
    expect(existsSync('/tmp/lores-pwned')).toBe(false);
  });

  let installJob: number;
  it('installs from the generated form: app new, settings written with comments kept, secrets generated once, deployed', async () => {
    const job = await sam.finished(await sam.post('/install/lores-test-app', {
        version: '1.0.0+1.0',
        domain: DOMAIN,
        'env.GREETING': 'friends',
        // Sent as the form pre-fills it, but its "Use" box is not ticked: not used, so not checked either.
        'env.EXTRA_DOMAINS': "', `www.lores-test-app.example.com`'",
        'overlay.compose.worker.yml': 'on',
        deploy: 'on',
      }));
    installJob = job.id;
    expect(job.state, sam.output(job.id)).toBe('succeeded');
    const env = envText();
    expect(env).toContain('TYPE=lores-test-app:1.0.0+1.0');
    expect(env).toContain(`DOMAIN=${DOMAIN}`);
    expect(env).toContain('# What the app says hello to\nGREETING=friends');
    expect(env).toContain('COMPOSE_FILE="$COMPOSE_FILE:compose.worker.yml"');
    expect(env).toContain('#TIMEOUT=120');
    expect(env).toContain('SECRET_DB_PASSWORD_VERSION=v1 # length=32');
    // The double saw exactly the calls the node makes, as argument arrays.
    const calls = abraCalls(abraDir).map((c) => c.argv.join(' '));
    expect(calls).toEqual(expect.arrayContaining([`app new lores-test-app 1.0.0+1.0 -n -o -s default -D ${DOMAIN}`, `app deploy ${DOMAIN} -n -D -o`]));

    expect(await eventually(() => app()?.status === 'running', 40_000)).toBe(true);
    expect(app()).toMatchObject({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain: DOMAIN });
    expect(app()!.services.map((s) => s.shortName).sort()).toEqual(['app', 'worker']);
    expect(await serviceEnv()).toContain('GREETING=friends');
  });

  it('shows generated secrets once, to the installer only, and never stores them', async () => {
    const page = await sam.get(`/jobs/${installJob}`).expect(200);
    expect(page.text).toContain('Show the secrets once');
    const shown = await sam.post(`/jobs/${installJob}/secrets`).expect(200);
    const value = /<dt>db_password<\/dt><dd><code>([^<]+)<\/code>/.exec(shown.text)?.[1];
    expect(value).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(shown.headers['cache-control']).toBe('no-store');
    expect((await sam.post(`/jobs/${installJob}/secrets`)).status).toBe(410);
    expect(sam.output(installJob)).not.toContain(value!);
    expect(readFileSync(path.join(node.dataDir, 'lores-node.sqlite')).includes(Buffer.from(value!))).toBe(false);
    expect((await execa('docker', ['secret', 'ls', '--format', '{{.Name}}'])).stdout).toContain(`${STACK}_db_password_v1`);
  });

  it('edits settings and redeploys with them', async () => {
    const form = await sam.get(`/apps/${STACK}/config`).expect(200);
    expect(form.text).toContain('name="env.GREETING" value="friends"');
    const job = await sam.finished(await sam.post(`/apps/${STACK}/config`, { 'env.GREETING': 'neighbours', 'overlay.compose.worker.yml': 'on', redeploy: 'on' }));
    expect(job.state, sam.output(job.id)).toBe('succeeded');
    expect(envText()).toContain('GREETING=neighbours');
    expect(await eventually(async () => (await serviceEnv()).includes('GREETING=neighbours'), 30_000)).toBe(true);
    const audit = node.services.store.audit.page({ limit: 5, action: 'app.config' })[0]!;
    expect(JSON.parse(audit.detail!).changed).toContain('GREETING');
    // The same form saved again, unchanged and without a redeploy: not logged as a change, and the page says so.
    const rows = node.services.store.audit.page({ limit: 100, action: 'app.config' }).length;
    const same = await sam.post(`/apps/${STACK}/config`, { 'env.GREETING': 'neighbours', 'overlay.compose.worker.yml': 'on' });
    expect(same.status, same.text.slice(0, 300)).toBe(303);
    expect(same.headers.location).toBe(`/apps/${STACK}/config?unchanged=1`);
    const page = await sam.get(same.headers.location!).expect(200);
    expect(page.text).toContain('Nothing changed: the settings were already like this');
    expect(node.services.store.audit.page({ limit: 100, action: 'app.config' }).length).toBe(rows);
  });

  // Was "refuses a second job on the same app while one runs" (a 409 "busy") before jobs on a busy app queued.
  it('a second job on the same app waits for the one running, then runs after it', async () => {
    const [a, b] = await Promise.all([sam.post(`/apps/${STACK}/restart`), sam.post(`/apps/${STACK}/deploy`)]);
    expect([a.status, b.status]).toEqual([303, 303]);
    const [first, second] = [jobIdFrom(a.headers.location), jobIdFrom(b.headers.location)].sort((x, y) => x - y);
    expect(node.services.store.jobs.byId(second!)!.state).toBe('queued');
    const done = [await node.services.jobs.finished(first!), await node.services.jobs.finished(second!)];
    expect(done[1]!.startedAt!).toBeGreaterThanOrEqual(done[0]!.finishedAt!);
    // The restart ran; the deploy too, and abra said what it says to a deploy of the version already there.
    const restart = done.find((j) => j.kind === 'restart')!;
    expect(restart.state, sam.output(restart.id)).toBe('succeeded');
    expect(done.find((j) => j.kind === 'deploy')!.state).not.toBe('queued');
  });

  it('upgrades with release notes and image changes shown, then rolls back', async () => {
    const page = await sam.get(`/apps/${STACK}/upgrade`).expect(200);
    expect(page.text).toContain('1.0.0+1.0 → 1.1.0+1.1');
    expect(page.text).toContain('the greeting now names the version');
    expect(page.text).toContain('lores-test/busybox:1 → lores-test/busybox:2');
    const up = await sam.finished(await sam.post(`/apps/${STACK}/upgrade`, { version: '1.1.0+1.1' }));
    expect(up.state, sam.output(up.id)).toBe('succeeded');
    expect(envText()).toContain('TYPE=lores-test-app:1.1.0+1.1');
    expect(await eventually(() => app()?.version === '1.1.0+1.1' && app()?.status === 'running', 40_000)).toBe(true);
    expect((await sam.post(`/apps/${STACK}/upgrade`, { version: '1.0.0+1.0' })).status).toBe(400); // not newer

    const back = await sam.finished(await sam.post(`/apps/${STACK}/rollback`, { version: '1.0.0+1.0' }));
    expect(back.state, sam.output(back.id)).toBe('succeeded');
    expect(await eventually(() => app()?.version === '1.0.0+1.0', 40_000)).toBe(true);
  });

  it('fails a job readably when abra fails, hangs past the timeout, or prints garbage — the node keeps going', async () => {
    setFaults(abraDir, { 'app restart': 'fail' });
    const failed = await sam.finished(await sam.post(`/apps/${STACK}/restart`));
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('injected failure');

    const short = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '5' }, { full: true });
    try {
      setFaults(abraDir, { 'app restart': 'hang' });
      const job = short.services.lifecycle.restart(DOMAIN, undefined, { name: 'sam', ip: null });
      const hung = await short.services.jobs.finished(job.id);
      expect(hung.state).toBe('failed');
      expect(hung.error).toContain('did not finish within 5 s');
      const left = await execa('pgrep', ['-f', `${ABRA_DOUBLE} app restart`], { reject: false });
      expect(left.stdout.trim(), 'the hung abra must have been killed').toBe('');
    } finally {
      short.close();
    }
    setFaults(abraDir, { 'app secret generate': 'garbage' });
    const other = `g${id}.lores.test`;
    const garbled = await node.services.jobs.finished(
      (await node.services.lifecycle.install({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain: other, deploy: false, form: {} }, { name: 'sam', ip: null, role: 'steward' })).id,
    );
    expect(garbled.state).toBe('failed');
    expect(garbled.error).toContain('not the expected JSON');
    setFaults(abraDir, {});
    const cleaned = await node.services.jobs.finished(node.services.lifecycle.remove(other, other, { name: 'sam', ip: null }).id);
    expect(cleaned.state, sam.output(cleaned.id)).toBe('succeeded');
  });

  it('undeploys, then removes only after the domain is typed, saying what goes', async () => {
    const down = await sam.finished(await sam.post(`/apps/${STACK}/undeploy`, { confirmed: '1' }));
    expect(down.state, sam.output(down.id)).toBe('succeeded');
    expect(await eventually(() => app()?.status === 'not deployed', 30_000)).toBe(true);
    const confirm = await sam.get(`/apps/${STACK}/remove`).expect(200);
    expect(confirm.text).toContain('volumes');
    expect(confirm.text).toContain('secrets');
    expect(confirm.text).toContain(`${DOMAIN}.env`);
    expect((await sam.post(`/apps/${STACK}/remove`, { confirm: 'wrong.example.org' })).status).toBe(400);
    expect(existsSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`))).toBe(true);
    const removed = await sam.finished(await sam.post(`/apps/${STACK}/remove`, { confirm: DOMAIN }));
    expect(removed.state, sam.output(removed.id)).toBe('succeeded');
    expect(existsSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`))).toBe(false);
    expect((await execa('docker', ['secret', 'ls', '--format', '{{.Name}}'])).stdout).not.toContain(`${STACK}_db_password_v1`);
    expect(app()).toBeUndefined();
    const jobs = node.services.store.audit.page({ limit: 50, action: 'job.' }).map((r) => r.action);
    expect(jobs).toEqual(expect.arrayContaining(['job.install', 'job.deploy', 'job.upgrade', 'job.rollback', 'job.undeploy', 'job.remove']));
  });
});

describe('abra missing', () => {
  it('the node still runs and the lifecycle pages say what is missing', async () => {
    const abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    const node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: '/nonexistent/abra', BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, DOCKER_SOCKET: '/nonexistent.sock' }, { full: true });
    try {
      expect(node.services.lifecycle.status()).toMatchObject({ ok: false });
      const admin = node.services.sessions.start(node.services.people.list()[0]!, { ip: '127.0.0.1', userAgent: 't' });
      const page = await supertest(node.app).get('/recipes').set('Cookie', `lores_session=${admin.token}`).expect(200);
      expect(page.text).toContain('The node cannot run abra');
      expect(page.text).toContain('ABRA_BIN');
    } finally {
      node.close();
      rmSync(abraDir, { recursive: true, force: true });
    }
  });
});
