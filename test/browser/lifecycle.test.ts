// The whole app lifecycle in a real Chromium against the real node process, the abra test double and the real
// swarm, clicked through like a person would: install, settings, upgrade, rollback, undeploy, remove.
// The same flow as test/integration/lifecycle.test.ts, seen from the browser.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FIXTURE_RECIPES } from '../support/abra.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { closePage, cspErrors, logIn, openPage, type BrowserPage } from '../support/browser.ts';
import { browserNode, type BrowserNode } from '../support/browser-node.ts';
import { REPO_ROOT } from '../support/server.ts';
import { ensureTestImage, removeStack } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

// Each step deploys for real and waits for the swarm to converge, on a machine other tests keep busy.
vi.setConfig({ testTimeout: 600_000 });

const ADMIN_PASSWORD = 'lifecycle browser admin password';
const ACTION_TIMEOUT_MS = 15_000;
/** How long one abra job may take: a real deploy that waits for convergence on a loaded daemon. */
const JOB_TIMEOUT_MS = 180_000;
/** How long an open page may take to show what the swarm already did (the live model plus Docker's own lag). */
const LIVE_TIMEOUT_MS = 60_000;

const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(4).toString('hex');
const DOMAIN = `b${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
const RECIPE = 'lores-test-app';
const RELEASE_NOTES = readFileSync(path.join(FIXTURE_RECIPES, RECIPE, '1.1.0+1.1', 'release', '1.1.0+1.1'), 'utf8').trim();

/** Matches an element whose whole text is `text`. */
const exactly = (text: string) => new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);

describe.skipIf(!canRun)('app lifecycle in a real browser (abra test double, real swarm)', () => {
  let b: BrowserPage;
  let page: Page;
  let context: BrowserContext;
  let errors: string[] = [];
  let node: BrowserNode;
  /** Each step needs the ones before it; once one fails, the rest say so instead of failing confusingly. */
  let stepsDone = 0;

  const envFile = () => path.join(node.abraDir, 'servers', 'default', `${DOMAIN}.env`);
  const serviceEnv = async () =>
    (await execa('docker', ['service', 'inspect', `${STACK}_app`, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'], { reject: false })).stdout;
  const main = () => page.locator('main');
  const nav = () => page.getByRole('navigation', { name: 'Main' });

  /** Marks the current document; a full reload or a new document would drop the mark. */
  const mark = () => page.evaluate('window.__lifecycleMark = 1');
  const marked = () => page.evaluate<unknown>('window.__lifecycleMark');

  function needs(step: number): void {
    expect(stepsDone, `needs step ${step} to have passed`).toBeGreaterThanOrEqual(step);
  }

  /**
   * On a job page just reached by a form post: waits, without touching the page, until the job ends as the
   * live stream shows it. Checks that it was still going when the page came, that at least one output line
   * arrived over the stream, and that the page then holds exactly the lines a fresh render has.
   */
  async function watchJob(kind: string): Promise<{ jobUrl: string; streamed: number }> {
    // Either the job page comes, or the node refuses and says why.
    const refusal = main().getByRole('alert').first();
    await Promise.race([page.waitForURL(/\/jobs\/\d+$/), refusal.waitFor()]);
    if (!/\/jobs\/\d+$/.test(page.url())) throw new Error(`no ${kind} job started; ${page.url()} says: ${await refusal.textContent()}`);
    const jobUrl = page.url();
    await main().getByRole('heading', { name: `${kind} · ${DOMAIN}`, level: 1 }).waitFor();
    const lines = page.locator('#job-output .log-line');
    const badge = page.locator('#job-state [data-state]');
    const before = await lines.count();
    const firstState = await badge.getAttribute('data-state');
    await mark();

    await page.locator('#job-state [data-state="succeeded"], #job-state [data-state="failed"]').waitFor({ timeout: JOB_TIMEOUT_MS });
    const output = (await lines.allTextContents()).join('\n');
    const state = await badge.getAttribute('data-state');
    const reason = await page.locator('#job-state [role="alert"]').allTextContents();
    expect(state, `${kind} job ${jobUrl} ended ${state}: ${reason.join(' ')}\n${output}\n--- node log ---\n${node.output().slice(-4000)}`).toBe('succeeded');
    expect(await marked(), 'the job page was reloaded instead of updated live').toBe(1);
    expect(page.url()).toBe(jobUrl);
    expect(['queued', 'running'], `the ${kind} job had already ended when its page came, so nothing was seen live`).toContain(firstState);

    const after = await lines.count();
    expect(after, `no output line arrived over the stream (had ${before} at page load):\n${output}`).toBeGreaterThan(before);
    // Nothing lost, nothing twice: the live page holds the same lines as a fresh render of the finished job.
    const fresh = await (await context.request.get(jobUrl)).text();
    expect(after, `live page lines vs a fresh render:\n${output}`).toBe(fresh.match(/class="log-line /g)?.length ?? 0);
    return { jobUrl, streamed: after - before };
  }

  /** From a job page, the "App now" link to the app's page. */
  async function toAppFromJob(): Promise<void> {
    await page.locator('#job-app').getByRole('link', { name: DOMAIN, exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}`);
    await main().getByRole('heading', { name: DOMAIN, level: 1 }).waitFor();
  }

  /** The app page's Version fact, once it reads exactly `version` (it follows the swarm live). */
  async function appShowsVersion(version: string): Promise<void> {
    const facts = page.locator('#app dl.facts');
    await facts.locator('dd').filter({ hasText: exactly(version) }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    expect(await facts.locator('dt').allTextContents()).toContain('Version');
  }

  beforeAll(async () => {
    await ensureTestImage();
    node = await browserNode({ password: ADMIN_PASSWORD, recipes: FIXTURE_RECIPES });
    b = await openPage(ACTION_TIMEOUT_MS);
    ({ page, context, errors } = b);
  }, 180_000);

  afterAll(async () => {
    await closePage(b ?? {});
    await node?.close();
    await removeStack(STACK, 90_000);
    const secrets = await execa('docker', ['secret', 'ls', '-q', '--filter', `name=${STACK}_`], { reject: false });
    if (secrets.stdout.trim()) await execa('docker', ['secret', 'rm', ...secrets.stdout.trim().split('\n')], { reject: false });
  }, 180_000);

  it('1. installs from the generated form, streams the job live, and shows the generated secret once', async () => {
    // Log in as the admin created from ADMIN_PASSWORD_FILE.
    await logIn(page, node.url, { password: ADMIN_PASSWORD });

    // Install → the recipe's card → Install.
    await nav().getByRole('link', { name: 'Install', exact: true }).click();
    await page.waitForURL(`${node.url}/recipes`);
    await page.getByRole('heading', { name: 'Install an app', level: 1 }).waitFor();
    const recipeCard = page.locator(`li[data-recipe="${RECIPE}"]`);
    expect(await recipeCard.locator('.meta').textContent()).toContain('latest 1.1.0+1.1');
    await recipeCard.getByRole('link', { name: 'Install', exact: true }).click();
    await page.waitForURL(`${node.url}/install/${RECIPE}`);
    await page.getByRole('heading', { name: `Install ${RECIPE}`, level: 1 }).waitFor();

    // The generated form: pick the older version first, so that there is something to upgrade to.
    await main().getByLabel('Version').selectOption('1.0.0+1.0');
    await main().getByRole('button', { name: 'Choose' }).click();
    await page.waitForURL(`${node.url}/install/${RECIPE}?version=1.0.0%2B1.0`);
    const form = page.locator(`form[action="/install/${RECIPE}"][method="post"]`);
    await form.locator('input[name="version"][value="1.0.0+1.0"]').waitFor({ state: 'attached' });
    await form.getByLabel('Domain', { exact: true }).fill(DOMAIN);
    const greeting = form.getByLabel('Greeting', { exact: true });
    expect(await greeting.inputValue()).toBe('world');
    await form.getByText('What the app says hello to').waitFor();
    await greeting.fill('browsers');
    await form.getByText(/db_password/).waitFor();
    const deployNow = form.getByLabel('Deploy it right away');
    expect(await deployNow.isChecked()).toBe(true);
    await form.getByRole('button', { name: 'Install', exact: true }).click();

    // The job page follows abra's output live, to the end.
    const { jobUrl, streamed } = await watchJob('install');
    console.log(`install: ${streamed} output line(s) arrived over the stream`);
    const output = (await page.locator('#job-output .log-line').allTextContents()).join('\n');
    expect(output).toContain(`abra app new ${RECIPE} 1.0.0+1.0`);
    expect(output).toContain('Generated 1 secret(s): db_password');
    expect(output).toContain(`abra app deploy ${DOMAIN}`);
    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'job.png'), fullPage: true });

    // The generated secret, once: the button appears on the open job page when the job ends.
    const showSecrets = main().getByRole('button', { name: 'Show the secrets once' });
    await showSecrets.click();
    await page.getByRole('heading', { name: 'Generated secrets', level: 1 }).waitFor();
    const secrets = page.locator('dl.secrets');
    expect(await secrets.locator('dt').allTextContents()).toEqual(['db_password']);
    const value = (await secrets.locator('dd code').first().textContent())?.trim();
    expect(value).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(output).not.toContain(value!);
    // Back on the job page, the button is gone: the values were shown once.
    await main().getByRole('link', { name: 'Back to the job' }).click();
    await page.waitForURL(jobUrl);
    await main().getByRole('heading', { name: `install · ${DOMAIN}`, level: 1 }).waitFor();
    expect(await main().getByRole('button', { name: 'Show the secrets once' }).count()).toBe(0);

    expect(readFileSync(envFile(), 'utf8')).toContain('GREETING=browsers');
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 1;
  });

  it('2. shows the new app running on the dashboard, live', async () => {
    needs(1);
    await nav().getByRole('link', { name: 'Apps', exact: true }).click();
    await page.waitForURL(`${node.url}/`);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    await mark();
    const card = page.locator(`li[data-stack="${STACK}"]`);
    await card.getByRole('link', { name: DOMAIN, exact: true }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page.locator(`li[data-stack="${STACK}"][data-status="running"]`).filter({ hasText: '1.0.0+1.0' }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    expect(await card.locator('.meta').first().textContent()).toMatch(new RegExp(`${RECIPE}\\s+·\\s+1\\.0\\.0\\+1\\.0`));
    expect(await card.locator('.replicas').textContent()).toMatch(exactly('1 of 1'));
    expect(await marked(), 'the dashboard was reloaded instead of updated in place').toBe(1);
    expect(await serviceEnv()).toContain('GREETING=browsers');
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 2;
  });

  it('3. changes a setting and redeploys with it', async () => {
    needs(2);
    await page.locator(`li[data-stack="${STACK}"]`).getByRole('link', { name: DOMAIN, exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}`);
    await main().getByRole('heading', { name: DOMAIN, level: 1 }).waitFor();
    await main().getByRole('link', { name: 'Settings', exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}/config`);
    await page.getByRole('heading', { name: `Settings of ${DOMAIN}`, level: 1 }).waitFor();

    const greeting = main().getByLabel('Greeting', { exact: true });
    expect(await greeting.inputValue()).toBe('browsers');
    await greeting.fill('neighbours');
    const redeploy = main().getByLabel('Redeploy with these settings now');
    expect(await redeploy.isChecked(), 'a deployed app offers to redeploy').toBe(true);
    await main().getByRole('button', { name: 'Save', exact: true }).click();

    await watchJob('deploy');
    expect(readFileSync(envFile(), 'utf8')).toContain('GREETING=neighbours');
    expect(await eventually(async () => (await serviceEnv()).includes('GREETING=neighbours'), LIVE_TIMEOUT_MS)).toBe(true);
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 3;
  });

  it('4. upgrades, showing the release notes first', async () => {
    needs(3);
    await toAppFromJob();
    await main().getByRole('link', { name: 'Upgrade', exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}/upgrade`);
    await page.getByRole('heading', { name: `Upgrade ${DOMAIN}`, level: 1 }).waitFor();
    const choice = page.locator('section.version[data-version="1.1.0+1.1"]');
    expect(await choice.getByRole('heading', { level: 2 }).textContent()).toBe('1.0.0+1.0 → 1.1.0+1.1');
    expect((await choice.locator('pre.notes').textContent())?.trim()).toBe(RELEASE_NOTES);
    expect(await choice.locator('ul.images').textContent()).toContain('lores-test/busybox:1 → lores-test/busybox:2');
    await choice.getByRole('button', { name: 'Upgrade to 1.1.0+1.1' }).click();

    await watchJob('upgrade');
    await toAppFromJob();
    await appShowsVersion('1.1.0+1.1');
    expect(readFileSync(envFile(), 'utf8')).toContain(`TYPE=${RECIPE}:1.1.0+1.1`);
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 4;
  });

  it('5. rolls back the same way', async () => {
    needs(4);
    await main().getByRole('link', { name: 'Roll back', exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}/rollback`);
    await page.getByRole('heading', { name: `Roll back ${DOMAIN}`, level: 1 }).waitFor();
    const choice = page.locator('section.version[data-version="1.0.0+1.0"]');
    expect(await choice.getByRole('heading', { level: 2 }).textContent()).toBe('1.1.0+1.1 → 1.0.0+1.0');
    await choice.getByRole('button', { name: 'Roll back to 1.0.0+1.0' }).click();

    await watchJob('rollback');
    await toAppFromJob();
    await appShowsVersion('1.0.0+1.0');
    expect(readFileSync(envFile(), 'utf8')).toContain(`TYPE=${RECIPE}:1.0.0+1.0`);
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 5;
  });

  it('6. undeploys, refuses a removal without the domain typed, then removes it for good', async () => {
    needs(5);
    await page.locator('#app').getByRole('button', { name: 'Undeploy', exact: true }).click();
    // Undeploying cuts people off, so a page asks first.
    await page.getByRole('heading', { name: `Undeploy ${DOMAIN}?`, level: 1 }).waitFor();
    await main().getByRole('button', { name: `Undeploy ${DOMAIN}`, exact: true }).click();
    await watchJob('undeploy');
    await toAppFromJob();
    await page.locator('#app .app-head .badge').filter({ hasText: exactly('not deployed') }).waitFor({ timeout: LIVE_TIMEOUT_MS });

    await main().getByRole('link', { name: 'Remove…', exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}/remove`);
    await page.getByRole('heading', { name: `Remove ${DOMAIN}`, level: 1 }).waitFor();
    const explained = (await main().locator('section').textContent()) ?? '';
    expect(explained).toContain('volumes');
    expect(explained).toContain('secrets');
    expect(explained).toContain(`${DOMAIN}.env`);

    // A wrong confirmation is refused, and nothing goes.
    const confirm = main().getByLabel(/to confirm/);
    await confirm.fill('wrong.example.org');
    await main().getByRole('button', { name: 'Remove for good' }).click();
    // The same page comes back (#21), what was typed kept and the note beside the field, not an error page.
    await main().getByRole('alert').filter({ hasText: `type the app’s domain exactly: ${DOMAIN}` }).waitFor();
    expect(await main().getByLabel(/to confirm/).inputValue()).toBe('wrong.example.org');
    expect(existsSync(envFile())).toBe(true);
    await page.goto(`${node.url}/`);
    await page.waitForURL(`${node.url}/`);
    const card = page.locator(`li[data-stack="${STACK}"]`);
    await card.getByRole('link', { name: DOMAIN, exact: true }).waitFor();
    expect(await card.getAttribute('data-status')).toBe('not deployed');

    // Now with the domain typed.
    await card.getByRole('link', { name: DOMAIN, exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}`);
    await main().getByRole('link', { name: 'Remove…', exact: true }).click();
    await page.waitForURL(`${node.url}/apps/${STACK}/remove`);
    await main().getByLabel(/to confirm/).fill(DOMAIN);
    await main().getByRole('button', { name: 'Remove for good' }).click();
    await watchJob('remove');
    expect(existsSync(envFile())).toBe(false);
    const secrets = await execa('docker', ['secret', 'ls', '--format', '{{.Name}}']);
    expect(secrets.stdout).not.toContain(`${STACK}_db_password_v1`);

    await nav().getByRole('link', { name: 'Apps', exact: true }).click();
    await page.waitForURL(`${node.url}/`);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    await page.locator(`li[data-stack="${STACK}"]`).waitFor({ state: 'detached', timeout: LIVE_TIMEOUT_MS });
    expect(cspErrors(errors), errors.join('\n')).toEqual([]);
    stepsDone = 6;
  });
});
