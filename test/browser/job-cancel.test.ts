// In a real Chromium: a second install of the same recipe waits behind the first ("waiting for …" on the jobs list and
// its page); a click on Cancel on the first job's page stops it, and the waiting one, watched live in another tab,
// starts and ends by itself. The abra test double hangs the first install's `app new` until it is cancelled.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ABRA_DOUBLE, FIXTURE_RECIPES, setFaults } from '../support/abra.ts';
import { closePage, cspErrors, openPage, type BrowserPage } from '../support/browser.ts';
import { loginOverHttp, postForm } from '../support/http-login.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { startNode, type NodeProcess } from '../support/server.ts';
import { eventually } from '../support/poll.ts';

vi.setConfig({ testTimeout: 240_000 });
const ADMIN_PASSWORD = 'job cancel browser password';
const canRun = haveChromium() && (await haveDocker());
const id = randomBytes(3).toString('hex');
const FIRST = `c1${id}.lores.test`;
const SECOND = `c2${id}.lores.test`;

describe.skipIf(!canRun)('cancel a job and see a queued one move, in Chromium', () => {
  let node: NodeProcess;
  let b: BrowserPage;
  let abraDir: string;
  let tmp: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'lores-jobcancel-'));
    abraDir = path.join(tmp, 'abra');
    const adminPasswordFile = path.join(tmp, 'pw');
    writeFileSync(adminPasswordFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    node = await startNode({ adminPasswordFile, env: { ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, DOCKER_SOCKET: '/var/run/docker.sock' } });
    b = await openPage(20_000);
  }, 120_000);

  afterAll(async () => {
    await closePage(b ?? {});
    await node?.kill('SIGKILL');
    await execa('pkill', ['-f', `${ABRA_DOUBLE} app new lores-test-app`], { reject: false });
    for (const domain of [FIRST, SECOND]) {
      const secrets = await execa('docker', ['secret', 'ls', '-q', '--filter', `name=${domain.replaceAll('.', '_')}_`], { reject: false });
      if (secrets.stdout.trim()) await execa('docker', ['secret', 'rm', ...secrets.stdout.trim().split('\n')], { reject: false });
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('shows the second install waiting, cancels the first with a click, and the second runs', async () => {
    const auth = await loginOverHttp(node.url, 'admin', ADMIN_PASSWORD);
    setFaults(abraDir, { 'app new': 'hang' });
    const install = async (domain: string) => {
      const res = await postForm(node.url, '/install/lores-test-app', auth, { version: '1.0.0+1.0', domain, 'env.GREETING': 'x' });
      expect(res.status).toBe(303);
      return Number(/\/jobs\/(\d+)$/.exec(res.headers.get('location') ?? '')?.[1]);
    };
    const first = await install(FIRST);
    const second = await install(SECOND); // the same recipe checkout: it waits
    expect(await eventually(async () => (await (await fetch(`${node.url}/jobs/${first}`, { headers: { cookie: auth.cookie } })).text()).includes('working…'), 30_000, 200)).toBe(true);

    const { page, context } = b;
    await context.addCookies([{ name: 'lores_session', value: auth.cookie.split('=')[1]!, url: node.url }]);
    // The jobs list: the second is "waiting", saying for what, with its own Cancel.
    await page.goto(`${node.url}/jobs`);
    const row = page.locator(`tr[data-job="${second}"]`);
    await expect.poll(() => row.locator('.badge').textContent()).toBe('waiting');
    expect(await row.locator('[data-waiting]').textContent()).toBe(`Waiting for job ${first}, install of ${FIRST} to end; it starts then.`);
    expect(await row.getByRole('button', { name: 'Cancel' }).count()).toBe(1);

    // Its page, kept open in this tab: live, so it must move by itself once the first job is cancelled.
    await row.getByRole('link', { name: String(second) }).click();
    await page.waitForURL(`${node.url}/jobs/${second}`);
    const state = page.locator('#job-state [data-state]');
    expect(await state.getAttribute('data-state')).toBe('queued');
    expect(await page.locator('#job-state [data-summary]').textContent()).toContain(`Waiting for job ${first}, install of ${FIRST}`);

    // Another tab: the first job's page, and a click on Cancel.
    setFaults(abraDir, {});
    const other = await context.newPage();
    await other.goto(`${node.url}/jobs/${first}`);
    await other.getByRole('button', { name: 'Cancel this job' }).click();
    await other.waitForURL(`${node.url}/jobs/${first}`);
    await other.locator('#job-state [data-state="cancelled"]').waitFor();
    expect(await other.locator('#job-state [data-summary]').textContent()).toContain('Cancelled by admin.');
    expect(await other.getByRole('button', { name: 'Cancel this job' }).count()).toBe(0);

    // The waiting one started and ended by itself, as the open page shows without a reload.
    await page.locator('#job-state [data-state="succeeded"], #job-state [data-state="failed"]').waitFor({ timeout: 120_000 });
    expect(await state.getAttribute('data-state'), await page.locator('#job-output').textContent() ?? '').toBe('succeeded');
    expect(await page.locator('#job-output').textContent()).toContain(`abra app new lores-test-app 1.0.0+1.0`);
    expect(cspErrors(b.errors)).toEqual([]);
  });
});
