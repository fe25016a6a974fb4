// One variant of the release: the repo's Dockerfile built for one architecture with the legacy builder (no
// registry, no BuildKit frontend to pull; a foreign architecture's RUN steps run under QEMU), then checked:
// its Node, its better-sqlite3 and its abra are binaries of that architecture, and they load and answer.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from './image-name.ts';
import { ARCHES, type ReleaseArch } from './platforms.ts';

const DOCKER_ENV = { DOCKER_BUILDKIT: '0' };
const BUILD_CA_PATH = '/usr/local/share/lores-build/extra-ca.crt';

export type AbraPin = { source?: string; sha256: Map<ReleaseArch, string> };

/** The build base with a CA bundle added for npm and downloads during the build (never the run-time base). */
export async function withBuildCa(base: string, caFile: string | undefined, arch: ReleaseArch): Promise<string> {
  if (!caFile) return base;
  const id = (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', base], { reject: false })).stdout.trim();
  if (!id) throw new Error(`the ${arch} build base ${base} is not in the Docker daemon (docker pull it first)`);
  const hash = createHash('sha256').update(id).update(readFileSync(caFile)).digest('hex').slice(0, 12);
  const tag = `lores-release-buildbase:${arch}-${hash}`;
  if ((await execa('docker', ['image', 'inspect', tag], { reject: false })).exitCode === 0) return tag;
  const ctx = mkdtempSync(path.join(tmpdir(), 'lores-buildca-'));
  try {
    await execa('cp', [caFile, path.join(ctx, 'ca.crt')]);
    await execa('docker', ['build', '-q', '-t', tag, '-f', '-', ctx], { env: DOCKER_ENV, input: `FROM ${base}\nCOPY ca.crt ${BUILD_CA_PATH}\n` });
    return tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

export type BuildVariantOptions = {
  arch: ReleaseArch;
  tag: string;
  base: string;
  buildBase: string;
  buildCa: boolean;
  /** Node's arch name of the variant when buildBase is of another architecture (npm and tsc then run natively). */
  nodeTargetArch?: string;
  abra: AbraPin;
  version: string;
  revision: string;
  log: (line: string) => void;
};

/** `docker build` of the Dockerfile for `arch`; a failure names its cause (abra's checksum above all). */
export async function buildVariant(o: BuildVariantOptions): Promise<void> {
  const args = [
    'build', '-t', o.tag,
    '--build-arg', `BASE_IMAGE=${o.base}`,
    '--build-arg', `BUILD_IMAGE=${o.buildBase}`,
    // The legacy builder sets no TARGETARCH; the Dockerfile picks abra's tarball and sum by it.
    '--build-arg', `TARGETARCH=${o.arch}`,
    '--build-arg', `VERSION=${o.version}`,
    '--build-arg', `REVISION=${o.revision}`,
  ];
  if (o.abra.source) args.push('--build-arg', `ABRA_SOURCE=${o.abra.source}`);
  for (const [arch, sum] of o.abra.sha256) args.push('--build-arg', `ABRA_SHA256_${arch.toUpperCase()}=${sum}`);
  if (o.nodeTargetArch) args.push('--build-arg', `NODE_TARGET_ARCH=${o.nodeTargetArch}`);
  if (o.buildCa) args.push('--build-arg', `EXTRA_CA_CERT=${BUILD_CA_PATH}`);
  const lines: string[] = [];
  const child = execa('docker', [...args, REPO_ROOT], { env: DOCKER_ENV, all: true, reject: false, buffer: false });
  let partial = '';
  child.all!.setEncoding('utf8');
  child.all!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (/^Step \d+\/\d+ : (FROM|RUN)/.test(line)) o.log(`linux/${o.arch}: ${line.slice(0, 100)}`);
    }
  });
  const r = await child;
  if (r.exitCode === 0) return;
  const all = [...lines, partial].join('\n');
  const tail = [...lines, partial].slice(-25).join('\n');
  if (/did NOT match|sha256sum: .*FAILED|: FAILED$/m.test(all)) {
    throw new Error(`abra's release tarball for linux/${o.arch} does not match its pinned sha-256 (${o.abra.sha256.get(o.arch) ?? "the Dockerfile's ABRA_SHA256_" + o.arch.toUpperCase()}): the ${o.arch} image was not built and nothing was published\n${tail}`);
  }
  if (/cannot download .*abra|no abra binary/.test(all)) throw new Error(`abra could not be fetched for linux/${o.arch}: nothing was published\n${tail}`);
  throw new Error(`building the linux/${o.arch} image failed (docker build exit ${r.exitCode}): nothing was published\n${tail}`);
}

export type VariantFacts = { nodeArch: string; nodeElf: string; sqliteElf: string; sqliteVersion: string; abraElf: string | null; imageMb: number };

/** `file`'s description of a file inside the image (copied out of a created, never started, container). */
async function describeInImage(container: string, file: string, dir: string): Promise<string> {
  const out = path.join(dir, path.basename(file));
  await execa('docker', ['cp', '-L', `${container}:${file}`, out]);
  return (await execa('file', ['-b', out])).stdout.trim();
}

/**
 * The variant is what its architecture says: its node reports that process.arch and opens SQLite through
 * better-sqlite3 (run under QEMU for a foreign one), and `file` finds node, the addon and abra (when it is a
 * binary) built for it. Throws naming what is wrong.
 */
export async function checkVariant(arch: ReleaseArch, tag: string): Promise<VariantFacts> {
  const info = ARCHES[arch];
  const probe =
    'const Db = require("better-sqlite3"); const v = new Db(":memory:").prepare("select sqlite_version() as v").get().v;' +
    'const fs = require("node:fs"); const path = require("node:path");' +
    'const find = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? find(path.join(d, e.name)) : e.name.endsWith(".node") ? [path.join(d, e.name)] : []);' +
    'const abra = require("node:child_process").execSync("command -v abra", { shell: "/bin/sh" }).toString().trim();' +
    'console.log(JSON.stringify({ arch: process.arch, sqlite: v, addons: find(path.resolve("node_modules/better-sqlite3")), abra: fs.realpathSync(abra) }));';
  // The architecture first: a variant on the wrong base fails to load its addon too, and that would hide why.
  const arch0 = await execa('docker', ['run', '--rm', '--entrypoint', 'node', tag, '-p', 'process.arch'], { reject: false, all: true });
  if (arch0.exitCode !== 0) throw new Error(`the linux/${arch} image does not run its node: ${arch0.all}`);
  const said = arch0.stdout.trim().split('\n').at(-1);
  if (said !== info.nodeArch) throw new Error(`the linux/${arch} image's node says process.arch ${said}, not ${info.nodeArch}: its base is of the wrong architecture`);
  const run = await execa('docker', ['run', '--rm', '--entrypoint', 'node', tag, '-e', probe], { reject: false, all: true });
  if (run.exitCode !== 0) throw new Error(`the linux/${arch} image does not run its node with better-sqlite3: ${run.all}`);
  const seen = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { arch: string; sqlite: string; addons: string[]; abra: string };
  if (seen.arch !== info.nodeArch) throw new Error(`the linux/${arch} image's node says process.arch ${seen.arch}, not ${info.nodeArch}: its base is of the wrong architecture`);
  if (seen.addons.length !== 1) throw new Error(`the linux/${arch} image should hold one better-sqlite3 binary, it holds ${seen.addons.length}: ${seen.addons.join(', ')}`);
  const container = (await execa('docker', ['create', tag])).stdout.trim();
  const dir = mkdtempSync(path.join(tmpdir(), 'lores-check-'));
  try {
    const nodeElf = await describeInImage(container, '/usr/local/bin/node', dir);
    const sqliteElf = await describeInImage(container, seen.addons[0]!, dir);
    const abraFile = await describeInImage(container, seen.abra, dir);
    const abraElf = /^ELF/.test(abraFile) ? abraFile : null;
    for (const [what, desc] of [['node', nodeElf], ['better-sqlite3', sqliteElf], ['abra', abraElf]] as const) {
      if (desc !== null && !info.elf.test(desc)) throw new Error(`the linux/${arch} image's ${what} is not a ${arch} binary: ${desc}`);
    }
    const size = Number((await execa('docker', ['image', 'inspect', '--format', '{{.Size}}', tag])).stdout.trim());
    return { nodeArch: seen.arch, nodeElf, sqliteElf: sqliteElf.split(',').slice(0, 2).join(','), sqliteVersion: seen.sqlite, abraElf, imageMb: size / 1e6 };
  } finally {
    await execa('docker', ['rm', container], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  }
}
