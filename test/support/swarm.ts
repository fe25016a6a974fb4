// Real stacks on the local swarm for tests: a tiny local image (no registry here) and deploy/remove helpers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { eventually } from './poll.ts';

export const TEST_IMAGE = 'lores-test/busybox:1';
/** The same image under a second tag, so a recipe's new version can change its image. */
export const TEST_IMAGE_2 = 'lores-test/busybox:2';

/** Imports a busybox rootfs as a local image once (Debian's busybox-static; no pull possible here). */
export async function ensureTestImage(): Promise<void> {
  const has = await execa('docker', ['image', 'inspect', TEST_IMAGE, TEST_IMAGE_2], { reject: false });
  if (has.exitCode === 0) return;
  const root = mkdtempSync(path.join(tmpdir(), 'busybox-root-'));
  await execa('mkdir', ['-p', `${root}/bin`, `${root}/tmp`, `${root}/www`]);
  await execa('cp', ['/bin/busybox', `${root}/bin/busybox`]);
  for (const cmd of ['sh', 'sleep', 'httpd', 'echo', 'cat', 'true', 'false', 'ls']) await execa('ln', ['-sf', 'busybox', `${root}/bin/${cmd}`]);
  const tarFile = `${root}.tar`;
  await execa('tar', ['-C', root, '-cf', tarFile, '.']);
  await execa('docker', ['import', tarFile, TEST_IMAGE]);
  await execa('docker', ['tag', TEST_IMAGE, TEST_IMAGE_2]);
}

export type ServiceSpec = {
  command?: string;
  replicas?: number;
  global?: boolean;
  labels?: Record<string, string>;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number; start_period?: string };
  /** Swarm's restart condition: `on-failure` (default here) leaves a task that exited 0 stopped, `any` restarts it. */
  restart?: 'on-failure' | 'any';
};

/** A stack shaped like a Co-op Cloud app: `app` carries the coop-cloud and Traefik labels abra and the recipe set. */
export function coopCloudStack(stack: string, opts: { recipe: string; version: string; domain: string; services?: Record<string, ServiceSpec> }) {
  return {
    app: {
      labels: {
        [`coop-cloud.${stack}.recipe`]: opts.recipe,
        [`coop-cloud.${stack}.version`]: opts.version,
        [`coop-cloud.${stack}.chaos`]: 'false',
        'traefik.enable': 'true',
        [`traefik.http.routers.${stack}.rule`]: `Host(\`${opts.domain}\`)`,
      },
    },
    ...opts.services,
  } satisfies Record<string, ServiceSpec>;
}

export function composeFor(services: Record<string, ServiceSpec>): string {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(services)) {
    out[name] = {
      image: TEST_IMAGE,
      // `$$` keeps a shell `$` from compose's own interpolation.
      command: ['sh', '-c', (s.command ?? 'trap "exit 0" TERM; while true; do sleep 1; done').replaceAll('$', () => '$$')],
      ...(s.healthcheck ? { healthcheck: s.healthcheck } : {}),
      deploy: {
        mode: s.global ? 'global' : 'replicated',
        ...(s.global ? {} : { replicas: s.replicas ?? 1 }),
        labels: s.labels ?? {},
        restart_policy: { condition: s.restart ?? 'on-failure', delay: '1s' },
        update_config: { delay: '0s', monitor: '1s' },
      },
      stop_grace_period: '2s',
    };
  }
  return stringify({ version: '3.8', services: out });
}

export async function deployStack(stack: string, services: Record<string, ServiceSpec>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stack-'));
  const file = path.join(dir, 'compose.yml');
  writeFileSync(file, composeFor(services));
  await execa('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', file, stack]);
}

/** `docker stack rm` returns before cleanup ends: wait until the stack's containers are gone. */
export async function removeStack(stack: string, timeoutMs = 30_000): Promise<void> {
  await execa('docker', ['stack', 'rm', stack], { reject: false });
  const containersLeft = async () => (await execa('docker', ['ps', '-aq', '-f', `label=com.docker.stack.namespace=${stack}`], { reject: false })).stdout.trim();
  await eventually(async () => !(await containersLeft()), timeoutMs, 250);
}

/** Removes a stack as `abra app undeploy` + `remove` would leave nothing: its containers, then its configs and secrets. */
export async function removeStackAndObjects(stack: string, timeoutMs = 60_000): Promise<void> {
  await removeStack(stack, timeoutMs);
  for (const kind of ['config', 'secret'] as const) {
    const ls = await execa('docker', [kind, 'ls', '--format', '{{.Name}}'], { reject: false });
    const ours = ls.stdout.split('\n').filter((n) => n.startsWith(`${stack}_`));
    if (ours.length) await execa('docker', [kind, 'rm', ...ours], { reject: false });
  }
}
