// The recipe catalogue through the real app: a local stand-in for recipes.json, merged with the bundled fixture recipe.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, loggedIn, testNode, type TestNode } from '../support/app.ts';
import { installBundledRecipes } from '../../app/adapters/recipes/checkout.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES, abraCalls } from '../support/abra.ts';
import { startCatalogueServer } from '../support/catalogue-server.ts';
import { closedAddress, pushIndex, pushSingleArch, startRegistry, type Registry } from '../support/registry.ts';
import { haveDocker } from '../support/requirements.ts';

const FIXTURE = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'catalogue', 'recipes.json'), 'utf8');
const dockerThere = await haveDocker();
const names = (html: string) => [...html.matchAll(/data-recipe="([^"]+)"/g)].map((m) => m[1]!);

describe.skipIf(!dockerThere)('recipe catalogue', () => {
  let node: TestNode;
  let abraDir: string;
  let catalogue: Awaited<ReturnType<typeof startCatalogueServer>>;
  let admin: Awaited<ReturnType<typeof loggedIn>>;
  let registry: Registry;
  let bundled: string;

  /** The fixture recipe, plus a bundled recipe (a plain recipe tree) whose only image is built for arm64. */
  function bundledRecipes(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'lores-bundled-'));
    cpSync(path.join(FIXTURE_RECIPES, 'lores-test-app'), path.join(dir, 'lores-test-app'), { recursive: true });
    mkdirSync(path.join(dir, 'armonly'));
    const compose = [
      'version: "3.8"',
      'services:',
      '  app:',
      `    image: ${registry.host}/armonly:1`,
      '    deploy:',
      '      resources: { reservations: { memory: 64M }, limits: { memory: 128M } }',
      '      labels:',
      '        - "coop-cloud.${STACK_NAME}.version=1.0.0+1"',
    ].join('\n');
    writeFileSync(path.join(dir, 'armonly', 'compose.yml'), compose);
    writeFileSync(path.join(dir, 'armonly', '.env.sample'), 'TYPE=armonly\nDOMAIN=armonly.example.com\n');
    writeFileSync(path.join(dir, 'armonly', 'README.md'), '# armonly\n\n> Only for arm64\n\n<!-- metadata -->\n* **Category**: Testing\n<!-- endmetadata -->\n');
    return dir;
  }

  /** Three more recipes whose images sit in a real local registry: multi-arch, arm64-only, and unreachable. */
  async function withRegistryRecipes(): Promise<string> {
    registry = await startRegistry();
    await pushIndex(registry, 'multi', '1', 'oci', [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }]);
    await pushSingleArch(registry, 'armonly', '1', 'arm64');
    const version = (image: string) => [{ '1.0.0+1': { app: { image, tag: '1', digest: '' } } }];
    const recipe = (description: string, image: string) => ({ category: 'Testing', description, versions: version(image) });
    return JSON.stringify({
      ...JSON.parse(FIXTURE),
      'multi-app': recipe('Built for amd64 and arm64', `${registry.host}/multi`),
      'armonly-app': recipe('Built for arm64 only', `${registry.host}/armonly`),
      'gone-app': recipe('Its registry is down', `${await closedAddress()}/gone`),
    });
  }

  beforeAll(async () => {
    const body = await withRegistryRecipes();
    catalogue = await startCatalogueServer(() => body);
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    bundled = bundledRecipes();
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: bundled, CATALOGUE_URL: catalogue.url }, { full: true });
    await node.services.catalogue.refresh(); // start() began one; this waits for it
    admin = await loggedIn(node);
  });

  afterAll(async () => {
    node?.close();
    await catalogue?.close();
    await registry?.close();
    rmSync(abraDir, { recursive: true, force: true });
    rmSync(bundled, { recursive: true, force: true });
  });

  it('lists the catalogue merged with the recipes on this node, and says how old the copy is', async () => {
    const page = await admin.agent.get('/recipes').expect(200);
    expect(names(page.text)).toEqual(['armonly', 'armonly-app', 'gitea', 'gone-app', 'kiwix', 'lores-test-app', 'matrix-synapse', 'multi-app', 'weird']);
    expect(page.text).toContain('The catalogue copy is from just now.');
    expect(page.text).toMatch(/data-recipe="lores-test-app"[\s\S]*?installs offline[\s\S]*?href="\/install\/lores-test-app"/);
    // A recipe only in the catalogue cannot be installed offline: no Install button on its card.
    expect(page.text).not.toContain('href="/install/gitea"');
  });

  it('filters by "runs on this node" from the images’ platforms, checked in the background against the real registry', async () => {
    const deadline = Date.now() + 60_000;
    let shown: string[] = [];
    // The first page starts the checks; the filter shows what has been confirmed so far.
    while (Date.now() < deadline) {
      shown = names((await admin.agent.get('/recipes?runs=on').expect(200)).text);
      if (shown.includes('multi-app') && shown.includes('lores-test-app')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    // lores-test-app's image has no registry to ask, but its copy on this node is built for this CPU.
    expect(shown).toEqual(['lores-test-app', 'multi-app']);
    const all = (await admin.agent.get('/recipes?category=Testing').expect(200)).text;
    expect(all).toMatch(/data-recipe="armonly-app"[\s\S]*?data-fit="not-for-this-cpu"[^>]*>not for this CPU: app</);
    expect(all).toMatch(/data-recipe="gone-app"[\s\S]*?data-fit="unknown"/);
    expect(all).toMatch(/data-recipe="multi-app"[\s\S]*?data-fit="runs"/);
    const arm = (await admin.agent.get('/recipes/armonly-app').expect(200)).text;
    expect(arm).toContain('no build (only arm64)');
    const local = (await admin.agent.get('/recipes/lores-test-app').expect(200)).text;
    expect(local).toMatch(/has a build|judged by the copy on this node/);
    expect(local).toMatch(/data-fit="runs"/);
    const gone = (await admin.agent.get('/recipes/gone-app').expect(200)).text;
    expect(gone).toMatch(/unknown: [^<]*refused/);
  });

  it('searches and filters by category', async () => {
    expect(names((await admin.agent.get('/recipes?q=chat').expect(200)).text)).toEqual(['matrix-synapse']);
    expect(names((await admin.agent.get('/recipes?q=wikipedia').expect(200)).text)).toEqual(['kiwix']);
    // The local recipe's README metadata gives it a category too.
    expect(names((await admin.agent.get('/recipes?category=Development').expect(200)).text)).toEqual(['gitea', 'lores-test-app']);
    const none = await admin.agent.get('/recipes?q=zzzz').expect(200);
    expect(none.text).toContain('No recipe matches.');
    await admin.agent.get(`/recipes?q=${'x'.repeat(300)}`).expect(400);
  });

  it('keeps the last good copy when the catalogue is down or answers garbage, and says so with its age', async () => {
    node.clock.advance(3 * 86_400_000);
    admin = await loggedIn(node); // the old session has ended by now
    catalogue.setMode('down');
    const refused = await admin.agent.post('/recipes/refresh').type('form').send({ _csrf: admin.csrf }).expect(303);
    // "Refresh the catalogue now" says, on the page it returns to, that it tried and why it could not.
    expect(refused.headers.location).toBe('/recipes?refreshed=failed');
    let page = await admin.agent.get(refused.headers.location!).expect(200);
    expect(page.text).toMatch(/id="refresh-result" data-outcome="failed"[^>]*>Could not refresh the catalogue: the server answered 503 Service Unavailable\. Nothing is lost: the node keeps its copy from 3 days ago\./);
    expect(names(page.text)).toContain('gitea');
    // Offline is normal for a library node: a calm note of what is known, not a red alarm.
    expect(page.text).toContain('The catalogue copy is from 3 days ago. The node could not reach the catalogue just now (the server answered 503 Service Unavailable); it keeps that copy and tries again by itself.');
    expect(page.text).toMatch(/class="alert notice" id="catalogue-age"/);
    expect(page.text).not.toContain('alert error');
    catalogue.setMode('html');
    await admin.agent.post('/recipes/refresh').type('form').send({ _csrf: admin.csrf }).expect(303);
    page = await admin.agent.get('/recipes').expect(200);
    expect(names(page.text)).toContain('matrix-synapse');
    expect(page.text).toContain('The node could not reach the catalogue just now (the catalogue is not JSON)');
    const refreshes = node.services.store.audit.page({ limit: 10, action: 'catalogue.refresh' });
    expect(refreshes.slice(0, 2).map((r) => r.outcome)).toEqual(['failed', 'failed']);
    catalogue.setMode('ok');
    const refreshed = await admin.agent.post('/recipes/refresh').type('form').send({ _csrf: admin.csrf }).expect(303);
    const fresh = (await admin.agent.get(refreshed.headers.location!).expect(200)).text;
    expect(fresh).toContain('The catalogue copy is from just now.');
    expect(fresh).toMatch(/id="refresh-result" data-outcome="ok"[^>]*>Refreshed just now: the online catalogue lists \d+ recipes\./);
  });

  it('shows a recipe page with scores and versions, and what an install of a local recipe needs', async () => {
    const gitea = await admin.agent.get('/recipes/gitea').expect(200);
    expect(gitea.text).toContain('Git with a cup of tea');
    // Its score in words (it was "4/5"): Co-op Cloud's 4 is a mature recipe.
    expect(gitea.text).toMatch(/data-maturity>mature \(4 of 5\)</);
    expect(gitea.text).toContain('1.1.0+1.22.0-rootless');
    expect(gitea.text).toContain('gitea/gitea:1.22.0-rootless');
    expect(gitea.text).toContain('abra must fetch the recipe first');
    const older = await admin.agent.get('/recipes/gitea?version=1.0.0%2B1.21.0-rootless').expect(200);
    expect(older.text).toContain('gitea/gitea:1.21.0-rootless');
    const local = await admin.agent.get('/recipes/lores-test-app').expect(200);
    expect(local.text).toContain('What an install needs');
    expect(local.text).toMatch(/free of/);
    expect(local.text).toContain('db_password');
    expect(local.text).toContain('href="/install/lores-test-app?version=1.1.0%2B1.1"');
    await admin.agent.get('/recipes/no-such').expect(404);
    await admin.agent.get('/recipes/..%2Fetc').expect(400);
    await admin.agent.get('/recipes/gitea?version=1;ls').expect(400);
  });

  it('asks for an explicit override before installing an app whose images are not built for this CPU', async () => {
    const form = await admin.agent.get('/install/armonly').expect(200);
    expect(form.text).toMatch(/data-fit="not-for-this-cpu"[^>]*>not for this CPU: app</);
    expect(form.text).toContain('name="override_arch"');
    expect(form.text).toMatch(/reserves 64 MB, may use up to 128 MB/);
    const before = abraCalls(abraDir).length;
    const refused = await admin.agent.post('/install/armonly').type('form').send({ _csrf: admin.csrf, domain: 'armonly.lores.test', version: '1.0.0+1' });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('has no build for this node’s CPU (app)');
    expect(abraCalls(abraDir).length).toBe(before);
    const denied = node.services.store.audit.page({ limit: 1, action: 'job.install' })[0]!;
    expect(denied).toMatchObject({ outcome: 'denied', target: 'armonly' });
    // With the box ticked it installs (not deployed: the image could not run here anyway), and the job says so.
    const res = await admin.agent.post('/install/armonly').type('form').send({ _csrf: admin.csrf, domain: 'armonly.lores.test', version: '1.0.0+1', override_arch: 'on' });
    expect(res.status, res.text.slice(0, 300)).toBe(303);
    const job = await node.services.jobs.finished(Number(res.headers.location!.split('/').pop()));
    expect(job.state).toBe('succeeded');
    expect(job.args).toMatchObject({ archOverride: ['app'] });
    expect(node.services.store.jobs.output(job.id).map((l) => l.line).join('\n')).toContain('Installing although app has no build for this CPU');
  });

  it('fetches a recipe that is only in the catalogue (abra recipe fetch), after which it installs like any other', async () => {
    // A local stand-in for Co-op Cloud's forge: matrix-synapse as a git repo with an annotated version tag.
    const forge = mkdtempSync(path.join(tmpdir(), 'lores-forge-'));
    const source = path.join(forge, 'src', 'matrix-synapse', '2.0.0+v1.98.0');
    cpSync(path.join(FIXTURE_RECIPES, 'lores-test-app', '1.0.0+1.0'), source, { recursive: true });
    await installBundledRecipes(path.join(forge, 'src'), forge, () => {});
    symlinkSync(path.join(forge, 'recipes', 'matrix-synapse'), path.join(forge, 'recipes', 'matrix-synapse.git'));
    process.env.ABRA_DOUBLE_GIT_BASE = `file://${path.join(forge, 'recipes')}`;
    try {
      const page = await admin.agent.get('/recipes/matrix-synapse').expect(200);
      expect(page.text).toContain('action="/recipes/matrix-synapse/fetch"');
      await admin.agent.post('/recipes/not-in-catalogue/fetch').type('form').send({ _csrf: admin.csrf }).expect(404);
      const res = await admin.agent.post('/recipes/matrix-synapse/fetch').type('form').send({ _csrf: admin.csrf }).expect(303);
      const job = await node.services.jobs.finished(Number(res.headers.location!.split('/').pop()));
      expect(job.state, node.services.store.jobs.output(job.id).map((l) => l.line).join('\n')).toBe('succeeded');
      expect(abraCalls(abraDir).map((c) => c.argv.join(' '))).toContain('recipe fetch matrix-synapse -n');
      const after = await admin.agent.get('/recipes/matrix-synapse').expect(200);
      expect(after.text).toContain('href="/install/matrix-synapse?version=2.0.0%2Bv1.98.0"');
      expect(after.text).toContain('What an install needs');
      await admin.agent.get('/install/matrix-synapse').expect(200);
    } finally {
      delete process.env.ABRA_DOUBLE_GIT_BASE;
      rmSync(forge, { recursive: true, force: true });
    }
  });

  it('lets a guest browse but not refresh', async () => {
    await addUser(node, 'gus', 'guest');
    const guest = await loggedIn(node, 'gus', 'steward password 1');
    const page = await guest.agent.get('/recipes').expect(200);
    expect(page.text).not.toContain('/recipes/refresh');
    await guest.agent.post('/recipes/refresh').type('form').send({ _csrf: guest.csrf }).expect(403);
    await supertest(node.app).get('/recipes').expect(303);
  });
});
