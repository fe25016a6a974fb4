// A deploy that cannot converge ends at once with the real reason, not after abra's timeout: the node watches its
// live model while abra waits (abra test double, real swarm). A bind folder that does not exist, and a crash loop.
// Pre-flight is shown too: a missing folder under ZIM_ROOT-like roots is refused before abra runs (unit-tested in
// test/unit/preflight.test.ts); here the folder lies outside the node's roots, where only the swarm can tell.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, abraCalls } from '../support/abra.ts';
import { haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStackAndObjects } from '../support/swarm.ts';
import { HOST_FOLDER_RECIPE as RECIPE, HOST_FOLDER_VERSION as VERSION, writeHostFolderRecipe } from '../support/host-folder-recipe.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const DOMAIN = `ff${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
const MISSING = `/tmp/lores-failfast-missing-${id}`;
const EMOJI = /[\u{1F300}-\u{1FAFF}\u{2600}-\u{27BF}\u{1F000}-\u{1F2FF}]/u;

describe.skipIf(!dockerThere)('a deploy that cannot converge fails fast with the real reason (abra double, real swarm)', () => {
  let node: TestNode;
  let abraDir: string;
  let bundled: string;
  let cookie: string;
  let csrf: string;

  const post = (url: string, form: Record<string, string> = {}) => supertest(node.app).post(url).set('Cookie', cookie).type('form').send({ _csrf: csrf, ...form });
  const jobOf = (res: { status: number; headers: Record<string, string>; text: string }) => {
    expect(res.status, res.text.slice(0, 800)).toBe(303);
    return Number(/^\/jobs\/(\d+)$/.exec(res.headers.location ?? '')?.[1]);
  };
  const output = (jobId: number) => node.services.store.jobs.output(jobId).map((l) => l.line).join('\n');
  /** The job's lines with when each came (wall clock, ms after the request), for a slow run's message. */
  const seen: string[] = [];
  const follow = (jobId: number, started: number) => node.services.jobs.subscribe(jobId, (e) => void (e.type === 'line' && seen.push(`+${Date.now() - started} ms ${e.line}`)));
  const timeline = () => seen.splice(0).join('\n');

  beforeAll(async () => {
    await ensureTestImage();
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    bundled = mkdtempSync(path.join(tmpdir(), 'lores-failfast-recipes-'));
    writeHostFolderRecipe(bundled);
    // abra's own wait (120 s here) is far beyond what the watch needs; its timeout must not be what ends the jobs.
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: bundled, ABRA_TIMEOUT_SECONDS: '170' }, { full: true });
    // The recipe binds a host folder: installing it is an admin's, with the host reach confirmed.
    const admin = await addUser(node, 'ada', 'admin');
    const s = node.services.sessions.start((await node.services.people.authenticate(admin.username, admin.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookie = `lores_session=${s.token}`;
    csrf = s.session.csrfToken;
  });

  afterAll(async () => {
    node?.close();
    await removeStackAndObjects(STACK);
    rmSync(abraDir, { recursive: true, force: true });
    rmSync(bundled, { recursive: true, force: true });
  });

  it('ends a deploy whose bind folder does not exist within 30 s, saying so in plain words and what to do', async () => {
    const started = Date.now();
    const jobId = jobOf(await post(`/install/${RECIPE}`, { version: VERSION, domain: DOMAIN, 'env.DATA_PATH': MISSING, 'env.EXIT_CODE': '0', deploy: 'on', confirm_host_reach: 'on' }));
    const unfollow = follow(jobId, started);
    const job = await node.services.jobs.finished(jobId);
    const elapsed = Date.now() - started;
    unfollow();
    const story = `the job took ${elapsed} ms:\n${timeline()}`;
    expect(job.state, story).toBe('failed');
    expect(job.error, story).toBe(`The folder ${MISSING} does not exist on this server. Create it on the app's settings page, or choose another folder.`);
    expect(job.error).not.toMatch(EMOJI);
    expect(output(jobId)).toContain('Stopped waiting: the swarm cannot start app.');
    expect(output(jobId)).not.toContain('timed out');
    expect(elapsed, story).toBeLessThan(30_000);
    // abra was really running (and was stopped), not skipped.
    expect(abraCalls(abraDir).some((c) => c.argv.slice(0, 2).join(' ') === 'app deploy')).toBe(true);
    console.log(`[deploy-fail-fast] missing folder: job ended in ${elapsed} ms`);
  });

  it('ends a redeploy into a crash loop with the exit code and where to look, long before abra would give up', async () => {
    const started = Date.now();
    const jobId = jobOf(await post(`/apps/${STACK}/config`, { 'env.DATA_PATH': '/tmp', 'env.EXIT_CODE': '3', redeploy: 'on', confirm_host_reach: 'on' }));
    const unfollow = follow(jobId, started);
    const job = await node.services.jobs.finished(jobId);
    const elapsed = Date.now() - started;
    unfollow();
    const story = `the job took ${elapsed} ms:\n${timeline()}`;
    expect(job.state, story).toBe('failed');
    // Whichever comes first, the watch's count of exits or abra seeing the update paused, the words are the same.
    expect(job.error, story).toMatch(/^The app's app service (keeps stopping right after it starts \(exit code 3, \d+ times\)|stopped right after it started \(exit code 3\))\. Its logs on the app's page say why; fix its settings, then deploy again\.$/);
    expect(job.error).not.toMatch(EMOJI);
    // abra's own wait is 120 s: the watch ended it well before.
    expect(elapsed, story).toBeLessThan(60_000);
    console.log(`[deploy-fail-fast] crash loop: job ended in ${elapsed} ms`);
  });
});
