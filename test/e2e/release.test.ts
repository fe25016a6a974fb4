// The release, as an operator runs it: `node release/release.ts` (npm run release) builds the node's image for
// linux/amd64 and linux/arm64 on bases made here from Debian's packages and Node from npm, and publishes one OCI
// index to a real registry on loopback (Debian's docker-registry). Then the recipe is deployed pulling the node
// by its tag from that registry (the swarm picks the amd64 variant), and the arm64 variant of the same index runs
// as a swarm service under QEMU: healthy by the recipe's healthcheck, the admin logs in, it lists a sibling stack
// through the socket and says it runs on linux/arm64. Faults publish nothing: a wrong abra checksum, a variant of
// the wrong architecture, a registry that refuses pushes, one that drops a variant, one that refuses the index.
// Prints release_build_s, image_mb_amd64, image_mb_arm64, arm64_deploy_to_healthy_s, arm64_container_rss_mb.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackNameFor } from '../../app/adapters/abra/names.ts';
import { createDocker } from '../../app/adapters/docker/client.ts';
import { platformFromArch } from '../../app/adapters/docker/platforms.ts';
import { archFitService, label } from '../../app/services/arch-fit.ts';
import { createStore } from '../../app/store/index.ts';
import type { ReleaseResult } from '../../release/release.ts';
import { loginOverHttp } from '../support/http-login.ts';
import { HOST_CA_BUNDLE, removeImages } from '../support/image.ts';
import { startRegistry, type Registry } from '../support/registry.ts';
import { faultyRegistry, serveFakeAbraRelease, type FakeAbraRelease } from '../support/release.ts';
import { DOCKER_SOCKET, haveDocker } from '../support/requirements.ts';
import { freePort, REPO_ROOT } from '../support/server.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';
import { deployRelease, generatedPassword, lanAppEnv, runningContainers, serviceInspect, tmp } from './recipe-stack.ts';
import { eventually } from '../support/poll.ts';

const canRun = await haveDocker();
const RUN = randomBytes(3).toString('hex');
const VERSION = `0.1.0-e2e${RUN}`;
const REPO = 'lores/lores-node';
const SIBLING = `rel${RUN}sib_lores_test`;
const CONVERGE_MS = 300_000;
/** A whole release on two shared cores (CI's own VM does it in about 5 minutes); a failing one stops earlier. */
const RELEASE_MS = 1_500_000;
const log = (line: string) => console.log(`[release e2e ${new Date().toISOString().slice(11, 19)}] ${line}`);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

type Node = { domain: string; stack: string; service: string; secret: string; password: string; url: string };

function nodeFor(name: string): Node {
  const domain = `${name}-${RUN}.lores.test`;
  const stack = stackNameFor(domain);
  return { domain, stack, service: `${stack}_app`, secret: `${stack}_admin_password_v1`, password: generatedPassword(), url: '' };
}

describe.skipIf(!canRun)('npm run release: one OCI index for amd64 and arm64, deployed from the registry', () => {
  const work = tmp('e2e-release-');
  let registry: Registry;
  let abra: FakeAbraRelease;
  let released: ReleaseResult;
  const amd = nodeFor('rel-amd64');
  const arm = nodeFor('rel-arm64');
  const versions: string[] = [];

  /** The release command as a child process, as `npm run release -- ...` runs it. */
  async function release(registryHost: string, version: string, extra: string[] = []) {
    versions.push(version);
    const args = ['--registry', `${registryHost}/lores`, '--version', version, '--abra-source', abra.source, '--build-ca', HOST_CA_BUNDLE];
    const sums = ['amd64', 'arm64'].flatMap((a) => ['--abra-sha256', `${a}=${abra.sha256}`]);
    const t0 = Date.now();
    const r = await execa(process.execPath, ['release/release.ts', ...args, ...sums, ...extra], { cwd: REPO_ROOT, reject: false, all: true });
    log(`release ${version} ${extra.join(' ')}: exit ${r.exitCode} after ${seconds(Date.now() - t0)} s`);
    return r;
  }

  /** The tags the real registry holds for the node's repository. */
  async function tags(): Promise<string[]> {
    const res = await fetch(`http://${registry.host}/v2/${REPO}/tags/list`);
    if (res.status === 404) return [];
    return ((await res.json()) as { tags: string[] | null }).tags ?? [];
  }

  async function manifest(ref: string): Promise<Record<string, unknown> & { config?: { digest: string }; manifests?: { digest: string; platform: { architecture: string } }[] }> {
    const res = await fetch(`http://${registry.host}/v2/${REPO}/manifests/${ref}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' } });
    expect(res.status, ref).toBe(200);
    return (await res.json()) as never;
  }

  async function healthy(node: Node, timeoutMs = CONVERGE_MS): Promise<void> {
    let seen: unknown = [];
    const ok = await eventually(
      async () => {
        const cs = await runningContainers(node.service);
        seen = cs;
        if (!cs.some((c) => c.health === 'healthy')) return false;
        const res = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        return res?.status === 200;
      },
      timeoutMs,
      1000,
    );
    if (!ok) {
      const ps = await execa('docker', ['service', 'ps', '--no-trunc', node.service], { reject: false });
      throw new Error(`${node.service} did not become healthy: ${JSON.stringify(seen)}\n${ps.stdout}`);
    }
  }

  async function deployNode(node: Node, image: string, resolve: 'always' | 'never'): Promise<void> {
    const port = await freePort();
    node.url = `http://127.0.0.1:${port}`;
    await execa('docker', ['secret', 'create', node.secret, '-'], { input: node.password });
    await deployRelease(lanAppEnv(node.domain, port), { version: `${VERSION}+${VERSION}`, image }, work, resolve);
  }

  async function adminPage(node: Node, path: string): Promise<string> {
    const { cookie } = await loginOverHttp(node.url, 'admin', node.password);
    const res = await fetch(`${node.url}${path}`, { headers: { cookie } });
    expect(res.status, path).toBe(200);
    return res.text();
  }

  beforeAll(async () => {
    registry = await startRegistry();
    abra = await serveFakeAbraRelease();
    await ensureTestImage();
  }, 120_000);

  afterAll(async () => {
    await Promise.all([removeStack(amd.stack, 90_000), removeStack(arm.stack, 90_000), removeStack(SIBLING, 90_000)]);
    for (const n of [amd, arm]) {
      await execa('docker', ['secret', 'rm', n.secret], { reject: false });
      const volumes = [`${n.stack}_data`, `${n.stack}_abra`];
      await eventually(async () => (await execa('docker', ['volume', 'rm', ...volumes], { reject: false })).exitCode === 0, 30_000, 500);
    }
    // What the swarm pulled from the test registry (by tag, by digest, or both: only an ID names them all).
    const pulled = registry ? (await execa('docker', ['image', 'ls', '-q', `${registry.host}/${REPO}`], { reject: false })).stdout.split('\n').filter(Boolean) : [];
    await removeImages([...new Set(pulled)]);
    await removeImages(versions.flatMap((v) => [`lores-release:${v}-amd64`, `lores-release:${v}-arm64`]));
    abra?.close();
    await registry?.close();
    await execa('rm', ['-rf', work]);
  }, 240_000);

  it('fails naming abra when its download does not match the pinned sha-256, and publishes nothing', async () => {
    const r = await release(registry.host, `${VERSION}-badsum`, ['--abra-sha256', `amd64=${'0'.repeat(64)}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/release failed: abra's release tarball for linux\/amd64 does not match its pinned sha-256 \(0{64}\)/);
    expect(await tags()).toEqual([]);
  }, RELEASE_MS);

  it('builds both variants, checks them, and publishes one OCI index under the version tag', async () => {
    const t0 = Date.now();
    const r = await release(registry.host, VERSION);
    expect(r.exitCode, r.all).toBe(0);
    console.log(`release_build_s: ${seconds(Date.now() - t0)}`);
    released = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ReleaseResult;
    expect(r.stdout).toMatch(/linux\/arm64: built and checked .*node arm64, better-sqlite3 ELF 64-bit LSB shared object, ARM aarch64/);
    expect(r.stdout).toMatch(/linux\/amd64: built and checked .*node x64, better-sqlite3 ELF 64-bit LSB shared object, x86-64/);
    const index = await manifest(VERSION);
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests!.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    expect(released.indexDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Each variant's own config says its architecture (what the daemon and the swarm go by).
    for (const m of index.manifests!) {
      const config = await fetch(`http://${registry.host}/v2/${REPO}/blobs/${(await manifest(m.digest)).config!.digest}`).then((res) => res.json() as Promise<{ architecture: string; os: string }>);
      expect(config).toMatchObject({ os: 'linux', architecture: m.platform.architecture });
    }
    expect(await tags()).toEqual([VERSION]);
    for (const v of released.variants) console.log(`image_mb_${v.arch}: ${v.imageMb.toFixed(1)} (download ${v.downloadMb.toFixed(1)} MB)`);
  }, RELEASE_MS);

  it('is judged by the node’s CPU-fit check, through the daemon and this registry: runs on amd64 and arm64, not on arm/v7', async () => {
    const dir = tmp('e2e-release-fit-');
    const store = createStore(dir);
    try {
      const image = `${registry.host}/${REPO}:${VERSION}`;
      const verdicts: Record<string, string> = {};
      for (const node of [platformFromArch('x86_64'), platformFromArch('aarch64'), platformFromArch('armv7l')]) {
        const fit = await archFitService({ docker: createDocker(DOCKER_SOCKET), store, now: Date.now, node }).check([{ service: 'app', image }], { force: true });
        verdicts[[node.architecture, node.variant].filter(Boolean).join('/')] = label(fit);
      }
      expect(verdicts).toEqual({ amd64: 'runs here', 'arm64/v8': 'runs here', 'arm/v7': 'not for this CPU: app (amd64, arm64 only)' });
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, RELEASE_MS);

  it('refuses to publish an arm64 variant whose binaries are not arm64 (built on the wrong base)', async () => {
    const amdBase = (await execa('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', 'lores-release-base'])).stdout.split('\n').find((t) => t.includes(':amd64-'));
    expect(amdBase).toBeTruthy();
    const r = await release(registry.host, `${VERSION}-wrongarch`, ['--base', `arm64=${amdBase}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("release failed: the linux/arm64 image's node says process.arch x64, not arm64");
    expect(await tags()).toEqual([VERSION]);
  }, RELEASE_MS);

  it('publishes nothing when the registry refuses the push, or refuses the index after the variants', async () => {
    const refusing = await faultyRegistry(registry.host, (req) => (req.method === 'GET' || req.method === 'HEAD' ? 'forward' : 403));
    try {
      const r = await release(refusing.host, `${VERSION}-refused`, ['--platforms', 'linux/amd64']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/answered HTTP 403 .*DENIED.*Nothing was published: .*:0\.1\.0-e2e\w+-refused was not moved/);
    } finally {
      await refusing.close();
    }
    const noIndex = await faultyRegistry(registry.host, (req) => (req.method === 'PUT' && /\/manifests\/(?!sha256:)/.test(req.url ?? '') ? 500 : 'forward'));
    try {
      const r = await release(noIndex.host, `${VERSION}-noindex`, ['--platforms', 'linux/amd64']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/push the index .* answered HTTP 500.* The variants are in the registry by digest only; .* was not moved/);
    } finally {
      await noIndex.close();
    }
    expect(await tags()).toEqual([VERSION]);
  }, RELEASE_MS);

  it('publishes nothing when the registry drops a variant it said it stored (a half-pushed index)', async () => {
    let manifestPuts = 0;
    // The second variant's manifest (arm64) is answered 201 and never stored.
    const lying = await faultyRegistry(registry.host, (req) => (req.method === 'PUT' && /\/manifests\/sha256:/.test(req.url ?? '') && ++manifestPuts === 2 ? 'swallow' : 'forward'));
    try {
      const r = await release(lying.host, `${VERSION}-half`);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/the registry does not have the linux\/arm64 variant sha256:[0-9a-f]{64} after pushing it\. Nothing was published/);
    } finally {
      await lying.close();
    }
    expect(await tags()).toEqual([VERSION]);
  }, RELEASE_MS);

  it('deploys the recipe pulling the node by tag from the registry: the swarm runs the amd64 variant of the index', async () => {
    const image = `${registry.host}/${REPO}:${VERSION}`;
    await deployNode(amd, image, 'always');
    await healthy(amd);
    // The CLI resolved the tag to the index in the registry; the daemon pulled the variant for this CPU.
    expect((await serviceInspect(amd.service)).image).toBe(`${image}@${released.indexDigest}`);
    const [c] = await runningContainers(amd.service);
    const imageId = (await execa('docker', ['inspect', '--format', '{{.Image}}', c!.id])).stdout.trim();
    const amdVariant = released.variants.find((v) => v.arch === 'amd64')!;
    expect(imageId).toBe((await manifest(amdVariant.digest)).config!.digest);
    expect(await adminPage(amd, '/settings')).toContain('data-runtime-arch="linux/x64"');
  }, RELEASE_MS);

  it('runs the arm64 variant of the same index as a swarm service under emulation: healthy, login, siblings, process.arch arm64', async () => {
    const armVariant = released.variants.find((v) => v.arch === 'arm64')!;
    const index = await manifest(VERSION);
    expect(index.manifests!.find((m) => m.platform.architecture === 'arm64')!.digest).toBe(armVariant.digest);
    const t0 = Date.now();
    // By the variant's digest: this amd64 swarm would otherwise (rightly) pick the amd64 variant.
    await deployNode(arm, `${registry.host}/${REPO}@${armVariant.digest}`, 'never');
    await healthy(arm, 420_000);
    console.log(`arm64_deploy_to_healthy_s: ${seconds(Date.now() - t0)}`);
    const [c] = await runningContainers(arm.service);
    expect(c!.health).toBe('healthy'); // the recipe's own healthcheck, run by the emulated node
    expect(await adminPage(arm, '/settings')).toContain('data-runtime-arch="linux/arm64"');
    await deployStack(SIBLING, coopCloudStack(SIBLING, { recipe: 'custom-html', version: '1.0.0+1', domain: `sib-${RUN}.lores.test` }));
    let html = '';
    const listed = await eventually(
      async () => {
        html = await adminPage(arm, '/');
        return html.includes(`data-stack="${SIBLING}"`);
      },
      120_000,
      2000,
    );
    expect(listed, html.slice(0, 1500)).toBe(true);
    // tini is PID 1; its one child is the node (here: QEMU running it, so this counts the emulator's memory too).
    const { stdout } = await execa('docker', ['exec', c!.id, 'sh', '-c', 'for s in /proc/[0-9]*/stat; do set -- $(cat "$s"); if [ "$4" = 1 ]; then grep VmRSS "${s%/stat}/status"; fi; done']);
    const kb = Number(/VmRSS:\s*(\d+)\s*kB/.exec(stdout)?.[1]);
    expect(kb).toBeGreaterThan(10_000);
    console.log(`arm64_container_rss_mb: ${(kb / 1024).toFixed(1)} (under QEMU user emulation)`);
  }, RELEASE_MS);
});
