// The bundled Kiwix recipe (recipes/kiwix/) installed through the node on the real swarm: the abra test double
// deploys it, a local stand-in plays ghcr.io/kiwix/kiwix-serve:3.8.2 (Debian's kiwix-tools 3.3.0), and a tiny
// real ZIM goes in and out of the ZIM folder the way the node's downloader will move it — served and dropped
// without a restart, and the service stays up with no ZIM at all.
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listInstalled } from '../../app/adapters/abra/app-env.ts';
import { appsFrom } from '../../app/services/apps.ts';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { ABRA_DOUBLE } from '../support/abra.ts';
import { ensureKiwixImage, KIWIX_IMAGE, makeTestZim, type TestZim } from '../support/kiwix.ts';
import { actingAs, sessionFor, type Person } from '../support/jobs.ts';
import { haveDocker } from '../support/requirements.ts';
import { freePort, REPO_ROOT } from '../support/server.ts';
import { within, eventually } from '../support/poll.ts';
import { removeStackAndObjects } from '../support/swarm.ts';

// Deploys wait for a healthy task (the first probe comes 15 s in): give a busy 2-core machine time.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const DOMAIN = `k${id}.lores.test`;
const STACK = DOMAIN.replaceAll('.', '_');
const SERVICE = `${STACK}_app`;
const BUNDLED = path.join(REPO_ROOT, 'recipes');
const VERSION = '1.0.0+3.8.2';


type Task = { id: string; desired: string; state: string; error: string };
async function tasks(): Promise<Task[]> {
  const r = await execa('docker', ['service', 'ps', SERVICE, '--no-trunc', '--format', '{{.ID}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}'], { reject: false });
  if (r.exitCode !== 0) return [];
  return r.stdout.split('\n').filter(Boolean).map((l) => {
    const [tid = '', desired = '', state = '', error = ''] = l.split('\t');
    return { id: tid, desired, state, error };
  });
}
async function health(taskId: string): Promise<string> {
  const c = await execa('docker', ['inspect', taskId, '--format', '{{.Status.ContainerStatus.ContainerID}}'], { reject: false });
  if (c.exitCode !== 0 || !c.stdout.trim()) return 'no container';
  const h = await execa('docker', ['inspect', c.stdout.trim(), '--format', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}'], { reject: false });
  return h.exitCode === 0 ? h.stdout.trim() : 'gone';
}

describe.skipIf(!dockerThere)('the bundled Kiwix recipe, installed through the node, on the real swarm', () => {
  let node: TestNode;
  let abraDir: string;
  let zimDir: string;
  let workDir: string;
  let port: number;
  let kim: Person;
  let zim: TestZim;
  let firstTask: string;
  const timings: Record<string, number> = {};

  const app = () => appsFrom(node.services.model, listInstalled(abraDir)).find((a) => a.stack === STACK);
  const kiwix = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(5000) });
    return { status: r.status, text: await r.text() };
  };
  /** Books in kiwix-serve's OPDS catalogue: name → the book's HTML link (`/<book>` in 3.3, `/content/<book>` in 3.8). */
  const catalogue = async (): Promise<Map<string, string>> => {
    const { status, text } = await kiwix('/catalog/v2/entries?count=-1');
    if (status !== 200) throw new Error(`catalogue: ${status}`);
    const books = new Map<string, string>();
    for (const [, entry = ''] of text.matchAll(/<entry>([\s\S]*?)<\/entry>/g)) {
      const name = /<name>([^<]+)<\/name>/.exec(entry)?.[1];
      const href = /<link[^>]*type="text\/html"[^>]*href="([^"]+)"/.exec(entry)?.[1];
      if (name && href) books.set(name, href);
    }
    return books;
  };
  const runningTasks = async () => (await tasks()).filter((t) => t.desired === 'Running');

  beforeAll(async () => {
    await ensureKiwixImage();
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    workDir = mkdtempSync(path.join(tmpdir(), 'lores-kiwix-work-'));
    // The ZIM folder starts empty; the container (uid 1001) must be able to read it.
    zimDir = mkdtempSync(path.join(tmpdir(), 'lores-zims-'));
    chmodSync(zimDir, 0o755);
    port = await freePort();
    // A Kiwix app's ZIM_FILES_PATH must lie under ZIM_ROOT (issue #14): the test's ZIM folder is the root here.
    node = await testNode({ ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: BUNDLED, ABRA_TIMEOUT_SECONDS: '150', CATALOGUE_URL: '', ZIM_ROOT: zimDir }, { full: true });
    const steward = await addUser(node, 'kim', 'steward');
    kim = actingAs(node, await sessionFor(node, steward.username, steward.password));
  });

  afterAll(async () => {
    node?.close();
    await removeStackAndObjects(STACK, 60_000);
    for (const d of [abraDir, zimDir, workDir]) if (d) rmSync(d, { recursive: true, force: true });
    console.info(`kiwix integration timings (ms): ${JSON.stringify(timings)}`);
  });

  it('offers the bundled recipe, its install form generated from .env.sample', async () => {
    expect(await node.services.lifecycle.recipes()).toEqual(expect.arrayContaining([{ name: 'kiwix', versions: [VERSION] }]));
    const form = await kim.get('/install/kiwix').expect(200);
    // The folder starts at the node's ZIM_ROOT (#21), not the sample's /srv/zims, which need not exist here.
    expect(form.text).toContain(`name="env.ZIM_FILES_PATH" value="${zimDir}"`);
    expect(form.text).not.toContain('name="env.ZIM_FILES_PATH" value="/srv/zims"');
    expect(form.text).toContain('1001');
    expect(form.text).toContain('name="overlay.compose.lan.yml"');
    // The LAN port belongs to the LAN option (same block of .env.sample): it is switched on with it, not on its own.
    expect(form.text).toMatch(/data-overlay="compose\.lan\.yml"[\s\S]*name="env\.KIWIX_LAN_PORT"/);
    expect(form.text).not.toContain('name="enable.KIWIX_LAN_PORT"');
  });

  it('installs and deploys with an empty ZIM folder and the LAN overlay: the task runs and is healthy', async () => {
    const started = Date.now();
    const job = await kim.finished(
      await kim.post('/install/kiwix', {
        version: VERSION,
        domain: DOMAIN,
        'env.ZIM_FILES_PATH': zimDir,
        'overlay.compose.lan.yml': 'on',
        'enable.KIWIX_LAN_PORT': 'on',
        'env.KIWIX_LAN_PORT': String(port),
        deploy: 'on',
      }),
    );
    timings.installAndDeploy = Date.now() - started;
    expect(job.state, kim.output(job.id)).toBe('succeeded');
    const env = readFileSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`), 'utf8');
    expect(env).toContain(`TYPE=kiwix:${VERSION}`);
    expect(env).toContain(`ZIM_FILES_PATH=${zimDir}`);
    expect(env).toContain('COMPOSE_FILE="$COMPOSE_FILE:compose.lan.yml"');
    expect(env).toContain(`KIWIX_LAN_PORT=${port}`);

    // The entrypoint went in as the config versioned by abra.sh; the image is the pinned one.
    expect((await execa('docker', ['config', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).toContain(`${STACK}_entrypoint_v1`);
    const spec = JSON.parse((await execa('docker', ['service', 'inspect', SERVICE, '--format', '{{json .Spec}}'])).stdout) as {
      Labels: Record<string, string>;
      TaskTemplate: { ContainerSpec: { Image: string; Mounts: { Source: string; Target: string; ReadOnly?: boolean }[] } };
      EndpointSpec?: { Ports?: { TargetPort: number; PublishedPort: number; PublishMode: string }[] };
    };
    expect(spec.TaskTemplate.ContainerSpec.Image.split('@')[0]).toBe(KIWIX_IMAGE);
    expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([expect.objectContaining({ Source: zimDir, Target: '/data', ReadOnly: true })]);
    expect(spec.EndpointSpec?.Ports).toEqual([expect.objectContaining({ TargetPort: 8080, PublishedPort: port, PublishMode: 'host' })]);
    expect(spec.Labels[`coop-cloud.${STACK}.version`]).toBe(VERSION);

    const running = await within('a running, healthy task', 60_000, async () => {
      const [t, ...more] = await runningTasks();
      return t && !more.length && t.state.startsWith('Running') && (await health(t.id)) === 'healthy' ? t : undefined;
    });
    firstTask = running.value.id;
    expect(await eventually(() => app()?.status === 'running', 30_000)).toBe(true);
    expect(app()).toMatchObject({ recipe: 'kiwix', version: VERSION, domain: DOMAIN });
  });

  it('stays up with zero ZIMs: the same task, healthy, no failed ones, an empty catalogue on the LAN port', async () => {
    expect((await kiwix('/catalog/v2/root.xml')).status).toBe(200);
    expect((await catalogue()).size).toBe(0);
    // More than a healthcheck interval (15 s) and several library polls.
    await new Promise((r) => setTimeout(r, 20_000));
    const all = await tasks();
    expect(all.map((t) => t.id), JSON.stringify(all)).toEqual([firstTask]);
    expect(all[0]!.state).toMatch(/^Running/);
    expect(all[0]!.error).toBe('');
    expect(await health(firstTask)).toBe('healthy');
    expect((await catalogue()).size).toBe(0);
  });

  it('serves a ZIM renamed into the folder (x.zim.part → x.zim) within seconds, without a restart', async () => {
    zim = await makeTestZim(workDir, { name: `lores_kiwix_${id}`, title: 'LoRes Kiwix test', articleText: `The ferry to island ${id} leaves at dawn.` });
    const part = path.join(zimDir, `${zim.name}.zim.part`);
    copyFileSync(zim.path, part); // as the downloader writes it
    chmodSync(part, 0o644);
    await new Promise((r) => setTimeout(r, 5000));
    expect((await catalogue()).size, 'a .part file is not served').toBe(0);

    const renamed = Date.now();
    renameSync(part, path.join(zimDir, `${zim.name}.zim`));
    const listed = await within('the book in the catalogue', 30_000, async () => (await catalogue()).get(zim.name));
    const page = await within('the article', 30_000, async () => {
      const r = await kiwix(`${listed.value}/${zim.article}`);
      return r.status === 200 && r.text.includes(zim.articleText) ? r : undefined;
    });
    timings.zimServedAfterRename = Date.now() - renamed;
    expect(page.value.text).toContain(zim.articleText);
    // The stand-in is kiwix-serve 3.3.0: its article URL shape is the one makeTestZim reports.
    if (listed.value === `/${zim.name}`) expect((await kiwix(zim.urlPath)).text).toContain(zim.articleText);
    expect((await runningTasks()).map((t) => t.id)).toEqual([firstTask]);
    expect((await tasks()).length).toBe(1);
  });

  it('drops a ZIM renamed away from *.zim within seconds, without a restart; then it can be deleted', async () => {
    const away = path.join(zimDir, `${zim.name}.zim.old`);
    const renamed = Date.now();
    renameSync(path.join(zimDir, `${zim.name}.zim`), away);
    await within('the book to leave the catalogue', 30_000, async () => !(await catalogue()).has(zim.name));
    timings.zimDroppedAfterRename = Date.now() - renamed;
    expect((await kiwix(zim.urlPath)).status).toBe(404);
    rmSync(away);
    await new Promise((r) => setTimeout(r, 4000));
    expect((await kiwix('/catalog/v2/root.xml')).status).toBe(200);
    expect((await tasks()).map((t) => t.id)).toEqual([firstTask]);
    expect(await health(firstTask)).toBe('healthy');
  });

  it('undeploys and removes through the node: stack, entrypoint config and env file gone', async () => {
    const down = await kim.finished(await kim.post(`/apps/${STACK}/undeploy`, { confirmed: '1' }));
    expect(down.state, kim.output(down.id)).toBe('succeeded');
    expect(await eventually(async () => (await tasks()).length === 0, 30_000)).toBe(true);
    const removed = await kim.finished(await kim.post(`/apps/${STACK}/remove`, { confirm: DOMAIN }));
    expect(removed.state, kim.output(removed.id)).toBe('succeeded');
    expect(existsSync(path.join(abraDir, 'servers', 'default', `${DOMAIN}.env`))).toBe(false);
    expect((await execa('docker', ['config', 'ls', '--format', '{{.Name}}'])).stdout).not.toContain(`${STACK}_entrypoint_`);
    expect(existsSync(zimDir), 'the ZIM folder is the operator’s: left alone').toBe(true);
  });
});
