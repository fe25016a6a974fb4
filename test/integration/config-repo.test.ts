// The abra config shared through git: the node's server directory as a repository, cloned, pulled and pushed by
// a "laptop" (a second ABRA_DIR, the abra test double, the real git client over the node's smart HTTP), with
// real deploys on the swarm.
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listInstalled } from '../../app/adapters/abra/app-env.ts';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';
import { actingAs, sessionFor, type Person } from '../support/jobs.ts';
import { haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStackAndObjects } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 240_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const NODE_DOMAIN = 'lores.test';
const A = `a${id}.${NODE_DOMAIN}`; // installed on the node's page
const B = `b${id}.${NODE_DOMAIN}`; // deployed from the laptop
const stackOf = (d: string) => d.replaceAll('.', '_');

describe.skipIf(!dockerThere)('config repository shared with laptops (real git, abra double, real swarm)', () => {
  let node: TestNode;
  let server: Server;
  let base: string;
  let abraDir: string;
  let laptop: string; // the laptop's ABRA_DIR
  let home: string; // an empty HOME for git: no global config, no credential helper
  let sam: Person;
  const tokens: Record<string, string> = {};
  const secretValues: string[] = [];

  const repoUrl = (user: string, token: string) => `${base.replace('://', `://${user}:${token}@`)}/git/servers.git`;
  const gitEnv = () => ({ HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'sam on laptop', GIT_AUTHOR_EMAIL: 'sam@laptop.example', GIT_COMMITTER_NAME: 'sam on laptop', GIT_COMMITTER_EMAIL: 'sam@laptop.example', LC_ALL: 'C' });
  const git = (cwd: string, args: string[]) => execa('git', args, { cwd, env: gitEnv(), reject: false });
  const laptopRepo = () => path.join(laptop, 'servers', 'default');
  const abraOnLaptop = (args: string[]) => execa(ABRA_DOUBLE, args, { env: { ABRA_DIR: laptop, ABRA_DOUBLE_REQUIRE_TTY: '0' }, reject: false });
  const nodeGit = (args: string[]) => execa('git', ['--git-dir', node.services.configRepo.gitDir, ...args], { env: gitEnv() });
  const serviceEnv = async (stack: string) => (await execa('docker', ['service', 'inspect', `${stack}_app`, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'])).stdout;
  const commitAndPush = async (message: string) => {
    await git(laptopRepo(), ['add', '-A']);
    expect((await git(laptopRepo(), ['commit', '-q', '-m', message])).exitCode).toBe(0);
    return git(laptopRepo(), ['push', '-q', 'origin', 'main']);
  };

  beforeAll(async () => {
    await ensureTestImage();
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    laptop = mkdtempSync(path.join(tmpdir(), 'lores-laptop-'));
    home = mkdtempSync(path.join(tmpdir(), 'lores-home-'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '90', NODE_DOMAIN }, { full: true });
    server = createServer(node.app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const steward = await addUser(node, 'sam', 'steward');
    await addUser(node, 'gina', 'guest');
    sam = actingAs(node, await sessionFor(node, steward.username, steward.password));
    const people = node.services.people.list();
    for (const [name, label] of [['sam', 'laptop'], ['gina', 'look only'], ['sam', 'old laptop']] as const) {
      tokens[`${name}:${label}`] = node.services.accessTokens.create(people.find((p) => p.username === name)!.id, label, 'admin').token;
    }
  }, 90_000);

  afterAll(async () => {
    server?.close();
    node?.close();
    for (const d of [A, B]) await removeStackAndObjects(stackOf(d));
    for (const dir of [abraDir, laptop, home]) if (dir) rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  it('keeps the server directory in git: the node’s domain in lores.toml, and an install on the page committed by its steward', async () => {
    const job = await sam.succeeded(await sam.post('/install/lores-test-app', { version: '1.0.0+1.0', domain: A, 'env.GREETING': 'from the page', deploy: 'on' }));
    secretValues.push(...(node.services.lifecycle.takeSecrets(job.id, 'sam') ?? []).map((x) => x.value));
    expect(secretValues.length).toBeGreaterThan(0);
    const log = (await nodeGit(['log', '--format=%an <%ae>|%s', 'main'])).stdout.split('\n');
    expect(log[0]).toBe(`sam <sam@${NODE_DOMAIN}>|Install ${A}: lores-test-app 1.0.0+1.0, deployed`);
    expect((await nodeGit(['show', 'main:lores.toml'])).stdout).toContain(`domain = "${NODE_DOMAIN}"`);
  });

  it('lets a laptop clone with a token, deploy an app with abra, and push it: the node then offers its upgrade', async () => {
    expect((await git(laptop, ['clone', '-q', repoUrl('sam', tokens['sam:laptop']!), laptopRepo()])).exitCode).toBe(0);
    expect(readFileSync(path.join(laptopRepo(), 'lores.toml'), 'utf8')).toContain(`domain = "${NODE_DOMAIN}"`);
    expect(readFileSync(path.join(laptopRepo(), `${A}.env`), 'utf8')).toContain('GREETING="from the page"');
    // The laptop's own recipe checkout, as `abra recipe fetch` would make it.
    mkdirSync(path.join(laptop, 'recipes'));
    expect((await git(laptop, ['clone', '-q', path.join(abraDir, 'recipes', 'lores-test-app'), path.join(laptop, 'recipes', 'lores-test-app')])).exitCode).toBe(0);

    expect((await abraOnLaptop(['app', 'new', 'lores-test-app', '1.0.0+1.0', '-n', '-s', 'default', '-D', B])).exitCode).toBe(0);
    const generated = await abraOnLaptop(['app', 'secret', 'generate', B, '--all', '-m']);
    expect(generated.exitCode, generated.stderr).toBe(0);
    secretValues.push(...(JSON.parse(generated.stdout) as { value: string }[]).map((x) => x.value));
    const deployed = await abraOnLaptop(['app', 'deploy', B, '-n']);
    expect(deployed.exitCode, deployed.stderr).toBe(0);
    const pushed = await commitAndPush(`Deploy ${B} from my laptop`);
    expect(pushed.exitCode, pushed.stderr).toBe(0);

    expect(listInstalled(abraDir).map((a) => a.domain)).toContain(B);
    const upgrade = await sam.get(`/apps/${stackOf(B)}/upgrade`).expect(200);
    expect(upgrade.text).toContain('1.1.0+1.1');
    const changes = await sam.get(`/apps/${stackOf(B)}/changes`).expect(200);
    expect(changes.text).toContain('id="no-pending"');
    expect(changes.text).toContain(`Deploy ${B} from my laptop`);
  });

  it('manages the laptop’s app like its own: an upgrade on the page reaches the laptop’s next pull, authored by the steward', async () => {
    await sam.succeeded(await sam.post(`/apps/${stackOf(B)}/upgrade`, { version: '1.1.0+1.1' }));
    expect(await serviceEnv(stackOf(B))).toBeTruthy();
    expect((await git(laptopRepo(), ['pull', '-q', '--ff-only'])).exitCode).toBe(0);
    expect(readFileSync(path.join(laptopRepo(), `${B}.env`), 'utf8')).toContain('TYPE=lores-test-app:1.1.0+1.1');
    const last = (await git(laptopRepo(), ['log', '-1', '--format=%an <%ae>|%s'])).stdout;
    expect(last).toBe(`sam <sam@${NODE_DOMAIN}>|Upgrade ${B} from 1.0.0+1.0 to 1.1.0+1.1`);
  });

  it('shows a laptop’s edit as pending changes, deploys them as a job, and keeps who did what', async () => {
    const envFile = path.join(laptopRepo(), `${A}.env`);
    writeFileSync(envFile, readFileSync(envFile, 'utf8').replace(/^GREETING=.*$/m, 'GREETING=hello from the laptop'));
    const pushed = await commitAndPush(`Greet from the laptop on ${A}`);
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    expect(readFileSync(path.join(abraDir, 'servers', 'default', `${A}.env`), 'utf8')).toContain('GREETING=hello from the laptop');

    const changes = await sam.get(`/apps/${stackOf(A)}/changes`).expect(200);
    expect(changes.text).toContain('<span class="diff-del">-GREETING=&quot;from the page&quot;</span>');
    expect(changes.text).toContain('<span class="diff-add">+GREETING=hello from the laptop</span>');
    expect(changes.text).toContain('Deploy these changes');
    expect(await serviceEnv(stackOf(A))).toContain('GREETING=from the page');

    await sam.succeeded(await sam.post(`/apps/${stackOf(A)}/changes/deploy`));
    expect(await serviceEnv(stackOf(A))).toContain('GREETING=hello from the laptop');
    const after = await sam.get(`/apps/${stackOf(A)}/changes`).expect(200);
    expect(after.text).toContain('id="no-pending"');
    const history = (await nodeGit(['log', '--format=%an|%s', 'main', '--', `${A}.env`])).stdout.split('\n').filter(Boolean);
    expect(history).toEqual([`sam on laptop|Greet from the laptop on ${A}`, `sam|Install ${A}: lores-test-app 1.0.0+1.0, deployed`]);
    expect(after.text).toContain(`Greet from the laptop on ${A}`);
  });

  it('discards pending changes as a commit by the person who discarded them', async () => {
    await git(laptopRepo(), ['pull', '-q', '--ff-only']);
    const envFile = path.join(laptopRepo(), `${A}.env`);
    writeFileSync(envFile, readFileSync(envFile, 'utf8').replace(/^GREETING=.*$/m, 'GREETING=never deployed'));
    expect((await commitAndPush('An edit to throw away')).exitCode).toBe(0);
    expect((await sam.get(`/apps/${stackOf(A)}/changes`)).text).toContain('+GREETING=never deployed');
    const res = await sam.post(`/apps/${stackOf(A)}/changes/discard`);
    expect(res.status).toBe(303);
    expect(readFileSync(path.join(abraDir, 'servers', 'default', `${A}.env`), 'utf8')).toContain('GREETING=hello from the laptop');
    expect((await nodeGit(['log', '-1', '--format=%an|%s', 'main'])).stdout.trim()).toBe(`sam|Discard pending changes to ${A}`);
  });

  it('refuses a push over changes made on the page since, by git’s own non-fast-forward rule, telling the operator to pull', async () => {
    // The laptop has not pulled the discard: its next push is behind the node's main.
    const envFile = path.join(laptopRepo(), `${B}.env`);
    appendFileSync(envFile, '# a note from the laptop\n');
    const refused = await commitAndPush('A change on a stale copy');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/rejected/);
    expect(refused.stderr).toMatch(/pull/);
    const pulled = await git(laptopRepo(), ['pull', '-q', '--no-rebase', '--no-edit']);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    const again = await git(laptopRepo(), ['push', '-q', 'origin', 'main']);
    expect(again.exitCode, again.stderr).toBe(0);
  });

  it('refuses a push with a secret-looking value or a file outside the server directory, with the reason', async () => {
    const envFile = path.join(laptopRepo(), `${B}.env`);
    appendFileSync(envFile, 'SMTP_PASSWORD=correct-horse-battery-staple\n');
    const secret = await commitAndPush('Oops, a password');
    expect(secret.exitCode).not.toBe(0);
    expect(secret.stderr).toContain('LoRes Node refused this push');
    expect(secret.stderr).toMatch(/SMTP_PASSWORD holds a secret-looking value/);
    await git(laptopRepo(), ['reset', '-q', '--hard', 'origin/main']);

    mkdirSync(path.join(laptopRepo(), 'scripts'));
    writeFileSync(path.join(laptopRepo(), 'scripts', 'run.sh'), 'echo hi\n');
    const outside = await commitAndPush('A script');
    expect(outside.exitCode).not.toBe(0);
    expect(outside.stderr).toMatch(/scripts\/run\.sh is outside the server directory/);
    await git(laptopRepo(), ['reset', '-q', '--hard', 'origin/main']);

    writeFileSync(path.join(laptopRepo(), 'lores.toml'), '[node]\ndomain = "evil.example"\n');
    const nodeFile = await commitAndPush('Move the node');
    expect(nodeFile.exitCode).not.toBe(0);
    expect(nodeFile.stderr).toMatch(/lores\.toml is written by the node/);
    await git(laptopRepo(), ['reset', '-q', '--hard', 'origin/main']);
    rmSync(path.join(laptopRepo(), 'scripts'), { recursive: true, force: true });
  });

  it('lets a guest pull but not push, and a revoked token neither', async () => {
    const guestCopy = path.join(laptop, 'guest-copy');
    expect((await git(laptop, ['clone', '-q', repoUrl('gina', tokens['gina:look only']!), guestCopy])).exitCode).toBe(0);
    appendFileSync(path.join(guestCopy, `${B}.env`), '# guest was here\n');
    await git(guestCopy, ['commit', '-qam', 'guest edit']);
    const push = await git(guestCopy, ['push', '-q', 'origin', 'main']);
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/403/);

    const old = tokens['sam:old laptop']!;
    expect((await git(laptop, ['ls-remote', repoUrl('sam', old)])).exitCode).toBe(0);
    const row = node.services.accessTokens.list().find((t) => t.label === 'old laptop')!;
    node.services.accessTokens.revoke(row.id);
    const after = await git(laptop, ['ls-remote', repoUrl('sam', old)]);
    expect(after.exitCode).not.toBe(0);
    expect(after.stderr).toMatch(/Authentication failed|401/);
    // Someone else's token under sam's name does not work either.
    expect((await git(laptop, ['ls-remote', repoUrl('sam', tokens['gina:look only']!)])).exitCode).not.toBe(0);
  });

  it('never lets a generated secret value into the history, and audits pushes and refusals', async () => {
    const history = (await nodeGit(['log', '-p', '--all'])).stdout;
    expect(history.length).toBeGreaterThan(1000);
    expect(secretValues.length).toBeGreaterThanOrEqual(2);
    for (const value of secretValues) expect(history).not.toContain(value);
    const audit = node.services.store.audit.page({ limit: 200, action: 'config-repo.' });
    const seen = (action: string, outcome: string) => audit.filter((e) => e.action === action && e.outcome === outcome).length;
    expect(seen('config-repo.push', 'ok')).toBeGreaterThanOrEqual(3);
    expect(seen('config-repo.push', 'denied')).toBeGreaterThanOrEqual(4); // stale, secret, outside, lores.toml, guest
    expect(seen('config-repo.auth', 'denied')).toBeGreaterThanOrEqual(2);
    expect(seen('config-repo.pull', 'ok')).toBeGreaterThanOrEqual(2);
  });
});
