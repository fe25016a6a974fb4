// "Check for newer versions" on the upgrade page asks the recipe checkout's origin (git), remembers when it last
// answered and what it published, and offline says "Could not reach <origin> now; last looked <date> (found versions …)".
// The origin is a local forge served by `git daemon` on 127.0.0.1 (then stopped: the same URL, refused), and
// http://127.0.0.1 on a closed port for an origin never reached.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installBundledRecipes, lookAtOrigin, recipeDir, recipeVersions } from '../../app/adapters/recipes/checkout.ts';
import { FIXTURE_RECIPES } from '../support/abra.ts';
import { ADMIN_PASSWORD, testNode, type TestNode } from '../support/app.ts';
import { within } from '../support/poll.ts';

const work = mkdtempSync(path.join(tmpdir(), 'lores-origin-check-'));
const DOMAIN = 'mini.lores.test';
const STACK = 'mini_lores_test';

/** `<dir>/<name>/<version>/` trees of the fixture recipe under another name. */
function bundle(dir: string, versions: string[]): string {
  for (const v of versions) cpSync(path.join(FIXTURE_RECIPES, 'lores-test-app', v), path.join(dir, 'mini', v), { recursive: true });
  return dir;
}

/** A port nothing listens on (taken and given back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('checking a recipe’s origin for newer versions', () => {
  let node: TestNode;
  let abraDir: string;
  let forgeUrl: string;
  let daemon: ResultPromise | undefined;
  let deadUrl: string;
  let cookie: string;
  let csrf: string;
  const setOrigin = (url: string) => execa('git', ['-C', recipeDir(abraDir, 'mini'), 'remote', 'set-url', 'origin', url]);
  const check = () => supertest(node.app).post(`/apps/${STACK}/upgrade/check`).set('Cookie', cookie).type('form').send({ _csrf: csrf });
  const upgradePage = async () => (await supertest(node.app).get(`/apps/${STACK}/upgrade`).set('Cookie', cookie).expect(200)).text;

  beforeAll(async () => {
    // The forge publishes 1.0.0 and 1.1.0; the node came with 1.0.0 only, and has it installed.
    const forge = path.join(work, 'forge');
    await installBundledRecipes(bundle(path.join(work, 'forge-src'), ['1.0.0+1.0', '1.1.0+1.1']), forge, () => {});
    const port = await closedPort();
    daemon = execa('git', ['daemon', '--export-all', '--reuseaddr', '--listen=127.0.0.1', `--port=${port}`, `--base-path=${path.join(forge, 'recipes')}`, path.join(forge, 'recipes')], { reject: false });
    forgeUrl = `git://127.0.0.1:${port}/mini`;
    await within('git daemon answers', 10_000, async () => (await execa('git', ['ls-remote', forgeUrl], { reject: false })).exitCode === 0);
    deadUrl = `http://127.0.0.1:${await closedPort()}/coop-cloud/mini.git`;
    abraDir = path.join(work, 'abra');
    await installBundledRecipes(bundle(path.join(work, 'node-src'), ['1.0.0+1.0']), abraDir, () => {});
    mkdirSync(path.join(abraDir, 'servers', 'default'), { recursive: true });
    writeFileSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`), `TYPE=mini:1.0.0+1.0\nDOMAIN=${DOMAIN}\nGREETING=world\n`);
    node = await testNode({ ABRA_DIR: abraDir });
    const s = node.services.sessions.start((await node.services.people.authenticate('admin', ADMIN_PASSWORD))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookie = `lores_session=${s.token}`;
    csrf = s.session.csrfToken;
  });
  afterAll(() => {
    daemon?.kill();
    node?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('says the node has not looked yet, and offers the check', async () => {
    const page = await upgradePage();
    expect(page).toContain('has not asked the recipe’s origin for newer versions yet');
    expect(page).toContain(`action="/apps/${STACK}/upgrade/check"`);
  });

  it('an unreachable origin that was never reached: says so, fast, and changes nothing', async () => {
    await setOrigin(deadUrl);
    const t0 = Date.now();
    expect((await check()).status).toBe(303);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const page = await upgradePage();
    expect(page).toContain(`Could not reach ${deadUrl} now`);
    expect(page).toContain('it has never been reached from this node');
    expect(await recipeVersions(abraDir, 'mini')).toEqual(['1.0.0+1.0']);
    const audit = node.services.store.audit.page({ limit: 5, action: 'recipe.check' })[0];
    expect(audit).toMatchObject({ outcome: 'failed', target: 'mini' });
  });

  it('a reachable origin: fetches the newer version, which the page then offers, and records when', async () => {
    await setOrigin(forgeUrl);
    node.clock.now = Date.parse('2026-11-30T08:15:00Z');
    expect((await check()).status).toBe(303);
    expect(await recipeVersions(abraDir, 'mini')).toEqual(['1.0.0+1.0', '1.1.0+1.1']);
    const page = await upgradePage();
    expect(page).toContain(`Looked at ${forgeUrl} 2026-11-30 08:15 UTC`);
    expect(page).toContain('found versions 1.0.0+1.0, 1.1.0+1.1');
    expect(page).toContain('data-version="1.1.0+1.1"');
  });

  it('offline afterwards: "Could not reach <origin> now; last looked <date> (found versions …)"', async () => {
    daemon!.kill();
    await daemon;
    node.clock.now = Date.parse('2026-12-02T10:00:00Z');
    expect((await check()).status).toBe(303);
    const page = await upgradePage();
    expect(page).toMatch(new RegExp(`Could not reach ${forgeUrl.replaceAll('.', '\\.')} now \\(.*?\\); last looked 2026-11-30 08:15 UTC \\([^)]*\\) \\(found versions 1\\.0\\.0\\+1\\.0, 1\\.1\\.0\\+1\\.1\\)`));
    expect(page).toContain('data-origin="unreachable"');
  });

  it('the adapter names git’s reason when the origin refuses', async () => {
    await setOrigin(deadUrl);
    await expect(lookAtOrigin(abraDir, 'mini', 10_000)).rejects.toThrow(/127\.0\.0\.1|connect|refused/i);
  });
});
