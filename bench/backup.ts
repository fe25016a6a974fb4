// The backup bench: a labelled two-volume app on the local swarm with 300 MB of incompressible data and 200 small
// files, backed up by the node (a job: labels read from the swarm, the pre-hook run in the container, restic with
// progress) and by `restic backup` of the same paths from the command line, three times each, alternating, each
// into a fresh repository. Figures are medians (MB = 10^6 bytes of data backed up per second of wall time):
//   backup_mb_s, restic_cli_mb_s, backup_ratio_vs_restic (goal ≥ 0.9), incremental_backup_s (one file changed).
// Run alone: `node bench/backup.ts`.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { buildServices } from '../app/app.ts';
import { createDocker } from '../app/adapters/docker/client.ts';
import { runningContainers } from '../app/adapters/docker/stack-mounts.ts';
import { pathsOf } from '../app/services/backups/labels.ts';
import { loadConfig } from '../app/config.ts';
import { createLogger } from '../app/log.ts';
import { createStore } from '../app/store/index.ts';
import { dataDirOf, deployBackupApp, removeBackupApp, VOLUMES_DIR } from '../test/support/backup-app.ts';
import { fmt, median, sleep } from './stats.ts';

const RUNS = 3;
const BIG_MB = 300;
const STACK = `bench_bk${randomBytes(2).toString('hex')}`;
const startedAt = performance.now();
const log = (msg: string) => process.stderr.write(`[backup-bench ${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${msg}\n`);
const figure = (name: string, value: number) => process.stdout.write(`${name}: ${fmt(value)}\n`);

const work = mkdtempSync(path.join(tmpdir(), 'lores-backup-bench-'));
const config = loadConfig({ DATA_DIR: path.join(work, 'data'), ABRA_DIR: path.join(work, 'abra'), LOG_LEVEL: 'silent', CATALOGUE_URL: '' });
const store = createStore(config.dataDir);
const services = buildServices({ config, store, docker: createDocker(config.dockerSocket), log: createLogger('silent') });
const actor = { name: 'bench', ip: null };

async function nodeBackup(): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  const job = await services.jobs.finished(services.backups.backUp(STACK, actor).id);
  const seconds = (performance.now() - started) / 1000;
  if (job.state !== 'succeeded') throw new Error(`the node's backup ${job.state}: ${job.error}`);
  return { seconds, bytes: store.backups.runs(STACK, 1)[0]!.bytes };
}

async function cliBackup(repository: string, paths: string[]): Promise<{ seconds: number; bytes: number }> {
  const env = { RESTIC_REPOSITORY: repository, RESTIC_PASSWORD_FILE: services.backupRepo.passwordFile, RESTIC_CACHE_DIR: path.join(work, 'cli-cache') };
  await execa('restic', ['init'], { env });
  const started = performance.now();
  const r = await execa('restic', ['backup', '--json', '--host', 'bench', ...paths], { env });
  const seconds = (performance.now() - started) / 1000;
  const summary = r.stdout.split('\n').filter((l) => l.includes('"summary"')).map((l) => JSON.parse(l) as { total_bytes_processed: number })[0]!;
  return { seconds, bytes: summary.total_bytes_processed };
}

async function main(): Promise<void> {
  log(`deploying ${STACK} and writing ${BIG_MB} MB of data`);
  await deployBackupApp(STACK);
  for (let i = 0; i < 240 && (await runningContainers(services.docker, STACK)) === 0; i++) await sleep(250);
  const db = dataDirOf(STACK, 'db');
  writeFileSync(path.join(db, 'data.txt'), 'rows\n');
  await execa('dd', ['if=/dev/urandom', `of=${path.join(db, 'big.bin')}`, `bs=1M`, `count=${BIG_MB}`, 'status=none']);
  const keep = path.join(dataDirOf(STACK, 'files'), 'keep');
  mkdirSync(keep, { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(path.join(keep, `f${i}.bin`), randomBytes(100_000));
  const plan = (await services.backups.planOf(STACK))!;
  // The pre-hook's dump exists before the command line's runs too, so both back up the same files.
  await execa('docker', ['exec', (await services.docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${plan.service}`] } }))[0]!.Id, 'sh', '-c', plan.preHook!]);
  const paths = pathsOf(plan, VOLUMES_DIR);
  await execa('sync');

  const node: number[] = [];
  const cli: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    await services.backupRepo.setUp({ repository: path.join(work, `node-repo-${run}`) }, 'bench');
    const n = await nodeBackup();
    node.push(n.bytes / 1e6 / n.seconds);
    log(`run ${run}: node ${fmt(n.bytes / 1e6)} MB in ${fmt(n.seconds)} s = ${fmt(node.at(-1)!)} MB/s`);
    const c = await cliBackup(path.join(work, `cli-repo-${run}`), paths);
    cli.push(c.bytes / 1e6 / c.seconds);
    log(`run ${run}: restic ${fmt(c.bytes / 1e6)} MB in ${fmt(c.seconds)} s = ${fmt(cli.at(-1)!)} MB/s`);
    if (run < RUNS) for (const dir of [`node-repo-${run}`, `cli-repo-${run}`]) rmSync(path.join(work, dir), { recursive: true, force: true });
  }
  // Incremental: one small file changed since the last snapshot in the node's repository.
  appendFileSync(path.join(keep, 'f0.bin'), randomBytes(1_000_000));
  const inc = await nodeBackup();
  figure('backup_mb_s', median(node));
  figure('restic_cli_mb_s', median(cli));
  figure('backup_ratio_vs_restic', median(node) / median(cli));
  figure('incremental_backup_s', inc.seconds);
}

try {
  await main();
} finally {
  store.close();
  await removeBackupApp(STACK);
  rmSync(work, { recursive: true, force: true });
}
