// A recipe whose .env.sample holds what real recipes hold (an apostrophe, quotes, a $ in single quotes, non-ASCII
// words, EXTRA_DOMAINS with its backticks, an overlay on by default, a commented-out one with its own secret),
// installed from the form untouched in a real Chromium: it deploys through the abra test double on the real swarm,
// and the env file differs from what `abra app new` copied only in abra's own TYPE and DOMAIN lines.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closePage, cspErrors, logIn, openPage, type BrowserPage } from '../support/browser.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { browserNode, type BrowserNode } from '../support/browser-node.ts';
import { REPO_ROOT } from '../support/server.ts';
import { ensureTestImage, removeStackAndObjects } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 600_000 });

const RECIPES = path.join(REPO_ROOT, 'test', 'fixtures', 'env-recipes');
const RECIPE = 'lores-quotes';
const SAMPLE = readFileSync(path.join(RECIPES, RECIPE, '.env.sample'), 'utf8');
const ADMIN_PASSWORD = 'env settings browser admin password';
const JOB_TIMEOUT_MS = 180_000;

const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(4).toString('hex');
const DOMAIN = `q${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');

describe.skipIf(!canRun)('settings forms take what real .env.sample files hold (Chromium, abra double, real swarm)', () => {
  let b: BrowserPage;
  let node: BrowserNode;
  let stepsDone = 0;
  const envFile = () => path.join(node.abraDir, 'servers', 'default', `${DOMAIN}.env`);
  const main = () => b.page.locator('main');

  beforeAll(async () => {
    await ensureTestImage();
    node = await browserNode({ password: ADMIN_PASSWORD, recipes: RECIPES });
    b = await openPage(15_000);
  }, 180_000);

  afterAll(async () => {
    await closePage(b ?? {});
    await node?.close();
    await removeStackAndObjects(STACK, 90_000);
  }, 180_000);

  async function jobSucceeds(kind: string): Promise<string> {
    await b.page.waitForURL(/\/jobs\/\d+$/);
    await main().getByRole('heading', { name: `${kind} · ${DOMAIN}`, level: 1 }).waitFor();
    await b.page.locator('#job-state [data-state="succeeded"], #job-state [data-state="failed"]').waitFor({ timeout: JOB_TIMEOUT_MS });
    const output = (await b.page.locator('#job-output .log-line').allTextContents()).join('\n');
    expect(await b.page.locator('#job-state [data-state]').getAttribute('data-state'), `${output}\n--- node log ---\n${node.output().slice(-3000)}`).toBe('succeeded');
    return output;
  }

  it('1. installs untouched: the form shows the values as abra reads them, and it deploys', async () => {
    const { page } = b;
    await logIn(page, node.url, { password: ADMIN_PASSWORD, from: '/login' });

    await page.goto(`${node.url}/install/${RECIPE}`);
    await page.getByRole('heading', { name: `Install ${RECIPE}`, level: 1 }).waitFor();
    const form = page.locator(`form[action="/install/${RECIPE}"][method="post"]`);
    // Fields are labelled in words ("Site name"), their variable names shown small beside them.
    const value = (label: string) => form.getByLabel(label, { exact: true }).inputValue();
    expect(await value('Site name')).toBe("Ada's Library");
    expect(await value('Motto')).toBe('Read "everything", it costs $0');
    expect(await value('City')).toBe('Bibliothèque de Saint-Étienne');
    expect(await value('Other addresses')).toBe(', `www.lores-quotes.example.com`');
    // Prose is not a setting; the aliases overlay is on as the recipe ships it; the worker's secret is not promised.
    expect(await form.locator('input[name="env.SMTP_PORT"]').count()).toBe(0);
    expect(await form.locator('input[name="overlay.compose.aliases.yml"]').isChecked()).toBe(true);
    expect(await form.locator('input[name="overlay.compose.worker.yml"]').isChecked()).toBe(false);
    expect(await form.getByText(/Secrets the app needs \(db_password\)/).count()).toBe(1);

    await form.getByLabel('Domain', { exact: true }).fill(DOMAIN);
    await form.getByRole('button', { name: 'Install', exact: true }).click();
    const output = await jobSucceeds('install');
    expect(output).toContain('Generated 1 secret(s): db_password');
    expect(output).toContain(`abra app deploy ${DOMAIN}`);

    // Only abra's own lines differ from the recipe's sample: TYPE (with the deployed version) and DOMAIN.
    const env = readFileSync(envFile(), 'utf8').split('\n');
    const sample = SAMPLE.split('\n');
    expect(env.length).toBe(sample.length);
    const differing = sample.map((l, i) => [l, env[i]]).filter(([l, e]) => l !== e);
    expect(differing).toEqual([
      [`TYPE=${RECIPE}`, `TYPE=${RECIPE}:1.0.0+1.0`],
      ['DOMAIN=lores-quotes.example.com', `DOMAIN=${DOMAIN}`],
    ]);

    // The swarm got the values as abra reads them.
    const inspect = await execa('docker', ['service', 'inspect', `${STACK}_app`, '--format', '{{json .Spec}}']);
    const spec = JSON.parse(inspect.stdout) as { TaskTemplate: { ContainerSpec: { Env: string[] } }; Labels: Record<string, string> };
    expect(spec.TaskTemplate.ContainerSpec.Env).toEqual(
      expect.arrayContaining(["SITE_NAME=Ada's Library", 'MOTTO=Read "everything", it costs $0', 'CITY=Bibliothèque de Saint-Étienne']),
    );
    expect(spec.Labels[`traefik.http.routers.${STACK}.rule`]).toBe(`Host(\`${DOMAIN}\`, \`www.lores-quotes.example.com\`)`);
    expect(spec.Labels[`traefik.http.routers.${STACK}-aliases.rule`]).toBe('Host(`aliases.invalid`, `www.lores-quotes.example.com`)');
    expect(cspErrors(b.errors)).toEqual([]);
    stepsDone = 1;
  });

  it('2. saves the settings page untouched without a word changed in the env file', async () => {
    expect(stepsDone).toBe(1);
    const before = readFileSync(envFile(), 'utf8');
    await b.page.goto(`${node.url}/apps/${STACK}/config`);
    await main().getByRole('heading', { name: `Settings of ${DOMAIN}`, level: 1 }).waitFor();
    await main().getByLabel('Redeploy with these settings now').uncheck();
    await main().getByRole('button', { name: 'Save', exact: true }).click();
    // Nothing changed: the settings page says so, and the audit log does not call it a change.
    await b.page.waitForURL(`${node.url}/apps/${STACK}/config?unchanged=1`);
    await main().getByRole('status').filter({ hasText: 'Nothing changed' }).waitFor();
    await b.page.goto(`${node.url}/audit?action=app.config`);
    expect(await main().locator('table.audit tbody tr').allTextContents()).toEqual([expect.stringContaining('Nothing recorded yet.')]);
    expect(readFileSync(envFile(), 'utf8')).toBe(before);
    stepsDone = 2;
  });

  it('3. refuses a value abra could not read back with the error beside its field, keeping what was typed', async () => {
    expect(stepsDone).toBe(2);
    const before = readFileSync(envFile(), 'utf8');
    await b.page.goto(`${node.url}/apps/${STACK}/config`);
    await main().getByRole('heading', { name: `Settings of ${DOMAIN}`, level: 1 }).waitFor();
    const impossible = `'Ada's' "Library"`;
    await main().getByLabel('Site name', { exact: true }).fill(impossible);
    await main().getByLabel('City', { exact: true }).fill('Lyon');
    await main().getByLabel('Redeploy with these settings now').uncheck();
    await main().getByRole('button', { name: 'Save', exact: true }).click();
    const error = main().locator('[id="error-env.SITE_NAME"]');
    await error.waitFor();
    expect(await error.textContent()).toContain('cannot be written so that abra reads it back');
    expect(await main().getByLabel('Site name', { exact: true }).getAttribute('aria-describedby')).toBe('error-env.SITE_NAME');
    expect(await main().getByLabel('Site name', { exact: true }).inputValue()).toBe(impossible);
    expect(await main().getByLabel('City', { exact: true }).inputValue()).toBe('Lyon');
    expect(readFileSync(envFile(), 'utf8')).toBe(before);

    // Fixed: exactly the two lines change, written so that abra reads them back as typed.
    await main().getByLabel('Site name', { exact: true }).fill(`Ada's "Little" Library`);
    await main().getByRole('button', { name: 'Save', exact: true }).click();
    await b.page.waitForURL(`${node.url}/apps/${STACK}`);
    const after = readFileSync(envFile(), 'utf8').split('\n');
    const changed = before.split('\n').map((l, i) => [l, after[i]]).filter(([l, a]) => l !== a);
    expect(changed).toEqual([
      [`SITE_NAME="Ada's Library"`, `SITE_NAME="Ada's \\"Little\\" Library"`],
      ['CITY=Bibliothèque de Saint-Étienne', 'CITY=Lyon'],
    ]);
    // The audit log says it in words, the raw JSON folded away.
    await b.page.goto(`${node.url}/audit?action=app.config`);
    const row = main().locator('table.audit tbody tr').first();
    expect((await row.locator('.audit-what').textContent())?.trim()).toBe(`Changed settings of ${DOMAIN}`);
    expect((await row.locator('.audit-detail').textContent())?.trim()).toBe('changed: SITE_NAME, CITY');
    expect(await row.locator('details').isVisible()).toBe(true);
    expect(await row.locator('details code').first().isVisible()).toBe(false);
    expect(cspErrors(b.errors)).toEqual([]);
    stepsDone = 3;
  });

  it('4. switches on the worker option: its secret is generated then, and it deploys beside the aliases overlay', async () => {
    expect(stepsDone).toBe(3);
    const before = readFileSync(envFile(), 'utf8');
    await b.page.goto(`${node.url}/apps/${STACK}/config`);
    await main().getByRole('heading', { name: `Settings of ${DOMAIN}`, level: 1 }).waitFor();
    const worker = main().locator('[data-overlay="compose.worker.yml"]');
    expect(await worker.textContent()).toContain('worker_token');
    await worker.locator('input[name="overlay.compose.worker.yml"]').check();
    await main().getByLabel('Redeploy with these settings now').check();
    await main().getByRole('button', { name: 'Save', exact: true }).click();
    const output = await jobSucceeds('deploy');
    expect(output).toContain('Generated 1 secret(s): worker_token');

    // Its whole-list COMPOSE_FILE line would drop the aliases overlay above it: it is written as an addition.
    const after = readFileSync(envFile(), 'utf8').split('\n');
    const changed = before.split('\n').map((l, i) => [l, after[i]]).filter(([l, a]) => l !== a);
    expect(changed).toEqual([
      ['#COMPOSE_FILE="compose.yml:compose.worker.yml"', 'COMPOSE_FILE="$COMPOSE_FILE:compose.worker.yml"'],
      ['#SECRET_WORKER_TOKEN_VERSION=v1 # length=24', 'SECRET_WORKER_TOKEN_VERSION=v1 # length=24'],
    ]);
    const services = await execa('docker', ['service', 'ls', '--filter', `label=com.docker.stack.namespace=${STACK}`, '--format', '{{.Name}}']);
    expect(services.stdout.split('\n').sort()).toEqual([`${STACK}_app`, `${STACK}_worker`]);
    const labels = JSON.parse((await execa('docker', ['service', 'inspect', `${STACK}_app`, '--format', '{{json .Spec.Labels}}'])).stdout) as Record<string, string>;
    expect(labels[`traefik.http.routers.${STACK}-aliases.rule`]).toBeDefined();
    expect(cspErrors(b.errors)).toEqual([]);
  });
});
