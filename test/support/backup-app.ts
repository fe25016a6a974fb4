// A test app shaped as backup-bot-two's labels expect: three volumes (one left out by a label, one limited to a
// path), a pre-hook that writes a dump into a backed-up volume, and restic helpers to look inside the repository.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { runningContainers } from '../../app/adapters/docker/stack-mounts.ts';
import { testNode, type TestNode } from './app.ts';
import { eventually, within } from './poll.ts';
import { ensureTestImage, removeStack, TEST_IMAGE } from './swarm.ts';

export const VOLUMES_DIR = '/var/lib/docker/volumes';
export const dataDirOf = (stack: string, volume: string) => path.join(VOLUMES_DIR, `${stack}_${volume}`, '_data');

/** The stack's compose file: `db` (all of it, plus the hook's dump), `files` (only `keep`), `cache` (left out). */
export function backupAppCompose(stack: string, opts: { preHook?: string; extraLabels?: Record<string, string>; healthcheck?: string[] } = {}): string {
  return stringify({
    version: '3.8',
    services: {
      app: {
        image: TEST_IMAGE,
        command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
        volumes: ['db:/db', 'files:/files', 'cache:/cache'],
        ...(opts.healthcheck ? { healthcheck: { test: opts.healthcheck, interval: '2s', timeout: '2s', retries: 2, start_period: '1s' } } : {}),
        deploy: {
          labels: {
            [`coop-cloud.${stack}.recipe`]: 'backup-test',
            [`coop-cloud.${stack}.version`]: '1.0.0+1',
            'backupbot.backup': 'true',
            'backupbot.backup.pre-hook': opts.preHook ?? 'cat /db/data.txt > /db/dump.sql',
            'backupbot.backup.volumes.cache': 'false',
            'backupbot.backup.volumes.files.path': 'keep',
            ...opts.extraLabels,
          },
          restart_policy: { condition: 'on-failure', delay: '1s' },
          update_config: { delay: '0s', monitor: '1s' },
        },
        stop_grace_period: '2s',
      },
    },
    volumes: { db: {}, files: {}, cache: {} },
  });
}

export async function deployBackupApp(stack: string, opts: Parameters<typeof backupAppCompose>[1] = {}): Promise<void> {
  await ensureTestImage();
  const dir = mkdtempSync(path.join(tmpdir(), 'backup-app-'));
  writeFileSync(path.join(dir, 'compose.yml'), backupAppCompose(stack, opts));
  await execa('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', path.join(dir, 'compose.yml'), stack]);
}

export async function removeBackupApp(stack: string): Promise<void> {
  await removeStack(stack, 60_000);
  const vols = (await execa('docker', ['volume', 'ls', '-q', '-f', `label=com.docker.stack.namespace=${stack}`], { reject: false })).stdout.split('\n').filter(Boolean);
  // A volume stays "in use" for a moment after its container is gone.
  if (vols.length) await eventually(async () => (await execa('docker', ['volume', 'rm', ...vols], { reject: false })).exitCode === 0, 10_000, 500);
}

export type BackupTestbed = { node: TestNode; work: string; repository: string; close(): Promise<void> };

/**
 * The backup tests' start: a work folder (the repository goes in `repository`, not made yet), an in-process node
 * with the live model, and the backup test app deployed, running, seen by the model and adopted (it was deployed
 * from elsewhere, so it is read-only until an admin adopts it: README, "Who may do what").
 */
export async function backupTestbed(stack: string, opts: Parameters<typeof backupAppCompose>[1] = {}): Promise<BackupTestbed> {
  const work = mkdtempSync(path.join(tmpdir(), 'backups-'));
  const node = await testNode({}, { live: true });
  await deployBackupApp(stack, opts);
  await within('the test app runs', 60_000, async () => (await runningContainers(node.services.docker, stack)) > 0);
  await within('the live model sees it', 20_000, () => [...node.services.model.services.values()].some((s) => s.stack === stack && s.running > 0));
  node.services.store.adoptedStacks.adopt(stack, 'admin', Date.now());
  return {
    node,
    work,
    repository: path.join(work, 'repo'),
    async close() {
      node.close();
      await removeBackupApp(stack);
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Every file, folder and link below `root` with its content hash (or link target) and mode: a byte-for-byte picture. */
export function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${mode}`;
        walk(p);
      } else out[rel] = `file ${mode} ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** restic against a repository with a password file, for looking inside from a test. */
export function resticCli(repository: string, passwordFile: string) {
  const env = { RESTIC_REPOSITORY: repository, RESTIC_PASSWORD_FILE: passwordFile, RESTIC_CACHE_DIR: path.join(tmpdir(), 'restic-test-cache') };
  return {
    run: (args: string[]) => execa('restic', args, { env, reject: false }),
    /** The files and folders a snapshot holds (absolute paths). */
    async ls(snapshot: string): Promise<{ path: string; type: string }[]> {
      const r = await execa('restic', ['ls', '--json', snapshot], { env });
      return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { struct_type?: string; path?: string; type?: string }).filter((x) => x.struct_type === 'node').map((x) => ({ path: x.path!, type: x.type! }));
    },
  };
}
