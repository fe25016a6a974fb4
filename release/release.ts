// npm run release -- --version <v> [--registry <host>/<namespace>] [options]
//
// Builds the node's image from the repo's Dockerfile for linux/amd64 and linux/arm64 and publishes ONE OCI image
// index under <registry>/<name>:<version>. No image registry is needed to build: each architecture's base is made
// here from Debian's packages and Node.js from npm (release/base-image.ts), foreign architectures run under QEMU
// (qemu-user-static with binfmt_misc), or --base names an official base per architecture. Every variant is built
// and checked (its Node and its better-sqlite3 are of its architecture and load) before anything is pushed; the
// variants go up by digest, the index last. On any failure the command exits 1 naming what is wrong, and the
// tag is left where it was.
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { ensureReleaseBase } from './base-image.ts';
import { buildVariant, checkVariant, withBuildCa, type AbraPin } from './build.ts';
import { recipeImage, REPO_ROOT } from './image-name.ts';
import { ARCHES, parsePlatforms, type ReleaseArch } from './platforms.ts';
import { exportVariant, publishIndex, removeDir, scratchDir, type Variant } from './publish.ts';
import { parseRepository } from './registry-client.ts';

const USAGE = `usage: npm run release -- --version <version> [--registry <host>/<namespace>]
  --registry <host>/<ns>     where to push (default: recipe/compose.yml's image, ${safe(() => recipeImage().registry)})
  --version <v>              the tag to publish (the node's version, e.g. 0.1.0)
  --platforms <list>         default linux/amd64,linux/arm64 (linux/arm/v7: see README)
  --abra-source <url>        abra's release tarball, {arch} → amd64|arm64 (default: the Dockerfile's pinned release)
  --abra-sha256 <arch>=<sum> the pinned sha-256 for an architecture's tarball (default: the Dockerfile's)
  --base <arch>=<image>      a run-time base for an architecture (e.g. node:24-bookworm-slim@sha256:…); default: made here
  --build-base <arch>=<image> its build base (default: the same as --base)
  --build-ca <file>          a CA bundle to trust for npm and downloads during the build only
  --emulate-build            run npm and TypeScript for a foreign architecture under QEMU too (slow); by default
                             they run natively and only better-sqlite3's prebuilt binary of the target is kept
registry credentials, when it asks: LORES_REGISTRY_USER, LORES_REGISTRY_PASSWORD`;

function safe(f: () => string): string {
  try {
    return f();
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

function pairs(values: string[] | undefined, what: string): Map<ReleaseArch, string> {
  const out = new Map<ReleaseArch, string>();
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    const arch = v.slice(0, eq) as ReleaseArch;
    if (eq < 0 || !(arch in ARCHES)) throw new Error(`${what} wants <arch>=<value> with arch amd64 or arm64, not ${JSON.stringify(v)}`);
    out.set(arch, v.slice(eq + 1));
  }
  return out;
}

export type ReleaseResult = { ref: string; indexDigest: string; seconds: number; variants: { arch: ReleaseArch; digest: string; imageMb: number; downloadMb: number; buildSeconds: number }[] };

const OPTIONS = {
  registry: { type: 'string' },
  version: { type: 'string' },
  platforms: { type: 'string', default: 'linux/amd64,linux/arm64' },
  'abra-source': { type: 'string' },
  'abra-sha256': { type: 'string', multiple: true },
  base: { type: 'string', multiple: true },
  'build-base': { type: 'string', multiple: true },
  'build-ca': { type: 'string' },
  'emulate-build': { type: 'boolean', default: false },
  help: { type: 'boolean' },
} as const;

/** The command line read as the release reads it: where it pushes (`<registry>/<name>`, the registry from
 *  recipe/compose.yml unless --registry says otherwise) and which tag. Pure: the forge's workflow is checked with it. */
export function releaseOptions(argv: string[], image = recipeImage()) {
  const { values } = parseArgs({ args: argv, options: OPTIONS });
  const version = values.version ?? '';
  if (!values.help && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(version)) throw new Error(`--version must be a tag such as 0.1.0${version ? `, not ${JSON.stringify(version)}` : ''}\n${USAGE}`);
  return { values, version, repository: `${values.registry ?? image.registry}/${image.name}` };
}

export async function release(argv: string[], log: (line: string) => void = (l) => console.log(`[release] ${l}`)): Promise<ReleaseResult> {
  const started = Date.now();
  const { values, version, repository } = releaseOptions(argv);
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const repo = parseRepository(repository);
  const arches = parsePlatforms(values.platforms);
  const bases = pairs(values.base, '--base');
  const buildBases = pairs(values['build-base'], '--build-base');
  const abra: AbraPin = { source: values['abra-source'], sha256: pairs(values['abra-sha256'], '--abra-sha256') };
  const revision = (await execa('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD'], { reject: false })).stdout.trim() || 'unknown';
  log(`releasing ${repo.host}/${repo.name}:${version} for ${arches.map((a) => `linux/${a}`).join(', ')} (revision ${revision.slice(0, 12)})`);

  // 1. Build and check every variant; nothing is pushed until all of them are good.
  const built: { arch: ReleaseArch; tag: string; buildSeconds: number; imageMb: number }[] = [];
  const hostArch = (Object.values(ARCHES).find((a) => a.nodeArch === process.arch) ?? ARCHES.amd64).arch;
  for (const arch of arches) {
    const t0 = Date.now();
    const base = bases.get(arch) ?? (await ensureReleaseBase(arch, log)).tag;
    // A foreign architecture's npm install and TypeScript build run natively on a base of this machine's.
    const cross = arch !== hostArch && !values['emulate-build'] && !buildBases.has(arch);
    const buildFrom = buildBases.get(arch) ?? (cross ? (bases.get(hostArch) ?? (await ensureReleaseBase(hostArch, log)).tag) : base);
    const buildBase = await withBuildCa(buildFrom, values['build-ca'], cross ? hostArch : arch);
    const tag = `lores-release:${version}-${arch}`;
    const nodeTargetArch = cross ? ARCHES[arch].nodeArch : undefined;
    await buildVariant({ arch, tag, base, buildBase, buildCa: values['build-ca'] !== undefined, nodeTargetArch, abra, version, revision, log });
    const facts = await checkVariant(arch, tag);
    const buildSeconds = (Date.now() - t0) / 1000;
    log(`linux/${arch}: built and checked in ${buildSeconds.toFixed(1)} s (node ${facts.nodeArch}, better-sqlite3 ${facts.sqliteElf}); ${facts.imageMb.toFixed(1)} MB`);
    built.push({ arch, tag, buildSeconds, imageMb: facts.imageMb });
  }

  // 2. Take them out of the daemon as OCI images with their real platforms, then publish.
  const dir = scratchDir();
  try {
    const variants: Variant[] = [];
    for (const b of built) variants.push(await exportVariant(b.tag, ARCHES[b.arch].platform, `${dir}/${b.arch}`));
    const published = await publishIndex(
      repo,
      version,
      variants,
      arches.map((a) => ARCHES[a].platform),
      { 'org.opencontainers.image.version': version, 'org.opencontainers.image.revision': revision },
      log,
    );
    const seconds = (Date.now() - started) / 1000;
    const result: ReleaseResult = {
      ref: published.ref,
      indexDigest: published.indexDigest,
      seconds,
      variants: built.map((b, i) => ({ arch: b.arch, digest: published.variants[i]!.digest, imageMb: b.imageMb, downloadMb: published.variants[i]!.downloadBytes / 1e6, buildSeconds: b.buildSeconds })),
    };
    log(`done in ${seconds.toFixed(1)} s: ${published.ref}@${published.indexDigest}`);
    return result;
  } finally {
    removeDir(dir);
  }
}

if (import.meta.main) {
  try {
    const result = await release(process.argv.slice(2));
    console.log(JSON.stringify(result));
  } catch (err) {
    console.error(`release failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
