// kill -9 of the node in the middle of a deploy: after a restart the job reads "interrupted" with the app's state now
// (live: no alarm once the app runs fine), and a job that waited behind it says it never started.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ABRA_DOUBLE, FIXTURE_RECIPES, setFaults } from '../support/abra.ts';
import { loginOverHttp, postForm } from '../support/http-login.ts';
import { haveDocker } from '../support/requirements.ts';
import { startNode, type NodeProcess } from '../support/server.ts';
import { ensureTestImage, removeStack } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

const dockerThere = await haveDocker();

describe.skipIf(!dockerThere)('a job cut off by kill -9', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'lores-jobcrash-'));
  const abraDir = path.join(tmp, 'abra');
  const passwordFile = path.join(tmp, 'pw');
  writeFileSync(passwordFile, 'job crash password\n');
  const domain = `jc${Date.now().toString(36)}.lores.test`;
  const nodes: NodeProcess[] = [];
  const env = { ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, DOCKER_SOCKET: '/var/run/docker.sock' };

  afterAll(async () => {
    for (const n of nodes) await n.kill('SIGKILL');
    await execa('pkill', ['-f', `${ABRA_DOUBLE} app deploy ${domain}`], { reject: false });
    await removeStack(domain.replaceAll('.', '_'));
    const secrets = await execa('docker', ['secret', 'ls', '-q', '--filter', `name=${domain.replaceAll('.', '_')}_`], { reject: false });
    if (secrets.stdout.trim()) await execa('docker', ['secret', 'rm', ...secrets.stdout.trim().split('\n')], { reject: false });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('marks the job interrupted after a restart and tells the app’s live state', async () => {
    await ensureTestImage();
    const first = await startNode({ adminPasswordFile: passwordFile, env });
    nodes.push(first);
    setFaults(abraDir, { 'app deploy': 'hang' });
    const auth = await loginOverHttp(first.url, 'admin', 'job crash password');
    const res = await postForm(first.url, '/install/lores-test-app', auth, { version: '1.0.0+1.0', domain, 'env.GREETING': 'x', deploy: 'on' });
    expect(res.status).toBe(303);
    const jobUrl = `${first.url}${res.headers.get('location')}`;
    const inDeploy = await eventually(async () => (await (await fetch(jobUrl, { headers: { cookie: auth.cookie } })).text()).includes('working…'), 30_000, 250);
    expect(inDeploy, 'the deploy step should be running').toBe(true);

    // A Restart asked for meanwhile waits behind the install.
    const stack = domain.replaceAll('.', '_');
    const queued = await postForm(first.url, `/apps/${stack}/restart`, auth, {});
    expect(queued.status).toBe(303);
    const queuedUrl = queued.headers.get('location')!;
    expect(await (await fetch(`${first.url}${queuedUrl}`, { headers: { cookie: auth.cookie } })).text()).toContain('data-state="queued"');

    await first.kill('SIGKILL');
    // In production the container's end takes abra with it; here the orphaned double must go by hand.
    await execa('pkill', ['-f', `${ABRA_DOUBLE} app deploy ${domain}`], { reject: false });

    const second = await startNode({ dataDir: first.dataDir, adminPasswordFile: passwordFile, env });
    nodes.push(second);
    const jobPage = async () => (await fetch(`${second.url}${res.headers.get('location')}`, { headers: { cookie: auth.cookie } })).text();
    const page = await jobPage();
    expect(page).toContain('data-state="interrupted"');
    expect(page).toContain('The node restarted while this job ran. When the node came back, the app was not deployed.'); // its output, as it was
    expect(page).toContain('Interrupted by a restart of the node.');
    expect(page).toContain('The node restarted during this job. The app is not deployed now.'); // the state box, now
    expect(page).toContain('data-summary="warn"');
    const jobs = await (await fetch(`${second.url}/jobs`, { headers: { cookie: auth.cookie } })).text();
    expect(jobs).toContain('job-interrupted');
    const waited = await (await fetch(`${second.url}${queuedUrl}`, { headers: { cookie: auth.cookie } })).text();
    expect(waited).toContain('data-state="interrupted"');
    expect(waited).toContain('Interrupted by a restart of the node before its turn came: nothing was changed.');

    // The app comes up after all (deployed from a terminal here): the same job page says so, with no alarm.
    setFaults(abraDir, {});
    await execa(ABRA_DOUBLE, ['app', 'deploy', domain, '-n', '-c'], { env: { ABRA_DIR: abraDir, ABRA_DOUBLE_REQUIRE_TTY: '0' } });
    const fine = await eventually(async () => (await jobPage()).includes('The node restarted during this job. The app is running now (1/1).'), 150_000, 1000);
    expect(fine, (await jobPage()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(-1500)).toBe(true);
    const calm = await jobPage();
    expect(calm).toContain('data-summary="ok"');
    expect(calm).toMatch(/class="badge job-interrupted calm"/);
    expect(/id="job-state"[\s\S]*?role="alert"/.test(calm.slice(0, calm.indexOf('id="job-app"')))).toBe(false);
  }, 300_000);
});
