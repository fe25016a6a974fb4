// CPU-architecture fit against a real registry (Debian's docker-registry on 127.0.0.1) holding real
// multi-architecture indexes, asked through the real Docker daemon's distribution endpoint.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocker } from '../../app/adapters/docker/client.ts';
import { ImageLookupError, imagePlatforms, nodePlatform, platformFromArch, type Platform } from '../../app/adapters/docker/platforms.ts';
import { archFitService, label } from '../../app/services/arch-fit.ts';
import { createStore, type Store } from '../../app/store/index.ts';
import { closedAddress, pushIndex, pushSingleArch, silentServer, startRegistry, type Pushed, type Registry } from '../support/registry.ts';
import { DOCKER_SOCKET, haveDocker } from '../support/requirements.ts';
import { TEST_IMAGE, ensureTestImage } from '../support/swarm.ts';
import { execa } from 'execa';

const dockerThere = await haveDocker();

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };
const ARM64V8: Platform = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const ARM64 = platformFromArch('aarch64');
const ARMV7 = platformFromArch('armv7l');

/** The app's Docker client, with every call to the daemon counted. */
function countedDocker() {
  const docker = createDocker(DOCKER_SOCKET);
  const calls: string[] = [];
  const dial = docker.modem.dial.bind(docker.modem);
  docker.modem.dial = ((opts: { path: string }, cb: never) => {
    calls.push(opts.path);
    return dial(opts as never, cb);
  }) as typeof docker.modem.dial;
  return { docker, calls };
}

describe.skipIf(!dockerThere)('CPU fit through the real daemon and a real registry', () => {
  let reg: Registry;
  let dir: string;
  let store: Store;
  let oci: Pushed;
  let list: Pushed;
  let amdOnly: Pushed;
  let armOnly: Pushed;
  let ociSingle: Pushed;
  let clock = Date.now();
  const now = () => clock;
  const service = (opts: { node?: Platform; timeoutMs?: number } = {}) => {
    const counted = countedDocker();
    return { ...counted, fit: archFitService({ docker: counted.docker, store, now, ...opts }) };
  };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = mkdtempSync(path.join(tmpdir(), 'lores-archfit-'));
    store = createStore(dir);
    [oci, list, amdOnly, armOnly, ociSingle] = await Promise.all([
      pushIndex(reg, 'multi-oci', '1', 'oci', [AMD64, ARM64V8]),
      pushIndex(reg, 'multi-docker', '1', 'docker', [AMD64, ARM64V8]),
      pushSingleArch(reg, 'only-amd64', '1', 'amd64'),
      pushSingleArch(reg, 'only-arm64', '1', 'arm64'),
      pushSingleArch(reg, 'only-amd64-oci', '1', 'amd64', 'oci'),
    ]);
  });

  afterAll(async () => {
    await reg?.close();
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads this node's platform from the daemon", async () => {
    const info = (await new Docker({ socketPath: DOCKER_SOCKET }).info()) as { Architecture: string };
    expect(await nodePlatform(createDocker(DOCKER_SOCKET))).toEqual(platformFromArch(info.Architecture));
  });

  it('reads the platforms of an OCI index and of a Docker manifest list', async () => {
    const docker = createDocker(DOCKER_SOCKET);
    for (const pushed of [oci, list]) {
      const got = await imagePlatforms(docker, pushed.ref);
      expect(got).toEqual({ digest: pushed.digest, platforms: [AMD64, ARM64V8] });
    }
    // A single Docker manifest: the daemon reads the platform from its config blob.
    expect(await imagePlatforms(docker, armOnly.ref)).toEqual({ digest: armOnly.digest, platforms: [{ os: 'linux', architecture: 'arm64' }] });
  });

  it('multi-arch images run on this amd64 node and on an arm64 node, not on arm/v7 (naming the service)', async () => {
    const images = [
      { service: 'app', image: oci.ref },
      { service: 'db', image: list.ref },
    ];
    const here = await service().fit.check(images);
    expect(here.node).toEqual(AMD64);
    expect(here.verdict).toBe('runs');
    expect(here.services.map((s) => s.verdict)).toEqual(['runs', 'runs']);
    expect(here.services[0]).toMatchObject({ digest: oci.digest, platforms: [AMD64, ARM64V8] });
    expect(label(here)).toBe('runs here');

    expect((await service({ node: ARM64 }).fit.check(images)).verdict).toBe('runs');

    const pi32 = await service({ node: ARMV7 }).fit.check([{ service: 'app', image: oci.ref }]);
    expect(pi32.verdict).toBe('not-for-this-cpu');
    expect(pi32.services[0]).toMatchObject({ service: 'app', verdict: 'not-for-this-cpu' });
    expect(label(pi32)).toBe('not for this CPU: app (amd64, arm64 only)');
  });

  it('single-arch images: amd64 runs here, arm64 is not for this CPU', async () => {
    const { fit } = service();
    expect((await fit.check([{ service: 'app', image: amdOnly.ref }])).verdict).toBe('runs');
    const arm = await fit.check([{ service: 'app', image: armOnly.ref }]);
    expect(arm.verdict).toBe('not-for-this-cpu');
    expect(label(arm)).toBe('not for this CPU: app (arm64 only)');
  });

  it('a two-service recipe where one image lacks this CPU names that service', async () => {
    const fit = await service().fit.check([
      { service: 'app', image: oci.ref },
      { service: 'db', image: armOnly.ref },
    ]);
    expect(fit.verdict).toBe('not-for-this-cpu');
    expect(fit.services.map((s) => [s.service, s.verdict])).toEqual([
      ['app', 'runs'],
      ['db', 'not-for-this-cpu'],
    ]);
    expect(label(fit)).toBe('not for this CPU: db (arm64 only)');
  });

  it('a single OCI manifest: runs, or unknown where the daemon (Docker 20.10) does not read its platform', async () => {
    const fit = await service().fit.check([{ service: 'app', image: ociSingle.ref }]);
    if (fit.verdict === 'unknown') {
      expect(fit.services[0]).toMatchObject({ reason: 'the registry did not say which CPUs it is for', digest: ociSingle.digest });
    } else expect(fit.verdict).toBe('runs');
  });

  it('an unreachable registry gives unknown with a reason, quickly', async () => {
    const ref = `${await closedAddress()}/gone:1`;
    const started = Date.now();
    const fit = await service().fit.check([{ service: 'app', image: ref }]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fit.verdict).toBe('unknown');
    expect(fit.services[0]).toMatchObject({ verdict: 'unknown', reason: 'registry unreachable (connection refused)' });
    expect(label(fit)).toBe('unknown: registry unreachable (connection refused)');
    expect(store.imagePlatforms.get(ref)).toMatchObject({ platforms: null, error: 'registry unreachable (connection refused)' });
  });

  it('with no registry answer, a copy of the image on this node is judged by its own platform', async () => {
    // Offline nodes are given their images ahead of time: tag a local image under a registry that is down.
    await ensureTestImage();
    const ref = `${await closedAddress()}/preloaded:1`;
    await execa('docker', ['tag', TEST_IMAGE, ref]);
    try {
      const svc = service().fit;
      const fit = await svc.check([{ service: 'app', image: ref }]);
      expect(fit.verdict).toBe('runs');
      expect(fit.services[0]!.reason).toMatch(/^judged by the copy on this node \(amd64\); the registry could not be asked: registry unreachable/);
      // The answer is cached, and re-asked sooner than a registry answer would be.
      expect(svc.cached([{ service: 'app', image: ref }]).verdict).toBe('runs');
      const arm = await service({ node: ARM64 }).fit.check([{ service: 'app', image: ref }]);
      expect(arm.verdict).toBe('not-for-this-cpu');
    } finally {
      await execa('docker', ['rmi', ref], { reject: false });
    }
  });

  it('a registry host that does not resolve gives unknown (no such host)', async () => {
    const fit = await service().fit.check([{ service: 'app', image: 'lores-no-such-registry.invalid/x:1' }]);
    expect(fit.services[0]).toMatchObject({ verdict: 'unknown', reason: 'registry unreachable (no such host)' });
  });

  it('an unknown tag gives unknown, not found', async () => {
    const fit = await service().fit.check([{ service: 'app', image: `${reg.host}/multi-oci:no-such-tag` }]);
    expect(fit.services[0]).toMatchObject({ verdict: 'unknown', reason: 'not found in the registry (manifest unknown)' });
  });

  it('a registry that accepts and never answers is cut off by the per-image timeout', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const fit = await service({ timeoutMs: 800 }).fit.check([{ service: 'app', image: `${silent.host}/hang:1` }]);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(fit.services[0]).toMatchObject({ verdict: 'unknown', reason: 'registry did not answer in time (timeout)' });
      // A client whose socket timeout is shorter than the per-image one still waits for the latter
      // (otherwise it would end as "socket hang up").
      const shortClient = new Docker({ socketPath: DOCKER_SOCKET, timeout: 200 });
      const t = Date.now();
      const err = await imagePlatforms(shortClient, `${silent.host}/hang:2`, { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(Date.now() - t).toBeGreaterThanOrEqual(950);
      expect(err).toMatchObject({ kind: 'timeout' });
    } finally {
      await silent.close();
    }
  });

  it('invalid references are refused before they reach Docker', async () => {
    const { fit, calls, docker } = service({ node: AMD64 });
    const bad = ['"; rm -rf /', 'nginx:1 --help', 'Evil/x:1', 'EVIL.example.com/x:1', '../../containers/json', 'a/../../b'];
    const got = await fit.check(bad.map((image, i) => ({ service: `s${i}`, image })));
    expect(got.verdict).toBe('unknown');
    for (const s of got.services) expect(s).toMatchObject({ verdict: 'unknown', reason: 'not a valid image reference' });
    for (const image of bad) await expect(imagePlatforms(docker, image)).rejects.toMatchObject({ kind: 'invalid-ref' });
    expect(calls).toEqual([]);
    for (const image of bad) expect(store.imagePlatforms.get(image)).toBeUndefined();
  });

  describe('cache', () => {
    let cacheReg: Registry;
    let pushed: Pushed;
    let pinned: string;

    beforeAll(async () => {
      cacheReg = await startRegistry();
      pushed = await pushIndex(cacheReg, 'cached', '1', 'oci', [AMD64, ARM64V8]);
      pinned = `${cacheReg.host}/cached@${pushed.digest}`;
    });
    afterAll(() => cacheReg?.close());

    it('a second check asks the daemon nothing, and answers after the registry has gone', async () => {
      const { fit, calls } = service();
      const images = [
        { service: 'app', image: pushed.ref },
        { service: 'worker', image: pushed.ref },
      ];
      expect(fit.cached(images).services.map((s) => s.verdict)).toEqual(['unchecked', 'unchecked']);
      expect((await fit.check(images)).verdict).toBe('runs');
      const distribution = () => calls.filter((c) => c.includes('/distribution/'));
      expect(distribution()).toHaveLength(1); // two services, one image: one look-up
      await cacheReg.close();
      const callsBefore = calls.length;
      expect((await fit.check(images)).verdict).toBe('runs');
      expect(fit.cached(images).verdict).toBe('runs');
      expect(calls.length).toBe(callsBefore);
    });

    it('a digest-pinned reference is answered from what its tag resolved to, and never expires', async () => {
      const { fit, calls } = service();
      const images = [{ service: 'app', image: pinned }];
      // cached() is synchronous: until the node's CPU has been read once it cannot judge.
      expect(fit.cached(images)).toMatchObject({ verdict: 'unknown', node: null, services: [{ verdict: 'unknown', reason: "this node's CPU is not known yet" }] });
      await fit.node();
      expect(fit.cached(images).verdict).toBe('runs');
      clock += 365 * 24 * 3_600_000;
      const got = await fit.check(images);
      expect(got.verdict).toBe('runs');
      expect(got.services[0]).toMatchObject({ digest: pushed.digest });
      expect(calls.filter((c) => c.includes('/distribution/'))).toEqual([]);
      expect(store.imagePlatforms.get(pinned)).toMatchObject({ digest: pushed.digest });
    });

    it('a tag is asked again after a day; a failure keeps the earlier answer and is retried after 10 minutes', async () => {
      const { fit, calls } = service();
      const images = [{ service: 'app', image: pushed.ref }];
      // The clock moved a year in the test above: the tag's answer is stale, the registry is gone.
      const got = await fit.check(images);
      expect(calls.filter((c) => c.includes('/distribution/'))).toHaveLength(1);
      expect(got.verdict).toBe('runs');
      expect(got.services[0]!.reason).toBe('earlier answer; the last check failed: registry unreachable (connection refused)');
      await fit.check(images);
      expect(calls.filter((c) => c.includes('/distribution/'))).toHaveLength(1);
      clock += 11 * 60_000;
      await fit.check(images);
      expect(calls.filter((c) => c.includes('/distribution/'))).toHaveLength(2);
    });
  });

  it('a look-up error is an ImageLookupError with a kind', async () => {
    const err = await imagePlatforms(createDocker(DOCKER_SOCKET), `${reg.host}/nothing-here:1`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageLookupError);
    expect(err).toMatchObject({ kind: 'not-found' });
  });
});
