// Kiwix on a 64-bit Raspberry Pi, here under QEMU: the bundled Kiwix recipe's test image built for linux/arm64
// from Debian's own arm64 kiwix-tools (and every package it needs, unpacked with dpkg-deb; busybox for the shell),
// running the recipe's library-mode entrypoint as a swarm service, serves an article from a tiny ZIM.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestZim, type TestZim } from '../support/kiwix.ts';
import { haveDocker } from '../support/requirements.ts';
import { eventually } from '../support/poll.ts';
import { freePort, REPO_ROOT } from '../support/server.ts';
import { tmp } from './recipe-stack.ts';

const canRun = await haveDocker();
const RUN = randomBytes(3).toString('hex');
const SERVICE = `e2e-kiwix-arm64-${RUN}`;
const CONFIG = `${SERVICE}-entrypoint`;
const LAYOUT = 1;
const log = (line: string) => console.log(`[kiwix arm64 ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** kiwix-tools:arm64 and what it depends on (recursively, no recommends), as apt resolves it here. */
async function kiwixClosure(): Promise<string[]> {
  const { stdout } = await execa('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', 'kiwix-tools:arm64']);
  const pkgs = new Set(stdout.split('\n').filter((l) => /^[a-z0-9][a-z0-9.+-]*:arm64$/.test(l)));
  pkgs.add('busybox-static:arm64');
  return [...pkgs].sort();
}

/** The stand-in kiwix-serve image for arm64, made once per package set (the tag is their hash). */
async function ensureKiwixArm64(work: string): Promise<string> {
  const pkgs = await kiwixClosure();
  const debs = path.join(work, 'debs');
  mkdirSync(debs, { recursive: true });
  const dl = await execa('apt-get', ['download', ...pkgs], { cwd: debs, reject: false, all: true });
  if (dl.exitCode !== 0) throw new Error(`apt-get download of kiwix-tools:arm64 failed (dpkg --add-architecture arm64 && apt-get update?):\n${dl.all}`);
  const files = readdirSync(debs).filter((f) => f.endsWith('.deb')).sort();
  const tag = `e2e-kiwix-arm64:${createHash('sha256').update(`${LAYOUT}\n${files.join('\n')}`).digest('hex').slice(0, 12)}`;
  if ((await execa('docker', ['image', 'inspect', tag], { reject: false })).exitCode === 0) return tag;
  const R = path.join(work, 'rootfs');
  for (const f of files) await execa('dpkg-deb', ['-x', path.join(debs, f), R]);
  for (const d of ['tmp', 'data', 'etc']) mkdirSync(path.join(R, d), { recursive: true });
  chmodSync(path.join(R, 'tmp'), 0o1777);
  for (const applet of ['sh', 'wget', 'stat', 'ls', 'cat', 'echo', 'printf', 'sleep', 'mv', 'rm', 'id', 'kill', 'test', '[', 'true', 'date', 'uname']) {
    if (!existsSync(path.join(R, 'bin', applet))) symlinkSync('busybox', path.join(R, 'bin', applet));
  }
  writeFileSync(path.join(R, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nkiwix:x:1001:1001::/data:/bin/sh\n');
  writeFileSync(path.join(R, 'etc/group'), 'root:x:0:\nkiwix:x:1001:\n');
  await execa('tar', ['-C', R, '--owner=0', '--group=0', '-cf', path.join(work, 'rootfs.tar'), '.']);
  rmSync(R, { recursive: true, force: true });
  writeFileSync(
    path.join(work, 'Dockerfile'),
    ['FROM scratch', 'ADD rootfs.tar /', 'ENV PATH=/usr/bin:/bin', 'LABEL lores.test=kiwix-stand-in-arm64', 'USER 1001', 'WORKDIR /data', 'EXPOSE 8080', 'CMD ["kiwix-serve", "--help"]', ''].join('\n'),
  );
  await execa('docker', ['build', '-q', '-t', tag, work], { env: { DOCKER_BUILDKIT: '0' } });
  return tag;
}

describe.skipIf(!canRun)('Kiwix on arm64 (under QEMU)', () => {
  const work = tmp('e2e-kiwix-arm64-');
  let image = '';
  let zim: TestZim;

  beforeAll(async () => {
    const t0 = Date.now();
    image = await ensureKiwixArm64(path.join(work, 'image'));
    log(`image ${image} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const zims = path.join(work, 'zims');
    mkdirSync(zims);
    zim = await makeTestZim(zims, { name: 'lores_arm', articleText: `Served by an arm64 kiwix-serve, run ${RUN}.` });
    chmodSync(zims, 0o755);
  }, 600_000);

  afterAll(async () => {
    await execa('docker', ['service', 'rm', SERVICE], { reject: false });
    await eventually(async () => (await execa('docker', ['ps', '-aq', '-f', `label=com.docker.swarm.service.name=${SERVICE}`])).stdout.trim() === '', 60_000, 500);
    await execa('docker', ['config', 'rm', CONFIG], { reject: false });
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('is an arm64 image of Debian’s kiwix-tools', async () => {
    const { stdout } = await execa('docker', ['image', 'inspect', image, '--format', '{{.Size}}']);
    expect(Number(stdout)).toBeGreaterThan(1e6);
    const c = (await execa('docker', ['create', image])).stdout.trim();
    try {
      await execa('docker', ['cp', '-L', `${c}:/usr/bin/kiwix-serve`, path.join(work, 'kiwix-serve')]);
      expect((await execa('file', ['-b', path.join(work, 'kiwix-serve')])).stdout).toMatch(/ARM aarch64/);
    } finally {
      await execa('docker', ['rm', c], { reject: false });
    }
  });

  it('runs the recipe’s library-mode entrypoint as a swarm service and serves the ZIM’s article', async () => {
    const port = await freePort();
    await execa('docker', ['config', 'create', CONFIG, path.join(REPO_ROOT, 'recipes', 'kiwix', 'entrypoint.sh')]);
    const t0 = Date.now();
    await execa('docker', [
      'service', 'create', '--detach', '--name', SERVICE, '--no-resolve-image',
      '--config', `source=${CONFIG},target=/lores-entrypoint.sh`,
      '--mount', `type=bind,source=${path.dirname(zim.path)},target=/data,readonly`,
      '--publish', `mode=host,target=8080,published=${port}`,
      '--entrypoint', '/bin/sh /lores-entrypoint.sh',
      image,
    ]);
    let body = '';
    const served = await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}${zim.urlPath}`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
        body = res?.ok ? await res.text() : '';
        return body.includes(zim.articleText);
      },
      300_000,
      2000,
    );
    const logs = served ? '' : (await execa('docker', ['service', 'logs', '--raw', SERVICE], { reject: false, all: true })).all;
    expect(served, `no article at ${zim.urlPath}; service logs:\n${logs}`).toBe(true);
    console.log(`kiwix_arm64_service_to_article_s: ${((Date.now() - t0) / 1000).toFixed(1)}`);
    const [id] = (await execa('docker', ['ps', '-q', '-f', `label=com.docker.swarm.service.name=${SERVICE}`])).stdout.split('\n');
    expect((await execa('docker', ['exec', id!, 'uname', '-m'])).stdout.trim()).toBe('aarch64');
  });
});
