// The forms about apps, refused (#21, #16): the install domain (not a domain, taken), the typed confirmation of a
// removal. The same page comes back with what was typed and the note beside the field; abra is not run and nothing
// changes. A domain typed as a URL is cleaned up instead. (The settings fields of these forms: env-form.test.ts;
// the ZIM search and removal: zim-library.test.ts; the other forms: forms.test.ts.)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, abraCalls } from '../support/abra.ts';
import { noteBeside, shownValue } from '../support/forms.ts';
import { within } from '../support/poll.ts';
import { haveDocker, inCI } from '../support/requirements.ts';
import { REPO_ROOT } from '../support/server.ts';

const dockerThere = await haveDocker();
if (inCI && !dockerThere) throw new Error('these tests need Docker (CI=true)');
const RECIPES = path.join(REPO_ROOT, 'test', 'fixtures', 'env-recipes');
const DOMAIN = `forms${process.pid}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');

describe.skipIf(!dockerThere)('app forms refused: the same page, as typed, the note beside the field', () => {
  let node: TestNode;
  let abraDir: string;
  let cookie: string;
  let csrf: string;
  const post = (url: string, form: Record<string, string>) => supertest(node.app).post(url).set('Cookie', cookie).type('form').send({ _csrf: csrf, ...form });
  const get = (url: string) => supertest(node.app).get(url).set('Cookie', cookie);
  const envFile = () => path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`);
  const okAudit = () => node.services.store.audit.page({ limit: 1000 }).filter((r) => r.outcome !== 'denied').length;

  beforeAll(async () => {
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: RECIPES }, { full: true });
    const steward = await addUser(node, 'sam', 'steward');
    const s = node.services.sessions.start((await node.services.people.authenticate(steward.username, steward.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    cookie = `lores_session=${s.token}`;
    csrf = s.session.csrfToken;
  }, 60_000);

  afterAll(() => {
    node?.close();
    if (abraDir) rmSync(abraDir, { recursive: true, force: true });
  });

  it('install: a domain that is not one comes back beside the field, the settings as typed; abra is not run', async () => {
    const calls = abraCalls(abraDir).length;
    const audit = okAudit();
    const res = await post('/install/lores-quotes', { version: '1.0.0+1.0', domain: 'my library', 'env.CITY': 'Bern' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('<h1>Install lores-quotes</h1>');
    expect(res.text).not.toContain('Back to the start');
    expect(shownValue(res.text, 'domain')).toBe('my library');
    expect(noteBeside(res.text, 'domain')).toMatch(/domain must be a domain name/);
    expect(shownValue(res.text, 'env.CITY')).toBe('Bern');
    expect(abraCalls(abraDir).length).toBe(calls);
    expect(okAudit()).toBe(audit);
    expect(node.services.store.jobs.list({ limit: 5 })).toEqual([]);
  });

  it('install: a domain typed as a URL is cleaned up (scheme, trailing slash, capitals) and installed', async () => {
    const res = await post('/install/lores-quotes', { version: '1.0.0+1.0', domain: `https://${DOMAIN.toUpperCase()}/` });
    expect(res.status, res.text.slice(0, 1500)).toBe(303);
    const jobId = Number(/\/jobs\/(\d+)$/.exec(res.headers.location!)![1]);
    await within('the install job ends', 60_000, () => ['succeeded', 'failed'].includes(node.services.store.jobs.byId(jobId)?.state ?? '') || undefined);
    expect(node.services.store.jobs.byId(jobId)?.state).toBe('succeeded');
    expect(existsSync(envFile())).toBe(true);
  });

  it('install: a domain already installed is said beside the field, as typed', async () => {
    const calls = abraCalls(abraDir).length;
    const res = await post('/install/lores-quotes', { version: '1.0.0+1.0', domain: DOMAIN, 'env.CITY': 'Genève' });
    expect(res.status).toBe(409);
    expect(shownValue(res.text, 'domain')).toBe(DOMAIN);
    expect(noteBeside(res.text, 'domain')).toMatch(/already installed/);
    expect(shownValue(res.text, 'env.CITY')).toBe('Genève');
    expect(abraCalls(abraDir).length).toBe(calls);
  });

  it('remove: a wrong typed confirmation comes back on the same page, beside the field; nothing is removed', async () => {
    await within('the app shows as not deployed', 30_000, async () => (await get(`/apps/${STACK}/remove`)).status === 200 || undefined);
    const calls = abraCalls(abraDir).length;
    const audit = okAudit();
    const res = await post(`/apps/${STACK}/remove`, { confirm: 'not-the-domain.example.org' });
    expect(res.status).toBe(400);
    expect(res.text).toContain(`<h1>Remove ${DOMAIN}</h1>`);
    expect(res.text).not.toContain('Back to the start');
    expect(shownValue(res.text, 'confirm')).toBe('not-the-domain.example.org');
    expect(noteBeside(res.text, 'confirm')).toMatch(new RegExp(`type the app’s domain exactly: ${DOMAIN.replaceAll('.', '\\.')}`));
    expect(existsSync(envFile())).toBe(true);
    expect(abraCalls(abraDir).length).toBe(calls);
    expect(okAudit()).toBe(audit);
    expect(node.services.store.audit.page({ limit: 1, action: 'job.remove' })[0]).toMatchObject({ outcome: 'denied' });
  });
});
