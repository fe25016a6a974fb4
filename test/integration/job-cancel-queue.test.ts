// Cancelling a running job and queueing jobs on a busy app, through the pages, with the abra test double on the real
// swarm: a cancelled deploy leaves no abra process (nor its children) behind and its page says the state the app is
// left in; a Restart asked for while a deploy runs waits ("waiting for …") and runs when the deploy ends.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES, setFaults } from '../support/abra.ts';
import { haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStack } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

vi.setConfig({ testTimeout: 180_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const DOMAIN = `q${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');

/** Whether a process is still there (a zombie has ended: only its exit status is left for its parent). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    const text = readFileSync(stat, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The double running `app deploy` for this domain, its parent (`script`) and its children. */
async function deployProcesses(): Promise<{ double: number; parent: number; children: number[] } | undefined> {
  const found = await execa('pgrep', ['-f', `abra.ts app deploy ${DOMAIN}`], { reject: false });
  const double = Number(found.stdout.trim().split('\n')[0]);
  if (!double) return undefined;
  const stat = readFileSync(`/proc/${double}/stat`, 'utf8');
  const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const kids = await execa('pgrep', ['-P', String(double)], { reject: false });
  return { double, parent, children: kids.stdout.trim().split('\n').filter(Boolean).map(Number) };
}

describe.skipIf(!dockerThere)('cancel a running job, queue jobs on a busy app (test double, real swarm)', () => {
  let node: TestNode;
  let abraDir: string;
  const sessions: Record<string, { cookie: string; csrf: string }> = {};

  const post = (who: string, url: string, form: Record<string, string> = {}) =>
    supertest(node.app).post(url).set('Cookie', sessions[who]!.cookie).type('form').send({ _csrf: sessions[who]!.csrf, ...form });
  const get = (who: string, url: string) => supertest(node.app).get(url).set('Cookie', sessions[who]!.cookie);
  const jobIdFrom = (location: string | undefined) => Number(/^\/jobs\/(\d+)$/.exec(location ?? '')?.[1]);
  const output = (jobId: number) => node.services.store.jobs.output(jobId).map((l) => l.line).join('\n');
  /** Starts a job by posting its form; returns its id. */
  const start = async (who: string, url: string, form: Record<string, string> = {}) => {
    const res = await post(who, url, form);
    expect(res.status, res.text.slice(0, 500)).toBe(303);
    return jobIdFrom(res.headers.location);
  };

  beforeAll(async () => {
    await ensureTestImage();
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '120' }, { full: true });
    for (const [name, role] of [['sam', 'steward'], ['gus', 'guest']] as const) {
      const user = await addUser(node, name, role);
      const s = node.services.sessions.start((await node.services.people.authenticate(user.username, user.password))!, { ip: '127.0.0.1', userAgent: 'test' });
      sessions[name] = { cookie: `lores_session=${s.token}`, csrf: s.session.csrfToken };
    }
    // The app to act on: installed through the page, deployed on the swarm without waiting for it to converge (this
    // test is about the jobs, not about how fast a loaded machine starts a container).
    const install = await start('sam', '/install/lores-test-app', { version: '1.0.0+1.0', domain: DOMAIN, 'env.GREETING': 'queue' });
    const done = await node.services.jobs.finished(install);
    expect(done.state, output(install)).toBe('succeeded');
    await execa(ABRA_DOUBLE, ['app', 'deploy', DOMAIN, '-n', '-c'], { env: { ABRA_DIR: abraDir, ABRA_DOUBLE_REQUIRE_TTY: '0' } });
    expect(await eventually(() => [...node.services.model.services.values()].some((x) => x.stack === STACK), 60_000, 250)).toBe(true);
  }, 180_000);

  afterAll(async () => {
    setFaults(abraDir, {});
    await execa('pkill', ['-f', `${ABRA_DOUBLE} app deploy ${DOMAIN}`], { reject: false });
    node?.close();
    await removeStack(STACK);
    const secrets = await execa('docker', ['secret', 'ls', '-q', '--filter', `name=${STACK}_`], { reject: false });
    if (secrets.stdout.trim()) await execa('docker', ['secret', 'rm', ...secrets.stdout.trim().split('\n')], { reject: false });
    rmSync(abraDir, { recursive: true, force: true });
  }, 60_000);

  it('a Restart asked for during a deploy waits for it; cancelling the deploy stops abra’s whole tree, says the app’s state, and the Restart runs', async () => {
    setFaults(abraDir, { 'app deploy': 'hang-with-child' });
    const deploy = await start('sam', `/apps/${STACK}/deploy`);
    expect(await eventually(() => output(deploy).includes('waiting on a child process'), 30_000, 100), output(deploy)).toBe(true);
    const procs = await deployProcesses();
    expect(procs, 'the double should be running the deploy').toBeDefined();
    expect(procs!.children.length, 'the double’s own child process').toBeGreaterThan(0);
    const tree = [procs!.double, procs!.parent, ...procs!.children];
    expect(tree.every(alive)).toBe(true);

    // Restart while the deploy runs: queued, not a Conflict page.
    const restart = await start('sam', `/apps/${STACK}/restart`);
    expect(restart).toBeGreaterThan(deploy);
    const waitingPage = (await get('sam', `/jobs/${restart}`).expect(200)).text;
    expect(waitingPage).toContain('data-state="queued"');
    expect(waitingPage).toContain(`Waiting for job ${deploy}, deploy of ${DOMAIN} to end; it starts then.`);
    expect(waitingPage).toContain(`action="/jobs/${restart}/cancel"`);
    const list = (await get('sam', '/jobs').expect(200)).text;
    expect(list).toMatch(new RegExp(`data-job="${restart}"[\\s\\S]*?>waiting</span>[\\s\\S]*?data-waiting>Waiting for job ${deploy}, deploy`));
    expect(list).toContain(`action="/jobs/${deploy}/cancel"`);

    // The running deploy's page offers Cancel to the steward, not to a guest, who is refused (and audited).
    expect((await get('sam', `/jobs/${deploy}`).expect(200)).text).toContain(`action="/jobs/${deploy}/cancel"`);
    expect((await get('gus', `/jobs/${deploy}`).expect(200)).text).not.toContain('/cancel"');
    await post('gus', `/jobs/${deploy}/cancel`).expect(403);
    await post('sam', `/jobs/${deploy}/cancel`, { _csrf: 'wrong' }).expect(403);
    expect(node.services.store.jobs.byId(deploy)!.state).toBe('running');

    setFaults(abraDir, {}); // the restart after it must not hang
    const cancelled = await post('sam', `/jobs/${deploy}/cancel`);
    expect(cancelled.status).toBe(303);
    expect(cancelled.headers.location).toBe(`/jobs/${deploy}`);
    // The request waited for the job to let go: abra, its pty's `script` and abra's own child are gone already.
    expect(node.services.store.jobs.byId(deploy)).toMatchObject({ state: 'cancelled', error: 'Cancelled by sam.' });
    expect(tree.filter(alive), `still running: ${tree.filter(alive).join(', ')}`).toEqual([]);
    expect(output(deploy)).toMatch(/The app was left as the swarm had it: \w+, \d+\/1 running\./);
    const page = (await get('sam', `/jobs/${deploy}`).expect(200)).text;
    expect(page).toContain('data-state="cancelled"');
    expect(page).toContain('Cancelled by sam.');
    // The hung deploy changed nothing: the app runs as before, and the page says so, without an alarm.
    expect(page).toMatch(/The app is running now \(1\/1\)\.|The app is left as the swarm has it now: \w+, \d+\/1 running\. Deploy again or stop it\./);
    expect(page).not.toContain(`action="/jobs/${deploy}/cancel"`);
    const audit = node.services.store.audit.page({ limit: 20 });
    expect(audit.find((a) => a.action === 'job.cancel' && a.outcome === 'ok')).toMatchObject({ actor: 'sam', target: STACK });
    expect(audit.find((a) => a.action === 'job.cancel' && a.outcome === 'denied')).toMatchObject({ actor: 'gus' });

    // The Restart it waited for starts now, and runs.
    const restarted = await node.services.jobs.finished(restart);
    expect(restarted.state, output(restart)).toBe('succeeded');
    expect((await get('sam', `/jobs/${restart}`).expect(200)).text).toContain('data-state="succeeded"');
  });

  it('a queued job cancelled from the jobs list never runs; the running one is cancelled after it', async () => {
    setFaults(abraDir, { 'app deploy': 'hang' });
    const deploy = await start('sam', `/apps/${STACK}/deploy`);
    expect(await eventually(() => output(deploy).includes('working…'), 30_000, 100)).toBe(true);
    const restart = await start('sam', `/apps/${STACK}/restart`);
    const calls = () => readFileSync(path.join(abraDir, '.double-calls.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"restart"')).length;
    const restartsBefore = calls();
    const res = await post('sam', `/jobs/${restart}/cancel`, { back: 'list' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/jobs');
    expect(node.services.store.jobs.byId(restart)).toMatchObject({ state: 'cancelled', error: 'Cancelled by sam before it started: nothing was changed.' });
    const page = (await get('sam', `/jobs/${restart}`).expect(200)).text;
    expect(page).toContain('Cancelled by sam before it started: nothing was changed.');
    setFaults(abraDir, {});
    await post('sam', `/jobs/${deploy}/cancel`).expect(303);
    expect(node.services.store.jobs.byId(deploy)!.state).toBe('cancelled');
    expect(calls()).toBe(restartsBefore); // the cancelled restart never ran abra
    await post('sam', `/jobs/${deploy}/cancel`).expect(409); // ended: nothing to cancel
  });

  it('settings saved during a deploy wait their turn as a job, then go into the env file as it is then and are deployed', async () => {
    const envFile = path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`);
    const greeting = () => /^GREETING=(.*)$/m.exec(readFileSync(envFile, 'utf8'))?.[1];
    // A change saved without deploying: pending on the app's Changes page while the deploy below runs.
    await post('sam', `/apps/${STACK}/config`, { 'env.GREETING': `pending ${id}` }).expect(303);
    const before = greeting();
    setFaults(abraDir, { 'app deploy': 'hang' });
    const deploy = await start('sam', `/apps/${STACK}/deploy`);
    expect(await eventually(() => output(deploy).includes('working…'), 30_000, 100)).toBe(true);

    // The settings page says a save will wait.
    expect((await get('sam', `/apps/${STACK}/config`).expect(200)).text).toMatch(/data-busy>A “deploy” job is running on this app: your save waits for it to end/);
    // The Changes page offers the deploy (it would queue) but not Discard, which would rewrite the file under the job.
    const changes = (await get('sam', `/apps/${STACK}/changes`).expect(200)).text;
    expect(changes).toContain(`+GREETING=&quot;pending ${id}&quot;`);
    expect(changes).toMatch(/data-busy>A “deploy” job is running on this app: a deploy waits for it to end, then runs.\s+Discard is offered again once it has ended/);
    expect(changes).toContain('/changes/deploy');
    expect(changes).not.toContain('/changes/discard');
    // Saving with "redeploy" while the deploy runs: a job that waits, not a Conflict page; nothing written yet.
    const redeploy = await start('sam', `/apps/${STACK}/config`, { 'env.GREETING': `later ${id}`, redeploy: 'on' });
    // Saving without redeploying: also a job of its own behind both, so two writes of the env file never cross.
    const saveOnly = await start('sam', `/apps/${STACK}/config`, { 'env.GREETING': `last ${id}` });
    expect(node.services.store.jobs.byId(redeploy)).toMatchObject({ kind: 'deploy', state: 'queued' });
    expect(node.services.store.jobs.byId(saveOnly)).toMatchObject({ kind: 'settings', state: 'queued' });
    expect(greeting()).toBe(before);
    const waiting = (await get('sam', `/jobs/${redeploy}`).expect(200)).text;
    expect(waiting).toContain(`Waiting for job ${deploy}, deploy of ${DOMAIN} to end; it starts then.`);
    expect((await get('sam', `/jobs/${saveOnly}`).expect(200)).text).toContain(`Waiting for job ${redeploy}, deploy of ${DOMAIN} to end; it starts then.`);
    // A guest may not queue a change either.
    await post('gus', `/apps/${STACK}/config`, { 'env.GREETING': 'guest' }).expect(403);

    setFaults(abraDir, {});
    await post('sam', `/jobs/${deploy}/cancel`).expect(303);
    const deployed = await node.services.jobs.finished(redeploy);
    expect(deployed.state, output(redeploy)).toBe('succeeded');
    expect(output(redeploy)).toContain(`Saved the settings of ${DOMAIN}: GREETING.`);
    expect(output(redeploy)).toContain(`abra app deploy ${DOMAIN} --force`);
    const saved = await node.services.jobs.finished(saveOnly);
    expect(saved.state, output(saveOnly)).toBe('succeeded');
    expect(output(saveOnly)).not.toContain('abra app deploy');
    expect(greeting()).toBe(`"last ${id}"`); // a value with a space, quoted as abra reads it
    const audit = node.services.store.audit.page({ limit: 30 }).filter((a) => a.action === 'app.config' && a.outcome === 'ok');
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });
});
