// Kiwix for tests on a machine where no registry is reachable: a local stand-in for the upstream kiwix-serve
// image (Debian's kiwix-tools in a tiny rootfs), and real tiny ZIM files made with zimwriterfs.
//
//   await ensureKiwixImage();                       // KIWIX_IMAGE now exists locally (built once)
//   const zim = await makeTestZim(dir, { name: 'lores_test', articleText: 'A known sentence.' });
//   // zim.path = <dir>/lores_test.zim; kiwix-serve 3.3.0 serves the article at zim.urlPath
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { execa } from 'execa';

/** The image the Kiwix recipe pins. Here it is the stand-in below, unless the real one was loaded by hand. */
export const KIWIX_IMAGE = 'ghcr.io/kiwix/kiwix-serve:3.8.2';
/** The stand-in's label: `lores.test=kiwix-stand-in`, so nobody takes it for upstream. */
export const KIWIX_STAND_IN_LABEL = 'kiwix-stand-in';
/** Bump when the stand-in's rootfs changes, so a cached image is rebuilt. */
const LAYOUT = '1';
const HOST_KIWIX = ['/usr/bin/kiwix-serve', '/usr/bin/kiwix-manage'];
const HOST_BUSYBOX = '/bin/busybox';
const BUSYBOX_APPLETS = ['sh', 'ash', 'wget', 'stat', 'ls', 'cat', 'echo', 'printf', 'sleep', 'mv', 'rm', 'cp', 'mkdir', 'touch', 'id', 'kill', 'ps', 'test', '[', 'true', 'false', 'env', 'grep', 'sed', 'head', 'tail', 'wc', 'date'];

const labelsOf = async (image: string): Promise<Record<string, string> | undefined> => {
  const r = await execa('docker', ['image', 'inspect', image, '--format', '{{json .Config.Labels}}'], { reject: false });
  return r.exitCode === 0 ? ((JSON.parse(r.stdout) as Record<string, string> | null) ?? {}) : undefined;
};

/** Shared libraries (and the dynamic loader) `ldd` lists for the given programs. */
async function sharedLibs(files: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (const f of files) {
    const { stdout } = await execa('ldd', [f]);
    for (const line of stdout.split('\n')) {
      const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m?.[1]) libs.add(m[1]);
    }
  }
  return [...libs];
}

/**
 * Makes, once, a local image tagged KIWIX_IMAGE that stands in for upstream's kiwix-serve (which cannot be pulled
 * here): FROM scratch, the host's kiwix-serve and kiwix-manage (kiwix-tools 3.3.0) in /usr/local/bin with every
 * library ldd lists, busybox-static for sh, wget, stat and the rest, USER 1001, WORKDIR /data, port 8080 — the
 * shape of the upstream image as far as the recipe cares. Labelled `lores.test=kiwix-stand-in`. About 65 MB,
 * a few seconds. Reused when the tag is already the stand-in of this layout; a real upstream image under the tag
 * (loaded by hand) is left alone and used.
 */
export async function ensureKiwixImage(log: (line: string) => void = () => {}): Promise<string> {
  const labels = await labelsOf(KIWIX_IMAGE);
  if (labels && labels['lores.test'] !== KIWIX_STAND_IN_LABEL) {
    log(`${KIWIX_IMAGE} exists and is not the stand-in: using it`);
    return KIWIX_IMAGE;
  }
  if (labels?.['lores.test.layout'] === LAYOUT) return KIWIX_IMAGE;
  for (const f of [...HOST_KIWIX, HOST_BUSYBOX]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: apt-get install kiwix-tools busybox-static`);
  }
  const started = Date.now();
  const ctx = mkdtempSync(path.join(tmpdir(), 'kiwix-stand-in-'));
  const R = path.join(ctx, 'rootfs');
  try {
    // Merged /usr, as in Debian and Alpine: /bin, /lib and /lib64 point into /usr.
    for (const d of ['usr/bin', 'usr/lib', 'usr/lib64', 'usr/local/bin', 'etc', 'tmp', 'data']) mkdirSync(path.join(R, d), { recursive: true });
    for (const [link, target] of [['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64'], ['sbin', 'usr/bin']] as const) symlinkSync(target, path.join(R, link));
    chmodSync(path.join(R, 'tmp'), 0o1777);
    const put = (src: string, dst = src) => {
      const inside = dst.replace(/^\/(lib|lib64|bin|sbin)\//, '/usr/$1/').replace(/^\/usr\/sbin\//, '/usr/bin/');
      mkdirSync(path.join(R, path.dirname(inside)), { recursive: true });
      copyFileSync(src, path.join(R, inside)); // follows symlinks: the library itself under the name ldd gives
      chmodSync(path.join(R, inside), 0o755);
    };
    for (const f of HOST_KIWIX) put(f, `/usr/local/bin/${path.basename(f)}`);
    for (const lib of await sharedLibs(HOST_KIWIX)) put(lib);
    put(HOST_BUSYBOX, '/usr/bin/busybox');
    for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', path.join(R, 'usr/bin', applet));
    writeFileSync(path.join(R, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nkiwix:x:1001:1001::/data:/bin/sh\n');
    writeFileSync(path.join(R, 'etc/group'), 'root:x:0:\nkiwix:x:1001:\n');
    // tar keeps /tmp's sticky bit and the symlinks; ADD unpacks it.
    await execa('tar', ['-C', R, '--owner=0', '--group=0', '-cf', path.join(ctx, 'rootfs.tar'), '.']);
    rmSync(R, { recursive: true, force: true });
    writeFileSync(
      path.join(ctx, 'Dockerfile'),
      [
        'FROM scratch',
        'ADD rootfs.tar /',
        'ENV PATH=/usr/local/bin:/usr/bin:/bin',
        `LABEL lores.test=${KIWIX_STAND_IN_LABEL} lores.test.layout=${LAYOUT} org.opencontainers.image.description="LoRes Node tests: a stand-in for ${KIWIX_IMAGE} made from Debian's kiwix-tools 3.3.0; not the upstream image"`,
        'USER 1001',
        'WORKDIR /data',
        'EXPOSE 8080',
        'CMD ["kiwix-serve", "--help"]',
        '',
      ].join('\n'),
    );
    // The legacy builder: no buildx here, and BuildKit would want to pull.
    await execa('docker', ['build', '-q', '-t', KIWIX_IMAGE, ctx], { env: { DOCKER_BUILDKIT: '0' } });
    log(`stand-in ${KIWIX_IMAGE} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return KIWIX_IMAGE;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

// ---- tiny ZIM files ---------------------------------------------------------------------------------------------

export type TestZimOptions = {
  /** File name without `.zim`, which is also the book's name in kiwix-serve's URLs. Default `lores_test`. */
  name?: string;
  /** The ZIM's title (catalogue and library page). Default `LoRes test`. */
  title?: string;
  /** A sentence the article page holds, to look for in what kiwix-serve returns. */
  articleText?: string;
};

export type TestZim = {
  /** `<dir>/<name>.zim` */
  path: string;
  /** The book's name in URLs (the file name without `.zim`). */
  name: string;
  /** The article's path inside the ZIM. */
  article: string;
  /** Where kiwix-serve 3.3.0 (the stand-in) serves the article: `/<name>/<article>`. Upstream 3.8 serves it at
   *  `/content/<name>/<article>`; the book's HTML link in `/catalog/v2/entries` gives the prefix for either. */
  urlPath: string;
  articleText: string;
  size: number;
  /** sha-256 of the file, hex (as a Metalink file states it). */
  sha256: string;
};

const ARTICLE = 'article.html';
const CACHE = path.join(tmpdir(), 'lores-test-zims');
const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A 48x48 RGB PNG in one colour (zimwriterfs wants an illustration of that size). */
function png48(rgb: [number, number, number]): Buffer {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = table[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(48, 0);
  ihdr.writeUInt32BE(48, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: 48 }, () => rgb).flat())]);
  const pixels = Buffer.concat(Array.from({ length: 48 }, () => row));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(pixels)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * Makes a real tiny ZIM (a welcome page and one article holding `articleText`) with zimwriterfs, and copies it
 * to `<dir>/<name>.zim`. Made once per content (cached under the system temp dir), so repeated calls only copy:
 * the same options give a byte-identical file, with the same ZIM UUID. A few dozen KB; needs zim-tools.
 */
export async function makeTestZim(dir: string, opts: TestZimOptions = {}): Promise<TestZim> {
  const name = opts.name ?? 'lores_test';
  const title = opts.title ?? 'LoRes test';
  const articleText = opts.articleText ?? 'The lighthouse keeper counted forty-two gulls.';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.endsWith('.zim')) throw new Error(`makeTestZim: bad name ${JSON.stringify(name)}`);
  const key = createHash('sha256').update(JSON.stringify([LAYOUT, name, title, articleText])).digest('hex').slice(0, 16);
  const cached = path.join(CACHE, key, `${name}.zim`);
  if (!existsSync(cached)) {
    const work = mkdtempSync(path.join(tmpdir(), 'lores-zim-'));
    try {
      const html = path.join(work, 'html');
      mkdirSync(html);
      const page = (t: string, body: string) => `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(t)}</title></head><body>${body}</body></html>\n`;
      writeFileSync(path.join(html, 'index.html'), page(title, `<h1>${escapeHtml(title)}</h1><p><a href="${ARTICLE}">The article</a></p>`));
      writeFileSync(path.join(html, ARTICLE), page(`${title}: the article`, `<h1>The article</h1><p>${escapeHtml(articleText)}</p>`));
      writeFileSync(path.join(html, 'illustration.png'), png48([40, 120, 200]));
      const out = path.join(work, `${name}.zim`);
      await execa('zimwriterfs', ['-w', 'index.html', '-I', 'illustration.png', '-l', 'eng', '-t', title, '-d', 'A tiny ZIM for LoRes Node tests', '-c', 'LoRes Node', '-p', 'LoRes Node tests', '-n', name, '-j', html, out]);
      mkdirSync(path.dirname(cached), { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      copyFileSync(out, tmp);
      renameSync(tmp, cached); // concurrent callers: whole files only
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, `${name}.zim`);
  copyFileSync(cached, target);
  chmodSync(target, 0o644);
  const bytes = readFileSync(target);
  return { path: target, name, article: ARTICLE, urlPath: `/${name}/${ARTICLE}`, articleText, size: statSync(target).size, sha256: createHash('sha256').update(bytes).digest('hex') };
}
