// The install form refused field by field: shown again (400) with each error beside its field and everything the
// steward typed kept, the refusal audited, and abra never run. No deploy: the abra double only answers start-up.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE, abraCalls } from '../support/abra.ts';
import { haveDocker } from '../support/requirements.ts';
import { REPO_ROOT } from '../support/server.ts';

const dockerThere = await haveDocker();
const RECIPES = path.join(REPO_ROOT, 'test', 'fixtures', 'env-recipes');

describe.skipIf(!dockerThere)('the install form, refused beside its fields', () => {
  let node: TestNode;
  let abraDir: string;
  let cookie: string;
  let csrf: string;
  const post = (url: string, form: Record<string, string>) => supertest(node.app).post(url).set('Cookie', cookie).type('form').send({ _csrf: csrf, ...form });

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

  it('shows the form again with the error beside the field and the typed values kept; runs nothing', async () => {
    const before = abraCalls(abraDir).length;
    const res = await post('/install/lores-quotes', {
      version: '1.0.0+1.0',
      domain: 'kept.lores.test',
      'env.SITE_NAME': 'two\nlines',
      'env.CITY': 'Zürich',
      'env.MOTTO': `'it's' "x"`,
      'overlay.compose.worker.yml': 'on',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('<h1>Install lores-quotes</h1>');
    expect(res.text).toMatch(/id="error-env\.SITE_NAME" role="alert"><code>SITE_NAME<\/code> must fit on one line/);
    expect(res.text).toMatch(/id="error-env\.MOTTO" role="alert"><code>MOTTO<\/code> cannot be written so that abra reads it back/);
    expect(res.text).not.toContain('id="error-env.CITY"');
    expect(res.text).toContain('name="env.CITY" value="Zürich"');
    expect(res.text).toContain('name="env.MOTTO" value="&#39;it&#39;s&#39; &quot;x&quot;"');
    expect(res.text).toContain('name="domain" value="kept.lores.test"');
    expect(res.text).toMatch(/name="overlay\.compose\.worker\.yml" checked/);
    expect(res.text).toMatch(/name="deploy">/); // left unticked as sent
    expect(abraCalls(abraDir).length).toBe(before);
    const audit = node.services.store.audit.page({ limit: 1, action: 'job.install' })[0]!;
    expect(audit.outcome).toBe('denied');
  });

  it('still refuses names the recipe does not declare with an error page', async () => {
    const res = await post('/install/lores-quotes', { version: '1.0.0+1.0', domain: 'x.lores.test', 'env.NOT_DECLARED': 'x' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('is not a setting of this recipe');
  });
});
