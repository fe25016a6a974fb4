// A real container registry for tests (Debian's docker-registry, distribution 2.8) on 127.0.0.1,
// and helpers that push real images to it over the registry HTTP API: a multi-architecture
// index (OCI image index or Docker manifest list) or a single-architecture manifest.
// 127.0.0.0/8 registries are insecure (plain HTTP) for the daemon by default, so no daemon change.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Platform } from '../../app/platform.ts';

export const REGISTRY_BIN = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export type Registry = {
  /** `127.0.0.1:<port>`: the registry part of image references. */
  host: string;
  close(): Promise<void>;
};

/** A port nothing listens on (bound, then released): for "registry unreachable". */
export async function closedAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `docker-registry serve` with its own config (Debian's default one enables htpasswd and binds all interfaces). */
export async function startRegistry(): Promise<Registry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lores-registry-'));
  // Another process may grab the released port before the registry binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: warn',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '',
      ].join('\n'),
    );
    const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const host = `127.0.0.1:${port}`;
    const up = await waitUntilUp(host, child, 10_000);
    if (up) {
      return {
        host,
        async close() {
          await stop(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stop(child);
    if (attempt >= 3) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not answer on ${host}: ${stderr.trim() || 'no output'}`);
    }
  }
}

async function waitUntilUp(host: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && child.exitCode === null && child.signalCode === null) {
    try {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A TCP port that accepts connections and never answers: a registry that hangs. */
export async function silentServer(): Promise<{ host: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

// ---- pushing images ----

export type ManifestKind = 'oci' | 'docker';

const MEDIA = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
    index: 'application/vnd.oci.image.index.v1+json',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
  },
} as const;

type Descriptor = { mediaType: string; digest: string; size: number };
export type Pushed = { ref: string; digest: string; manifests: { platform: Platform; digest: string }[] };

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** One-file ustar archive: a 512-byte header, the content padded to 512, two zero blocks. */
function tarWithFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const put = (value: string, offset: number, length: number) => header.write(value, offset, length, 'ascii');
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(content.length, 12), 124, 12);
  put(octal(0, 12), 136, 12); // mtime: fixed, so the same platform gives the same blobs
  put('0', 156, 1); // regular file
  put('ustar\0' + '00', 257, 8);
  put('        ', 148, 8); // checksum field counts as spaces while summing
  let sum = 0;
  for (const byte of header) sum += byte;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  content.copy(padded);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

async function check(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** Monolithic blob upload: POST opens an upload session, PUT with ?digest= closes it. */
async function uploadBlob(reg: Registry, repo: string, body: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(body);
  const base = `http://${reg.host}/v2/${repo}/blobs/`;
  const head = await fetch(base + digest, { method: 'HEAD' });
  if (head.status !== 200) {
    const started = await check(await fetch(base + 'uploads/', { method: 'POST' }), `start upload to ${repo}`);
    await started.arrayBuffer();
    const location = new URL(started.headers.get('location') ?? '', `http://${reg.host}`);
    location.searchParams.set('digest', digest);
    const done = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(body) });
    await (await check(done, `upload ${digest} to ${repo}`)).arrayBuffer();
  }
  return { mediaType, digest, size: body.length };
}

async function putManifest(reg: Registry, repo: string, reference: string, mediaType: string, body: Buffer): Promise<string> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: new Uint8Array(body),
  });
  await (await check(res, `put manifest ${repo}:${reference}`)).arrayBuffer();
  return sha256(body);
}

/** A tiny real image for one platform (a layer holding /platform.txt, its config, its manifest), by digest. */
async function pushImage(reg: Registry, repo: string, kind: ManifestKind, platform: Platform): Promise<Descriptor & { body: Buffer }> {
  const mt = MEDIA[kind];
  const label = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
  const tar = tarWithFile('platform.txt', Buffer.from(label + '\n'));
  const layer = await uploadBlob(reg, repo, gzipSync(tar, { level: 9 }), mt.layer);
  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
  };
  const config = await uploadBlob(reg, repo, Buffer.from(JSON.stringify(configJson)), mt.config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mt.manifest, config, layers: [layer] }));
  const digest = await putManifest(reg, repo, sha256(manifest), mt.manifest, manifest);
  return { mediaType: mt.manifest, digest, size: manifest.length, body: manifest };
}

/** Pushes one image per platform and an index (OCI) or manifest list (Docker) over them under `tag`. */
export async function pushIndex(reg: Registry, repo: string, tag: string, kind: ManifestKind, platforms: Platform[]): Promise<Pushed> {
  const manifests: { platform: Platform; digest: string }[] = [];
  const entries: (Descriptor & { platform: Platform })[] = [];
  for (const platform of platforms) {
    const { mediaType, digest, size } = await pushImage(reg, repo, kind, platform);
    manifests.push({ platform, digest });
    entries.push({ mediaType, digest, size, platform });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA[kind].index, manifests: entries }));
  const digest = await putManifest(reg, repo, tag, MEDIA[kind].index, index);
  return { ref: `${reg.host}/${repo}:${tag}`, digest, manifests };
}

/** Pushes a plain single-platform manifest under `tag` (the daemon learns its platform from the config blob). */
export async function pushSingleArch(reg: Registry, repo: string, tag: string, arch: string | Platform, kind: ManifestKind = 'docker'): Promise<Pushed> {
  const platform: Platform = typeof arch === 'string' ? { os: 'linux', architecture: arch } : arch;
  const d = await pushImage(reg, repo, kind, platform);
  await putManifest(reg, repo, tag, d.mediaType, d.body);
  return { ref: `${reg.host}/${repo}:${tag}`, digest: d.digest, manifests: [{ platform, digest: d.digest }] };
}
