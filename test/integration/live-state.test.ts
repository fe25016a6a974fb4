// The live model on the real swarm: labelled stacks found, events keep it current, start/stop, logs, SSE.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { execa } from 'execa';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLogStreams } from '../../app/adapters/docker/logs.ts';
import { STOPPED_CONSTRAINT } from '../../app/adapters/docker/scale.ts';
import { appsFrom } from '../../app/services/apps.ts';
import { addUser, testNode, type TestNode } from '../support/app.ts';
import { haveDocker } from '../support/requirements.ts';
import { readSse } from '../support/sse.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack, TEST_IMAGE } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const WIKI = `wiki${id}_lores_test`;
const PLAIN = `plain${id}`;
const CRASH = `crash${id}_lores_test`;
const GLOBAL = `glob${id}_lores_test`;
const FAIR = `fair${id}_lores_test`;

describe.skipIf(!dockerThere)('live node state on the real swarm', () => {
  let node: TestNode;
  let server: Server;
  let base: string;
  let stewardCookie: string;
  let guestCookie: string;
  let csrf: string;

  const lastJobDone = async (stack: string) => {
    const job = node.services.store.jobs.list({ limit: 1, app: stack })[0]!;
    return node.services.jobs.finished(job.id);
  };
  const app = (stack: string) => appsFrom(node.services.model).find((a) => a.stack === stack);
  const replicasOf = async (service: string) =>
    (await execa('docker', ['service', 'inspect', service, '--format', '{{json .Spec.Mode}}'])).stdout;

  beforeAll(async () => {
    await ensureTestImage();
    await Promise.all([
      deployStack(
        WIKI,
        coopCloudStack(WIKI, {
          recipe: 'kiwix',
          version: '1.2.0+3.7.0',
          domain: `wiki-${id}.node.example.org`,
          services: {
            db: {
              replicas: 2,
              healthcheck: { test: ['CMD', 'true'], interval: '1s', timeout: '1s', retries: 1 },
              command: 'trap "exit 0" TERM; i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.3; done',
            },
          },
        }),
      ),
      deployStack(PLAIN, { web: { replicas: 1 } }),
      deployStack(CRASH, {
        app: { ...coopCloudStack(CRASH, { recipe: 'broken', version: '0.1.0+1', domain: `crash-${id}.node.example.org` }).app, command: 'echo boom >&2; exit 3' },
      }),
      deployStack(GLOBAL, { app: { ...coopCloudStack(GLOBAL, { recipe: 'agent', version: '0.1.0+1', domain: `glob-${id}.node.example.org` }).app, global: true } }),
    ]);
    node = await testNode({}, { live: true });
    // These stacks were deployed from elsewhere, not with the node's abra: stewards may stop and start them only
    // once an admin has adopted them (issue #14; privilege-boundaries.test.ts shows the refusal before adoption).
    for (const stack of [WIKI, GLOBAL]) node.services.store.adoptedStacks.adopt(stack, 'admin', Date.now());
    const steward = await addUser(node, 'sam', 'steward');
    const guest = await addUser(node, 'gil', 'guest');
    const people = node.services.people;
    const s = node.services.sessions.start((await people.authenticate(steward.username, steward.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    stewardCookie = `lores_session=${s.token}`;
    csrf = s.session.csrfToken;
    const g = node.services.sessions.start((await people.authenticate(guest.username, guest.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    guestCookie = `lores_session=${g.token}`;
    server = node.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    server?.closeAllConnections();
    server?.close();
    node?.close();
    await Promise.all([WIKI, PLAIN, CRASH, GLOBAL, FAIR].map((s) => removeStack(s)));
  }, 60_000);

  it('finds labelled stacks with recipe, version, domain and health; others as read-only stacks', async () => {
    expect(await eventually(() => app(WIKI)?.status === 'running' && app(WIKI)!.services.every((s) => s.tasks.every((t) => t.health === 'healthy' || s.name.endsWith('_app'))), 40_000)).toBe(true);
    const wiki = app(WIKI)!;
    expect(wiki).toMatchObject({ coopCloud: true, recipe: 'kiwix', version: '1.2.0+3.7.0', domain: `wiki-${id}.node.example.org`, desired: 3, running: 3 });
    expect(wiki.services.map((s) => s.shortName)).toEqual(['app', 'db']);
    const hostnames = [...node.services.model.nodes.values()].map((n) => n.hostname);
    for (const t of wiki.services[1]!.tasks) expect(hostnames).toContain(t.nodeName);
    expect(app(PLAIN)).toMatchObject({ coopCloud: false });
    expect(node.services.model.nodes.size).toBeGreaterThan(0);

    const page = await supertest(node.app).get('/').set('Cookie', stewardCookie).expect(200);
    expect(page.text).toContain(`wiki-${id}.node.example.org`);
    expect(page.text).toContain('1.2.0+3.7.0');
    expect(page.text).toContain('Other stacks');
    expect(page.text).toContain(PLAIN);
    const appPage = await supertest(node.app).get(`/apps/${WIKI}`).set('Cookie', guestCookie).expect(200);
    expect(appPage.text).toContain('healthy');
    expect(appPage.text).not.toContain('>Stop<'); // guests look, they do not change
  });

  it('a crashing task shows as failing with its error', async () => {
    expect(await eventually(() => app(CRASH)?.status === 'failing', 40_000)).toBe(true);
    expect(app(CRASH)!.lastError).toMatch(/exit code 3|non-zero exit/);
  });

  it('a scale from outside reaches the model by events (no full resync) and open pages over SSE', async () => {
    await eventually(() => app(WIKI)?.running === 3, 30_000);
    const syncsBefore = node.services.model.stats.fullSyncs;
    const started = { at: 0 };
    const events = await readSse(
      `${base}/live`,
      { Cookie: stewardCookie },
      (e) => e.event === 'apps' && new RegExp(`data-stack="${WIKI}"[^]*?<span class="replicas">3 of 4</span>`).test(e.data),
      {
        timeoutMs: 30_000,
        onOpen: async () => {
          started.at = Date.now();
          await execa('docker', ['service', 'scale', '--detach', `${WIKI}_db=3`]);
        },
      },
    );
    const hit = events.at(-1)!;
    expect(hit.data).toMatch(new RegExp(`data-stack="${WIKI}"`));
    expect(hit.at - started.at).toBeLessThan(10_000);
    expect(await eventually(() => app(WIKI)?.running === 4, 30_000)).toBe(true);
    expect(node.services.model.stats.fullSyncs).toBe(syncsBefore);
    expect(node.services.model.stats.serviceRereads).toBeGreaterThan(0);
  });

  it('a plain reload of the dashboard shows a change as soon as the model has it (the page cache follows the model)', async () => {
    await eventually(() => app(WIKI)?.running === 4, 30_000);
    const shows = (html: string, replicas: string) => new RegExp(`data-stack="${WIKI}"[^]*?<span class="replicas">${replicas}</span>`).test(html);
    const before = await supertest(node.app).get('/').set('Cookie', stewardCookie).expect(200);
    expect(shows(before.text, '4 of 4')).toBe(true); // the page says "4 of 4" (it said 4/4)
    await execa('docker', ['service', 'scale', '--detach', `${WIKI}_db=2`]);
    expect(await eventually(() => app(WIKI)?.desired === 3, 10_000)).toBe(true);
    const after = await supertest(node.app).get('/').set('Cookie', stewardCookie).set('If-None-Match', before.headers.etag!).expect(200);
    expect(shows(after.text, '\\d of 3')).toBe(true);
    // A page whose live stream opens only after the change (a slow phone, a reconnect) is caught up at once, though
    // no change follows: the stream knows the page's version and pushes when the apps moved since.
    const since = /sse-connect="\/live\?since=([^"]+)"/.exec(before.text)?.[1];
    expect(since).toBeDefined();
    expect(await eventually(() => app(WIKI)?.running === 3, 30_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1000)); // let the model settle: no change left to push on its own
    const caughtUp = await readSse(`${base}/live?since=${since}`, { Cookie: stewardCookie }, (e) => e.event === 'apps', { timeoutMs: 5_000 });
    expect(shows(caughtUp.at(-1)?.data ?? '', '3 of 3')).toBe(true);
    await execa('docker', ['service', 'scale', '--detach', `${WIKI}_db=3`]);
    expect(await eventually(() => app(WIKI)?.running === 4, 30_000)).toBe(true);
  });

  it('open pages show a job on an app as it starts and ends, though the swarm does not move', async () => {
    // The app's own page: its stream pushes only for this app (the crash-looping stack beside it moves all the time).
    expect(await eventually(() => !!app(WIKI)?.desired && app(WIKI)!.running === app(WIKI)!.desired, 30_000)).toBe(true);
    const page = (await supertest(node.app).get(`/apps/${WIKI}`).set('Cookie', stewardCookie).expect(200)).text;
    const since = new RegExp(`sse-connect="/apps/${WIKI}/live\\?since=([^"]+)"`).exec(page)![1];
    const badge = /<span class="badge status-updating">check…<\/span>/;
    let release = () => {};
    let job = 0;
    const events = await readSse(`${base}/apps/${WIKI}/live?since=${since}`, { Cookie: stewardCookie }, (e, all) => e.event === 'app' && !badge.test(e.data) && all.some((x) => badge.test(x.data)), {
      timeoutMs: 15_000,
      onOpen: () => {
        // A job that touches nothing on the swarm: only the runner says the app is busy, then free again.
        const started = node.services.jobs.submit({ kind: 'check', app: WIKI, recipe: null, actor: { name: 'sam', ip: '127.0.0.1' }, run: () => new Promise<void>((r) => (release = r)) });
        job = started.id;
        setTimeout(() => release(), 2500);
      },
    });
    expect(events.some((e) => badge.test(e.data))).toBe(true); // the badge came with the job…
    expect(badge.test(events.at(-1)!.data)).toBe(false); // …and went when it ended
    expect((await node.services.jobs.finished(job)).state).toBe('succeeded');
  });

  it('stop scales every service to 0 and remembers the counts; start restores them; audited; guests refused', async () => {
    await eventually(() => app(WIKI)?.running === 4, 30_000);
    const guest = await supertest(node.app).post(`/apps/${WIKI}/stop`).set('Cookie', guestCookie).type('form').send({ _csrf: 'x' });
    expect(guest.status).toBe(403);

    const [first, second] = await Promise.all([
      supertest(node.app).post(`/apps/${WIKI}/stop`).set('Cookie', stewardCookie).type('form').send({ _csrf: csrf, confirmed: '1' }),
      new Promise((r) => setTimeout(r, 5)).then(() => supertest(node.app).post(`/apps/${WIKI}/stop`).set('Cookie', stewardCookie).type('form').send({ _csrf: csrf, confirmed: '1' })),
    ]);
    expect(first.status).toBe(303);
    // The second Stop, asked for while the first runs, waits its turn (it was a "busy" refusal before jobs queued)
    // and then finds nothing left to stop.
    expect(second.status).toBe(303);
    const [newer, older] = node.services.store.jobs.list({ limit: 2, app: WIKI });
    expect([older!.kind, newer!.kind]).toEqual(['stop', 'stop']);
    const firstJob = await node.services.jobs.finished(older!.id);
    expect(firstJob.state).toBe('succeeded');
    const secondJob = await node.services.jobs.finished(newer!.id);
    expect(secondJob.state).toBe('succeeded');
    expect(secondJob.startedAt!).toBeGreaterThanOrEqual(firstJob.finishedAt!);
    expect(node.services.store.jobs.output(secondJob.id).map((l) => l.line)).toContain(`${WIKI}_db: already stopped`);
    expect(await replicasOf(`${WIKI}_db`)).toContain('"Replicas":0');
    expect(node.services.store.stoppedServices.forStack(WIKI).map((r) => [r.service, r.replicas]).sort()).toEqual([
      [`${WIKI}_app`, 1],
      [`${WIKI}_db`, 3],
    ]);
    expect(await eventually(() => app(WIKI)?.status === 'stopped' && app(WIKI)!.running === 0, 30_000)).toBe(true);
    // A stopped app says so, not "0/0".
    expect((await supertest(node.app).get(`/apps/${WIKI}`).set('Cookie', stewardCookie).expect(200)).text).toContain('<dd class="replicas">stopped</dd>');

    await supertest(node.app).post(`/apps/${WIKI}/start`).set('Cookie', stewardCookie).type('form').send({ _csrf: csrf }).expect(303);
    expect((await lastJobDone(WIKI)).state).toBe('succeeded');
    expect(await replicasOf(`${WIKI}_db`)).toContain('"Replicas":3');
    expect(await replicasOf(`${WIKI}_app`)).toContain('"Replicas":1');
    expect(node.services.store.stoppedServices.forStack(WIKI)).toEqual([]);
    expect(await eventually(() => app(WIKI)?.running === 4, 30_000)).toBe(true);
    const audit = node.services.store.audit.page({ limit: 20, action: 'job.' }).map((r) => `${r.action}:${r.outcome}:${r.actor}`);
    // Both Stops ran (the second waited its turn instead of being refused as busy), then the Start.
    expect(audit.filter((a) => a === 'job.stop:ok:sam')).toHaveLength(2);
    expect(audit).toContain('job.start:ok:sam');
    expect(audit).not.toContain('job.stop:denied:sam');
  });

  it('stops and starts a global-mode service with a placement constraint', async () => {
    expect(await eventually(() => app(GLOBAL)?.running === 1, 30_000)).toBe(true);
    await supertest(node.app).post(`/apps/${GLOBAL}/stop`).set('Cookie', stewardCookie).type('form').send({ _csrf: csrf, confirmed: '1' }).expect(303);
    await lastJobDone(GLOBAL);
    const constraints = (await execa('docker', ['service', 'inspect', `${GLOBAL}_app`, '--format', '{{json .Spec.TaskTemplate.Placement}}'])).stdout;
    expect(constraints).toContain(STOPPED_CONSTRAINT);
    expect(await eventually(() => app(GLOBAL)?.running === 0 && app(GLOBAL)?.status === 'stopped', 30_000)).toBe(true);
    await supertest(node.app).post(`/apps/${GLOBAL}/start`).set('Cookie', stewardCookie).type('form').send({ _csrf: csrf }).expect(303);
    await lastJobDone(GLOBAL);
    expect((await execa('docker', ['service', 'inspect', `${GLOBAL}_app`, '--format', '{{json .Spec.TaskTemplate.Placement}}'])).stdout).not.toContain(STOPPED_CONSTRAINT);
    expect(await eventually(() => app(GLOBAL)?.running === 1, 30_000)).toBe(true);
  });

  it('a service that can never be scheduled does not hold up another: a scale 0→1 reaches the model and the page within 1 s of Docker', async () => {
    // `stuck` waits forever for a node labelled nope=true; `app` starts at 0 replicas. Both belong to one stack.
    const namespace = ['--label', `com.docker.stack.namespace=${FAIR}`, '--container-label', `com.docker.stack.namespace=${FAIR}`];
    const sleeper = [TEST_IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];
    const appLabels = Object.entries(coopCloudStack(FAIR, { recipe: 'fair', version: '0.1.0+1', domain: `fair-${id}.node.example.org` }).app.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    await execa('docker', ['service', 'create', '--detach', '--quiet', '--name', `${FAIR}_stuck`, ...namespace, '--constraint', 'node.labels.nope==true', '--stop-grace-period', '2s', ...sleeper]);
    await execa('docker', ['service', 'create', '--detach', '--quiet', '--name', `${FAIR}_app`, ...namespace, ...appLabels, '--replicas', '0', '--stop-grace-period', '2s', ...sleeper]);
    const service = (name: string) => [...node.services.model.services.values()].find((s) => s.name === name);
    expect(await eventually(() => service(`${FAIR}_stuck`)?.tasks[0]?.state === 'pending' && service(`${FAIR}_app`) !== undefined, 20_000)).toBe(true);
    // Long enough for the stuck service's follow-ups to back off past 3 s (400 ms doubling every five re-reads).
    await new Promise((r) => setTimeout(r, 15_000));
    expect(service(`${FAIR}_stuck`)!.running).toBe(0);

    const appService = (await execa('docker', ['service', 'inspect', `${FAIR}_app`, '--format', '{{.ID}}'])).stdout.trim();
    const seen = { docker: 0, model: 0 };
    const watching = (async () => {
      // Docker's own answer, polled as often as the model could be: the reference the model is measured against.
      for (const until = Date.now() + 60_000; Date.now() < until && !(seen.docker && seen.model); ) {
        if (!seen.model && service(`${FAIR}_app`)?.running === 1) seen.model = Date.now();
        if (!seen.docker) {
          const tasks = (await node.services.docker.listTasks({ filters: { service: [appService] } })) as { Status: { State: string } }[];
          if (tasks.some((t) => t.Status.State === 'running')) seen.docker = Date.now();
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const events = await readSse(`${base}/live`, { Cookie: stewardCookie }, (e) => e.event === 'apps' && new RegExp(`data-stack="${FAIR}"[^]*?<span class="replicas">1 of 2</span>`).test(e.data), {
      timeoutMs: 60_000,
      onOpen: async () => void (await execa('docker', ['service', 'scale', '--detach', `${FAIR}_app=1`])),
    });
    await watching;
    const page = events.at(-1)!;
    expect(page.data).toMatch(new RegExp(`data-stack="${FAIR}"[^]*?<span class="replicas">1 of 2</span>`));
    expect(seen.docker).toBeGreaterThan(0);
    expect(seen.model).toBeGreaterThan(0);
    console.info(`scale 0→1 beside an unschedulable service: model ${seen.model - seen.docker} ms, page ${page.at - seen.docker} ms after Docker reported the task running`);
    expect(seen.model - seen.docker).toBeLessThan(1000);
    expect(page.at - seen.docker).toBeLessThan(1000);
  }, 120_000);

  it('rejects bad stack names and unknown apps without touching Docker', async () => {
    expect((await supertest(node.app).post('/apps/..%2Fetc/stop').set('Cookie', stewardCookie).type('form').send({ _csrf: csrf })).status).toBe(400);
    expect((await supertest(node.app).post('/apps/nope_nothing/stop').set('Cookie', stewardCookie).type('form').send({ _csrf: csrf })).status).toBe(404);
    expect((await supertest(node.app).get(`/apps/${WIKI}/logs?tail=0`).set('Cookie', stewardCookie)).status).toBe(400);
    expect((await supertest(node.app).get(`/apps/${WIKI}/logs?service=other_service`).set('Cookie', stewardCookie)).status).toBe(404);
  });

  it('shows the last log lines, streams new ones live, and lets go of Docker when the viewer leaves', async () => {
    const page = await supertest(node.app).get(`/apps/${WIKI}/logs?service=${WIKI}_db&tail=5`).set('Cookie', stewardCookie).expect(200);
    expect(page.text).toMatch(/tick \d+/);
    const before = openLogStreams();
    const events = await readSse(`${base}/apps/${WIKI}/logs/stream?service=${WIKI}_db`, { Cookie: stewardCookie }, (_e, all) => all.length >= 3, { timeoutMs: 20_000 });
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events[0]!.data).toMatch(/class="log-line stdout">.*tick \d+/);
    expect(await eventually(() => openLogStreams() === before, 5_000)).toBe(true);
  });
});
