// The performance bench: 50 labelled stacks on the real swarm, the compiled node as a child process, and the figures
// a steward feels (dashboard latency vs the CLI, change-to-screen, memory idle and under load). Prints `name: value`
// lines on stdout (progress goes to stderr); never fails on a missed target, only when the bench itself cannot run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { ensureTestImage } from '../test/support/swarm.ts';
import { SseClient, get, loadConnection, logIn, replicasOf, statusesOf } from './http.ts';
import { startDistNode, startFloorProc, FLOOR_PACKAGES, type BenchNode, type FloorProc } from './node-proc.ts';
import { benchStackNames, deployAll, removeAll, stopDeploying } from './stacks.ts';
import { fmt, median, percentile, sleep } from './stats.ts';

const STACKS = 50;
const DEPLOY_BATCH = 10;
const DEPLOY_WAIT_MS = 5 * 60_000;
const WARMUP_REQUESTS = 50;
const DASHBOARD_REQUESTS = 500;
const CLI_RUNS = 5;
const SCALE_RUNS = 5;
const LOAD_CLIENTS = 50;
const LOAD_MS = 30_000;
const RSS_SAMPLE_MS = 250;
const IDLE_MS = 12_000;
/** The live-banner partial's "Docker does not answer" alert: the model went stale. */
const STALE_BANNER = /class="alert error banner"/;

const startedAt = performance.now();
const log = (msg: string) => process.stderr.write(`[bench ${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${msg}\n`);
const figure = (name: string, value: number | string) => process.stdout.write(`${name}: ${typeof value === 'number' ? fmt(value) : value}\n`);

const stacks = benchStackNames(STACKS);
const workDir = mkdtempSync(path.join(tmpdir(), 'lores-bench-'));
let node: BenchNode | undefined;
let sse: SseClient | undefined;
let floor: FloorProc | undefined;
let cleaning: Promise<void> | undefined;

/** Idempotent: stops the node, removes exactly our stacks, deletes the temp dir. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    sse?.close();
    floor?.stop();
    await stopDeploying();
    await node?.stop().catch(() => {});
    log(`removing ${stacks.length} bench stacks (${stacks[0]} … ${stacks.at(-1)})`);
    const { leftovers } = await removeAll(stacks);
    if (leftovers.length) log(`WARNING: still present after cleanup: ${leftovers.join(', ')}`);
    rmSync(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}

// `on`, not `once`: execa's signal-exit re-raises the signal (killing us before cleanup) when it sees no other listener.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (cleaning) {
      log(`${signal} again: leaving now; bench stacks may be left (docker stack rm ${stacks[0]?.slice(0, -3)}_NN)`);
      process.exit(130);
    }
    log(`${signal}: cleaning up (send it again to leave at once)`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function waitForAllRunning(port: number, cookie: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const until = Date.now() + DEPLOY_WAIT_MS;
  let seen = 0;
  let behind: string[] = [];
  try {
    while (Date.now() < until) {
      const page = await get(port, '/', { agent, cookie, keepBody: true });
      if (page.status !== 200) throw new Error(`GET / answered ${page.status} while waiting for the stacks`);
      const statuses = statusesOf(page.body);
      const replicas = (s: string) => replicasOf(page.body, s);
      behind = stacks.filter((s) => statuses.get(s) !== 'running' || replicas(s)?.running !== 1);
      const running = STACKS - behind.length;
      if (running !== seen) log(`dashboard shows ${running}/${STACKS} bench stacks running`);
      seen = running;
      if (running === STACKS) return;
      await sleep(1000);
    }
    // Say what the dashboard and the swarm each say of the stacks still behind: a slow swarm or a stale node?
    const page = (await get(port, '/', { agent, cookie, keepBody: true })).body;
    for (const s of behind.slice(0, 3)) {
      const r = replicasOf(page, s);
      const ps = await execa('docker', ['service', 'ps', '--no-trunc', '--format', '{{.CurrentState}} {{.Error}}', `${s}_app`], { reject: false });
      log(`${s}: dashboard says ${statusesOf(page).get(s) ?? 'nothing'} ${r ? `${r.running}/${r.desired}` : ''}; docker service ps says: ${ps.stdout || ps.stderr}`);
    }
    throw new Error(`only ${seen}/${STACKS} bench stacks showed as running within ${DEPLOY_WAIT_MS / 1000} s`);
  } finally {
    agent.destroy();
  }
}

async function dashboardLatency(port: number, cookie: string): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < WARMUP_REQUESTS; i++) await get(port, '/', { agent, cookie });
    const times: number[] = [];
    for (let i = 0; i < DASHBOARD_REQUESTS; i++) {
      const r = await get(port, '/', { agent, cookie });
      if (r.status !== 200) throw new Error(`GET / answered ${r.status}`);
      times.push(r.ms);
    }
    return times;
  } finally {
    agent.destroy();
  }
}

async function cliAlternative(): Promise<number[]> {
  const once = async () => {
    const t0 = performance.now();
    await execa('docker', ['stack', 'ls']);
    await execa('docker', ['service', 'ls']);
    return performance.now() - t0;
  };
  await once(); // warm the page cache for the docker binary
  const times: number[] = [];
  for (let i = 0; i < CLI_RUNS; i++) times.push(await once());
  return times;
}

/** Scales one bench stack up and down; per run, ms until an `apps` event shows the new desired count, and until it shows it running. */
async function changeToScreen(client: SseClient, stack: string): Promise<{ screen: number[]; converged: number[] }> {
  const screen: number[] = [];
  const converged: number[] = [];
  const shows = (want: (r: { running: number; desired: number }) => boolean) => (e: { event: string; data: string }) => {
    if (e.event !== 'apps') return false;
    const r = replicasOf(e.data, stack);
    return !!r && want(r);
  };
  let current = 1;
  for (let i = 0; i < SCALE_RUNS; i++) {
    const target = current === 1 ? 2 : 1;
    const onScreen = client.next(shows((r) => r.desired === target), 15_000);
    const running = client.next(shows((r) => r.desired === target && r.running === target), 30_000);
    const t0 = performance.now();
    const scale = execa('docker', ['service', 'scale', '--detach', `${stack}_app=${target}`]);
    const [shown] = await Promise.all([onScreen, scale]);
    const done = await running;
    screen.push(shown.at - t0);
    converged.push(done.at - t0);
    log(`scale ${stack}_app ${current}→${target}: on screen after ${fmt(shown.at - t0, 0)} ms, running after ${fmt(done.at - t0, 0)} ms`);
    current = target;
    await sleep(1000); // let the model's follow-up re-reads for this service end before the next change
  }
  return { screen, converged };
}

async function load(port: number, cookie: string, rss: () => number): Promise<{ requests: number; errors: number; times: number[]; peakRss: number; firstError?: string }> {
  const times: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let peakRss = rss();
  const sampler = setInterval(() => {
    const now = rss();
    if (now > peakRss || Number.isNaN(peakRss)) peakRss = now;
  }, RSS_SAMPLE_MS);
  const deadline = performance.now() + LOAD_MS;
  const onError = (why: string) => {
    errors += 1;
    firstError ??= why;
  };
  try {
    // Each client is one keep-alive connection asking again as soon as a page has arrived (no pause: the worst case).
    await Promise.all(Array.from({ length: LOAD_CLIENTS }, () => loadConnection(port, '/', cookie, deadline, times, onError)));
  } finally {
    clearInterval(sampler);
  }
  return { requests: times.length, errors, times, peakRss, firstError };
}

/** Idle and total CPU time of the whole machine so far (all cores), from os.cpus(). */
function machineCpu(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

/** How busy all cores were between two machineCpu() readings, in % (others' work included). */
const busyPct = (a: { idle: number; total: number }, b: { idle: number; total: number }) => (1 - (b.idle - a.idle) / (b.total - a.total)) * 100;

async function main(): Promise<void> {
  process.stdout.write(
    '# targets: dashboard p50 < 5 ms and >= 50x faster than the CLI; change-to-screen < 1 s; RSS idle < 60 MB and <= rss_floor + 15 MB; under load (50 clients, 30 s) < 80 MB and <= rss_floor + 15 MB, 0 errors, p99 < 50 ms\n',
  );
  figure('node_version', process.version);
  if (process.env.BENCH_NODE_OPTIONS) figure('node_options', process.env.BENCH_NODE_OPTIONS);
  if (process.env.BENCH_NODE_FLAGS) figure('node_flags', process.env.BENCH_NODE_FLAGS);
  if (process.env.BENCH_CHILD_ENV) figure('child_env', process.env.BENCH_CHILD_ENV);

  await ensureTestImage();
  const password = randomBytes(18).toString('base64url');
  const passwordFile = path.join(workDir, 'admin-password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const dataDir = path.join(workDir, 'data');
  const abraDir = path.join(workDir, 'abra');

  log('starting the compiled node (dist/app/server.js)');
  node = await startDistNode({ dataDir, adminPasswordFile: passwordFile, abraDir });
  const n = node;
  const cookie = await logIn(n.port, password);
  const rssStart = n.rssMb();
  log(`node pid ${n.pid} on port ${n.port}, logged in; RSS ${fmt(rssStart, 1)} MB before any stack`);

  // One logged-in viewer keeps /live open for the whole run, as a steward's browser would.
  sse = await SseClient.open(n.port, '/live', cookie);
  const viewer = sse;
  let stalePushes = 0;
  viewer.on((e) => {
    if (e.event === 'apps' && STALE_BANNER.test(e.data)) stalePushes += 1;
  });

  const t0 = performance.now();
  log(`deploying ${STACKS} stacks, ${DEPLOY_BATCH} at a time`);
  await deployAll(stacks, DEPLOY_BATCH, (done) => log(`deployed ${done}/${STACKS}`));
  await waitForAllRunning(n.port, cookie);
  log(`all ${STACKS} bench stacks running on the dashboard after ${fmt((performance.now() - t0) / 1000, 1)} s`);

  // Settled = no push on /live for 3 s. Other people's stacks (e.g. a crash loop) can keep it busy: bounded wait.
  const settled = await viewer.quiet(3000, 15_000);
  log(settled ? 'model settled (no SSE push for 3 s)' : 'model still pushing after 15 s (other stacks on the swarm changing?); measuring anyway');

  // The floor, started now so it idles beside the node: the packages alone, same flags (see startFloorProc).
  log(`memory floor: a process importing only ${FLOOR_PACKAGES.join(', ')}`);
  floor = await startFloorProc();
  const f = floor;
  await sleep(2000); // past its start-up garbage, as the node is past its own

  // Idle: nothing asked of the node for IDLE_MS; RSS sampled throughout, pushes counted (ideally 0 on a quiet swarm).
  const idle: number[] = [];
  const floorRss: number[] = [];
  const pushesBefore = viewer.events;
  const machineIdleBefore = machineCpu();
  for (let at = 0; at < IDLE_MS; at += RSS_SAMPLE_MS) {
    idle.push(n.rssMb());
    floorRss.push(f.rssMb());
    await sleep(RSS_SAMPLE_MS);
  }
  const idleBusy = busyPct(machineIdleBefore, machineCpu());
  const rssFloor = median(floorRss);
  floor.stop();
  floor = undefined;
  figure('rss_floor_mb', rssFloor);
  figure('rss_idle_mb', median(idle));
  figure('rss_idle_over_floor_mb', median(idle) - rssFloor);

  log(`dashboard: ${WARMUP_REQUESTS} warm-up then ${DASHBOARD_REQUESTS} sequential GET /`);
  const dash = await dashboardLatency(n.port, cookie);
  const p50 = percentile(dash, 50);
  figure('dashboard_p50_ms', p50);
  figure('dashboard_p99_ms', percentile(dash, 99));

  log(`CLI alternative: docker stack ls + docker service ls, ${CLI_RUNS} times`);
  const cli = median(await cliAlternative());
  figure('cli_alternative_ms', cli);
  figure('dashboard_speedup_vs_cli', fmt(cli / p50, 1));

  log(`change to screen: scaling ${stacks[0]}_app ${SCALE_RUNS} times`);
  const change = await changeToScreen(viewer, stacks[0]!);
  figure('change_to_screen_ms', median(change.screen));

  log(`load: ${LOAD_CLIENTS} concurrent clients on GET / for ${LOAD_MS / 1000} s`);
  const cpuBefore = n.cpuMs();
  const waitBefore = n.runqueueWaitMs();
  const benchCpuBefore = process.cpuUsage();
  const machineBefore = machineCpu();
  const loaded = await load(n.port, cookie, () => n.rssMb());
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const nodeCpuPct = ((n.cpuMs() - cpuBefore) / LOAD_MS) * 100;
  const nodeWaitPct = ((n.runqueueWaitMs() - waitBefore) / LOAD_MS) * 100;
  const loadBusy = busyPct(machineBefore, machineCpu());
  figure('rss_load_mb', loaded.peakRss);
  figure('rss_load_over_floor_mb', loaded.peakRss - rssFloor);
  figure('load_requests', loaded.requests);
  figure('load_errors', loaded.errors);
  figure('load_p99_ms', percentile(loaded.times, 99));
  if (loaded.firstError) log(`load: first error: ${loaded.firstError}`);

  // Context for the figures above (not targets).
  process.stdout.write('# context\n');
  figure('rss_start_mb', rssStart);
  figure('rss_after_load_mb', n.rssMb());
  figure('idle_sse_pushes', `${viewer.events - pushesBefore} in ${IDLE_MS / 1000} s`);
  figure('sse_stale_banner_pushes', stalePushes);
  figure('machine_busy_pct_while_idle', idleBusy);
  figure('change_to_running_ms', median(change.converged));
  figure('load_p50_ms', percentile(loaded.times, 50));
  figure('load_rps', loaded.requests / (LOAD_MS / 1000));
  figure('load_node_cpu_pct', nodeCpuPct);
  // Share of the load window the node's main thread sat runnable without a CPU: high means the machine, not the node, was the limit.
  figure('load_node_runqueue_wait_pct', nodeWaitPct);
  figure('load_bench_client_cpu_pct', ((benchCpu.user + benchCpu.system) / 1000 / LOAD_MS) * 100);
  figure('load_machine_busy_pct', loadBusy);
  figure('loadavg_1m', loadavg()[0] ?? Number.NaN);
  figure('dashboard_bytes', (await get(n.port, '/', { agent: false, cookie, keepBody: true })).body.length);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  if (node) process.stderr.write(`node output (last lines):\n${node.output()}\n`);
} finally {
  await cleanUp();
}
// BENCH_SKIP=zim,backup leaves those out (a quick before/after of the node's own figures).
const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').map((s) => s.trim()));
// The ZIM download bench runs on its own (a quiet machine after the swarm work): its figures go to our stdout.
if (!failed && !skip.has('zim')) {
  log('ZIM download: the node’s downloader vs curl');
  const zim = await execa(process.execPath, [path.join(import.meta.dirname, 'zim-download.ts')], { stdout: 'inherit', stderr: 'inherit', reject: false });
  failed = zim.exitCode !== 0;
}
if (!failed && !skip.has('backup')) {
  log('Backups: the node’s backup job vs restic’s command line');
  const backup = await execa(process.execPath, [path.join(import.meta.dirname, 'backup.ts')], { stdout: 'inherit', stderr: 'inherit', reject: false });
  failed = backup.exitCode !== 0;
}
figure('bench_wall_s', (performance.now() - startedAt) / 1000);
process.exit(failed ? 1 : 0);
