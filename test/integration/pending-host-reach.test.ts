// Pending changes of an app that reaches the host (a laptop's push, or settings saved without redeploying): the
// changes page names what the env file as it is now would reach, and an admin deploys them only after ticking it,
// audited with the list, as at install (#14's leftover). A steward never gets that far: the app guard refuses them.
// The abra test double, the real swarm, a real config repository.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE } from '../support/abra.ts';
import { actingAs, sessionFor, type Person } from '../support/jobs.ts';
import { HOST_FOLDER_RECIPE, HOST_FOLDER_VERSION, writeHostFolderRecipe } from '../support/host-folder-recipe.ts';
import { haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStackAndObjects } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const DOMAIN = `ph${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
const REACH = 'app: mounts the host folder /var/tmp';

describe.skipIf(!dockerThere)('deploying pending changes that reach the host (abra double, real swarm)', () => {
  let node: TestNode;
  let abraDir: string;
  let bundled: string;
  let ada: Person;
  let sam: Person;
  const jobCount = () => node.services.store.jobs.list({ limit: 1000 }).length;

  beforeAll(async () => {
    await ensureTestImage();
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    bundled = mkdtempSync(path.join(tmpdir(), 'lores-reach-recipes-'));
    writeHostFolderRecipe(bundled);
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: bundled, ABRA_TIMEOUT_SECONDS: '120' }, { full: true });
    const person = async (name: string, role: 'admin' | 'steward') => {
      const user = await addUser(node, name, role);
      return actingAs(node, await sessionFor(node, user.username, user.password));
    };
    ada = await person('ada', 'admin');
    sam = await person('sam', 'steward');
    // Installed and deployed by the admin (it binds a host folder), then a setting saved without redeploying.
    await ada.succeeded(await ada.post(`/install/${HOST_FOLDER_RECIPE}`, { version: HOST_FOLDER_VERSION, domain: DOMAIN, 'env.DATA_PATH': '/tmp', 'env.EXIT_CODE': '0', deploy: 'on', confirm_host_reach: 'on' }));
    const saved = await ada.post(`/apps/${STACK}/config`, { 'env.DATA_PATH': '/var/tmp', 'env.EXIT_CODE': '0', confirm_host_reach: 'on' });
    expect(saved.status, saved.text.slice(0, 500)).toBe(303);
  });

  afterAll(async () => {
    node?.close();
    await removeStackAndObjects(STACK);
    rmSync(abraDir, { recursive: true, force: true });
    rmSync(bundled, { recursive: true, force: true });
  });

  it('names what the pending env file reaches and asks the admin to tick it before anything runs', async () => {
    const page = (await ada.get(`/apps/${STACK}/changes`).expect(200)).text;
    expect(page).toContain('<span class="diff-add">+DATA_PATH=/var/tmp</span>');
    expect(page).toMatch(/<form method="post" action="\/apps\/[^"]+\/changes\/deploy"[\s\S]*?name="confirm_host_reach"[\s\S]*?Deploy these changes/);
    expect(page).toContain(REACH);

    const before = jobCount();
    const refused = await ada.post(`/apps/${STACK}/changes/deploy`);
    expect(refused.status).toBe(409);
    // The same page again, the refusal above it and the diff still there: no dead end.
    expect(refused.text).toContain(`${DOMAIN} with its pending changes would reach the host: ${REACH}. To go ahead, tick “I understand what this reaches on the host”.`);
    expect(refused.text).toContain('+DATA_PATH=/var/tmp');
    expect(jobCount()).toBe(before);
    expect(node.services.store.audit.page({ limit: 1, action: 'job.deploy' })[0]).toMatchObject({ actor: 'ada', outcome: 'denied' });
  });

  it('a steward is refused the app altogether; the admin’s ticked deploy runs and the confirmation is audited with the list', async () => {
    expect((await sam.post(`/apps/${STACK}/changes/deploy`, { confirm_host_reach: 'on' })).status).toBe(403);
    const job = await ada.succeeded(await ada.post(`/apps/${STACK}/changes/deploy`, { confirm_host_reach: 'on' }));
    const confirmed = node.services.store.audit.page({ limit: 1, action: 'host-reach.confirm' })[0]!;
    expect(confirmed).toMatchObject({ actor: 'ada', target: DOMAIN, outcome: 'ok' });
    expect(JSON.parse(confirmed.detail!)).toEqual({ action: 'deploy', reach: [REACH] });
    expect(job.args).toMatchObject({ reason: 'pending' });
    expect((await ada.get(`/apps/${STACK}/changes`).expect(200)).text).toContain('id="no-pending"');
  });
});
