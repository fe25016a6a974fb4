// Pre-flight on the install form of the bundled Kiwix recipe: the folder starts at the node's ZIM_ROOT; a missing
// folder is said beside ZIM_FILES_PATH before abra runs, with a "Create the folder" button (a POST: CSRF, steward or
// admin, audited, only under ZIM_ROOT) that brings the form back as it was typed, with the folder there.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, abraCalls } from '../support/abra.ts';
import { haveDocker } from '../support/requirements.ts';
import { REPO_ROOT } from '../support/server.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 90_000 });
const dockerThere = await haveDocker();

describe.skipIf(!dockerThere)('pre-flight on the Kiwix install form: a missing ZIM folder, and creating it', () => {
  let node: TestNode;
  let dir: string;
  let abraDir: string;
  let zimRoot: string;
  const sessions: Record<string, { cookie: string; csrf: string }> = {};

  const as = (who: string) => ({
    get: (url: string) => supertest(node.app).get(url).set('Cookie', sessions[who]!.cookie),
    post: (url: string, form: Record<string, string>, csrf = true) =>
      supertest(node.app).post(url).set('Cookie', sessions[who]!.cookie).type('form').send({ ...(csrf ? { _csrf: sessions[who]!.csrf } : {}), ...form }),
  });
  const folderAudits = () => node.services.store.audit.page({ limit: 50, action: 'host.folder.create' });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'lores-preflight-'));
    abraDir = path.join(dir, 'abra');
    zimRoot = path.join(dir, 'zims'); // the node's ZIM_ROOT, not there yet
    mkdirSync(path.join(dir, 'elsewhere'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: path.join(REPO_ROOT, 'recipes'), ZIM_ROOT: zimRoot }, { full: true });
    for (const [name, role] of [['sam', 'steward'], ['gus', 'guest']] as const) {
      const u = await addUser(node, name, role);
      const s = node.services.sessions.start((await node.services.people.authenticate(u.username, u.password))!, { ip: '127.0.0.1', userAgent: 'test' });
      sessions[name] = { cookie: `lores_session=${s.token}`, csrf: s.session.csrfToken };
    }
  });

  afterAll(() => {
    node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the folder at ZIM_ROOT and offers to create it when it is missing', async () => {
    const form = await as('sam').get('/install/kiwix').expect(200);
    expect(form.text).toContain(`name="env.ZIM_FILES_PATH" value="${zimRoot}"`);
    expect(form.text).toContain(`The folder ${zimRoot} does not exist on this server.`);
    expect(form.text).toContain('formaction="/install/kiwix/folder"');
    expect(form.text).toContain(`Create the folder ${zimRoot}`);
  });

  it('refuses to deploy into a missing folder before abra runs, beside the field, keeping what was typed', async () => {
    const before = abraCalls(abraDir).length;
    const res = await as('sam').post('/install/kiwix', { domain: 'books.lores.test', 'env.ZIM_FILES_PATH': `${zimRoot}/books`, 'env.LETS_ENCRYPT_ENV': 'staging', deploy: 'on' });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(new RegExp(`id="error-env.ZIM_FILES_PATH"[^>]*>[\\s\\S]*The folder ${zimRoot}/books does not exist on this server\\.`));
    expect(res.text).toContain('value="books.lores.test"');
    // The certificate setting is a choice now (plain words, #21): the steward's choice stays selected.
    expect(res.text).toMatch(/<select name="env.LETS_ENCRYPT_ENV"[^>]*>.*?<option value="staging" selected>/s);
    expect(res.text).toContain(`Create the folder ${zimRoot}/books`);
    expect(abraCalls(abraDir).length).toBe(before);
  });

  it('creates it only for stewards and admins, with a CSRF token, and only under ZIM_ROOT', async () => {
    const form = { domain: 'books.lores.test', 'env.ZIM_FILES_PATH': `${zimRoot}/books`, 'env.LETS_ENCRYPT_ENV': 'staging', create_folder: 'ZIM_FILES_PATH' };
    expect((await as('gus').post('/install/kiwix/folder', form)).status).toBe(403);
    expect((await as('sam').post('/install/kiwix/folder', form, false)).status).toBe(403);
    const outside = await as('sam').post('/install/kiwix/folder', { ...form, 'env.ZIM_FILES_PATH': path.join(dir, 'elsewhere', 'x') });
    expect(outside.status).toBe(400);
    expect(outside.text).toMatch(/id="error-env.ZIM_FILES_PATH"[^>]*>[\s\S]*must be a folder under/);
    expect((await as('sam').post('/install/kiwix/folder', { ...form, create_folder: 'DOMAIN', DOMAIN: '/tmp/x' })).status).toBe(400);
    expect(existsSync(path.join(dir, 'elsewhere', 'x'))).toBe(false);
    expect(existsSync(zimRoot)).toBe(false);
  });

  it('creates the folder (0755, readable by Kiwix’s user), audited, and brings the form back as typed', async () => {
    const res = await as('sam').post('/install/kiwix/folder', { domain: 'books.lores.test', 'env.ZIM_FILES_PATH': `${zimRoot}/books`, 'env.LETS_ENCRYPT_ENV': 'staging', deploy: 'on', create_folder: 'ZIM_FILES_PATH' });
    expect(res.status).toBe(200);
    expect(res.text).toContain(`The folder ${zimRoot}/books was created.`);
    expect(res.text).toContain('value="books.lores.test"');
    expect(res.text).toContain(`name="env.ZIM_FILES_PATH" value="${zimRoot}/books"`);
    expect(res.text).not.toContain(`Create the folder ${zimRoot}/books`);
    expect(statSync(`${zimRoot}/books`).isDirectory()).toBe(true);
    expect(statSync(`${zimRoot}/books`).mode & 0o777).toBe(0o755);
    const audits = folderAudits();
    expect(audits.filter((a) => a.outcome === 'ok').map((a) => [a.actor, a.target])).toEqual([['sam', `${zimRoot}/books`]]);
    expect(audits.some((a) => a.outcome !== 'ok')).toBe(true); // the refusals above are in the log too
  });
});
