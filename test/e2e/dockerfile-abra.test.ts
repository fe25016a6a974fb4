// The Dockerfile's release path for abra (ABRA_SOURCE a URL, the default): the tarball for the build's
// architecture is downloaded and checked against the pinned sha-256, and a mismatch fails the build. A small
// HTTP server on the Docker bridge stands in for git.coopcloud.tech (unreachable here).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseImage, removeImages } from '../support/image.ts';
import { haveDocker } from '../support/requirements.ts';
import { bridgeAddress } from '../support/release.ts';
import { REPO_ROOT } from '../support/server.ts';
import { tmp } from './recipe-stack.ts';

const canRun = await haveDocker();
const TAG = `e2e-lores-abra-release:${randomBytes(3).toString('hex')}`;
const RELEASE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armv7' };

describe.skipIf(!canRun)('Dockerfile: abra from its release URL', () => {
  const work = tmp('e2e-abra-release-');
  const requests: string[] = [];
  let server: Server;
  let source = '';
  let sha256 = '';
  let base = '';

  beforeAll(async () => {
    base = await ensureBaseImage();
    writeFileSync(path.join(work, 'abra'), '#!/bin/sh\necho "abra version 0.13.0-beta (fake release)"\n', { mode: 0o755 });
    await execa('tar', ['-czf', path.join(work, 'release.tar.gz'), '-C', work, 'abra']);
    const tarball = readFileSync(path.join(work, 'release.tar.gz'));
    sha256 = createHash('sha256').update(tarball).digest('hex');
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (/^\/abra_0\.13\.0-beta_linux_(amd64|arm64|armv7)\.tar\.gz$/.test(req.url ?? '')) res.end(tarball);
      else res.writeHead(404).end();
    });
    const address = await bridgeAddress();
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    source = `http://${address}:${(server.address() as AddressInfo).port}/abra_0.13.0-beta_linux_{arch}.tar.gz`;
  }, 120_000);

  afterAll(async () => {
    server?.close();
    await removeImages([TAG]);
    rmSync(work, { recursive: true, force: true });
  });

  const build = (extra: string[]) =>
    execa('docker', ['build', '-q', '--target', 'abra-release', '-t', TAG, '--build-arg', `BUILD_IMAGE=${base}`, '--build-arg', `ABRA_SOURCE=${source}`, ...extra, REPO_ROOT], {
      env: { DOCKER_BUILDKIT: '0' },
      reject: false,
      all: true,
    });

  it('installs the release for this architecture when its sha-256 matches', async () => {
    const sums = ['AMD64', 'ARM64', 'ARMV7'].flatMap((a) => ['--build-arg', `ABRA_SHA256_${a}=${sha256}`]);
    const r = await build(sums);
    expect(r.exitCode, r.all).toBe(0);
    expect(requests.at(-1)).toBe(`/abra_0.13.0-beta_linux_${RELEASE_ARCH[process.arch]}.tar.gz`);
    const run = await execa('docker', ['run', '--rm', TAG, '/out/usr/local/bin/abra']);
    expect(run.stdout).toContain('fake release');
  }, 300_000);

  it('fails the build when the download does not match the pinned sha-256', async () => {
    const r = await build([]); // the real release's sums, pinned in the Dockerfile
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toMatch(/did NOT match|FAILED/);
  }, 300_000);
});
