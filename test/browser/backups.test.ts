// Backups in a real Chromium against the real node process, the real swarm and a real restic: set up the
// repository (password shown once), back up an app and watch its progress, restore with a typed confirmation.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closePage, cspErrors, logIn, openPage, type BrowserPage } from '../support/browser.ts';
import { dataDirOf, deployBackupApp, removeBackupApp } from '../support/backup-app.ts';
import { within } from '../support/poll.ts';
import { haveChromium, haveDocker } from '../support/requirements.ts';
import { startNode, type NodeProcess } from '../support/server.ts';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });
const canRun = haveChromium() && (await haveDocker());
const STACK = `bb${randomBytes(3).toString('hex')}`;
const PASSWORD = 'backups browser admin password';

describe.skipIf(!canRun)('backups in a real browser', () => {
  let work: string;
  let node: NodeProcess;
  let b: BrowserPage;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'backups-browser-'));
    writeFileSync(path.join(work, 'admin-password'), `${PASSWORD}\n`, { mode: 0o600 });
    await deployBackupApp(STACK);
    await within('the test app runs', 60_000, async () => (await execa('docker', ['ps', '-q', '-f', `label=com.docker.stack.namespace=${STACK}`])).stdout.trim() !== '');
    writeFileSync(path.join(dataDirOf(STACK, 'db'), 'data.txt'), 'the rows before\n');
    // Large enough that restic reports progress while the page watches (about 300 MB of incompressible data).
    await execa('dd', ['if=/dev/urandom', `of=${path.join(dataDirOf(STACK, 'db'), 'big.bin')}`, 'bs=1M', 'count=300', 'status=none']);
    node = await startNode({ adminPasswordFile: path.join(work, 'admin-password') });
    b = await openPage(20_000);
  });

  afterAll(async () => {
    if (b) await closePage(b);
    await node?.kill('SIGKILL');
    await removeBackupApp(STACK);
    rmSync(work, { recursive: true, force: true });
  });

  it('sets up the repository, backs up with live progress, restores after typing the app’s name', async () => {
    const { page, errors } = b;
    await logIn(page, node.url, { password: PASSWORD, from: '/login' });

    await page.goto(`${node.url}/settings`);
    await page.getByLabel('restic repository').fill(path.join(work, 'repo'));
    await page.getByRole('button', { name: 'Use this repository' }).click();
    await page.getByRole('heading', { name: 'The backup password' }).waitFor();
    expect(await page.locator('[data-password]').textContent()).toMatch(/^[A-Za-z0-9_-]{32}$/);

    // Deployed from elsewhere: the admin adopts it on its page first (README, "Who may do what").
    await page.goto(`${node.url}/apps/${STACK}`);
    await page.getByRole('button', { name: 'Adopt' }).click();
    await page.getByRole('button', { name: /Stop managing/ }).waitFor();

    await page.goto(`${node.url}/apps/${STACK}/backups`);
    expect(await page.locator('main').textContent()).toContain('only keep');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    // Progress shows live on the job's page (files, bytes, rate), then the job succeeds.
    const phase = await page.locator('[data-phase]').textContent({ timeout: 120_000 });
    expect(phase).toMatch(/Backing up: \d+ % · \d+ of \d+ files · .+ of .+ · .+\/s/);
    await page.locator('#job-state [data-state="succeeded"]').waitFor({ timeout: 180_000 });
    expect(await page.locator('#job-output').textContent()).toMatch(/Snapshot [0-9a-f]{8}/);

    writeFileSync(path.join(dataDirOf(STACK, 'db'), 'data.txt'), 'the rows after a mistake\n');
    await page.goto(`${node.url}/apps/${STACK}/backups`);
    await page.getByRole('link', { name: 'Restore…' }).first().click();
    await page.getByLabel(/Type .* to confirm/).fill('something else');
    await page.getByRole('button', { name: 'Restore this snapshot' }).click();
    expect(await page.getByRole('alert').textContent()).toContain(`type the app’s name exactly: ${STACK}`);
    await page.getByLabel(/Type .* to confirm/).fill(STACK);
    await page.getByRole('button', { name: 'Restore this snapshot' }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    await page.locator('#job-state [data-state="succeeded"]').waitFor({ timeout: 240_000 });
    expect(readFileSync(path.join(dataDirOf(STACK, 'db'), 'data.txt'), 'utf8')).toBe('the rows before\n');
    expect(await page.locator('#job-output').textContent()).toContain('The app is running again.');
    expect(cspErrors(errors)).toEqual([]);
  });
});
