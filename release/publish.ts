// Publishing the built variants as ONE OCI image index under the version tag. Each variant is taken out of the
// local Docker daemon as an OCI image (skopeo), its config told its real platform (an image made by `docker
// import` and the legacy builder says amd64 whatever its binaries are), and pushed by digest. Only when every
// variant is pushed and read back does the index go up under the tag, and then it is read back too: the tag
// never names a partial release.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Platform } from '../app/platform.ts';
import { MEDIA, RegistryClient, RegistryError, sha256, type Repository } from './registry-client.ts';

type Descriptor = { mediaType: string; digest: string; size: number };
type OciManifest = { schemaVersion: 2; mediaType?: string; config: Descriptor; layers: Descriptor[] };

export type Variant = {
  label: string;
  platform: Platform;
  manifest: Buffer;
  digest: string;
  /** The config and layers, by digest. */
  blobs: Map<string, { file?: string; bytes?: Buffer }>;
  /** Sum of the compressed layers and config: what a Pi downloads. */
  downloadBytes: number;
};

const platformLabel = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The image `tag` from the daemon as an OCI image for `platform`, in `dir` (skopeo's OCI layout). */
export async function exportVariant(tag: string, platform: Platform, dir: string): Promise<Variant> {
  const label = platformLabel(platform);
  const r = await execa('skopeo', ['copy', '-q', `docker-daemon:${tag}`, `oci:${dir}:variant`], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`cannot take ${tag} (${label}) out of the Docker daemon: ${r.all}`);
  const blob = (digest: string) => path.join(dir, 'blobs', digest.replace(':', '/'));
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const original = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as OciManifest;
  const config = JSON.parse(readFileSync(blob(original.config.digest), 'utf8')) as Record<string, unknown>;
  config.os = platform.os;
  config.architecture = platform.architecture;
  if (platform.variant) config.variant = platform.variant;
  else delete config.variant;
  const configBytes = Buffer.from(JSON.stringify(config));
  const manifestJson: OciManifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: sha256(configBytes), size: configBytes.length },
    layers: original.layers,
  };
  const manifest = Buffer.from(JSON.stringify(manifestJson));
  const blobs = new Map<string, { file?: string; bytes?: Buffer }>([[manifestJson.config.digest, { bytes: configBytes }]]);
  for (const l of original.layers) blobs.set(l.digest, { file: blob(l.digest) });
  const downloadBytes = configBytes.length + original.layers.reduce((n, l) => n + l.size, 0);
  return { label, platform, manifest, digest: sha256(manifest), blobs, downloadBytes };
}

/** Pushes a variant's blobs and its manifest by digest, then checks the registry really has it. */
async function pushVariant(client: RegistryClient, v: Variant, log: (line: string) => void): Promise<void> {
  for (const [digest, b] of v.blobs) {
    const body = b.bytes ?? readFileSync(b.file!);
    await client.putBlob(body, `the ${v.label} variant's blob ${digest.slice(0, 19)}`);
  }
  await client.putManifest(v.digest, MEDIA.manifest, v.manifest, `the ${v.label} variant's manifest`);
  const back = await client.getManifest(v.digest);
  if (!back || back.digest !== v.digest) throw new RegistryError(`the registry does not have the ${v.label} variant ${v.digest} after pushing it`);
  for (const digest of v.blobs.keys()) {
    if (!(await client.hasBlob(digest))) throw new RegistryError(`the registry does not have the ${v.label} variant's blob ${digest} after pushing it`);
  }
  log(`pushed ${v.label} by digest ${v.digest}`);
}

export function indexFor(variants: Variant[], annotations: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: variants.map((v) => ({ mediaType: MEDIA.manifest, digest: v.digest, size: v.manifest.length, platform: v.platform })),
      annotations,
    }),
  );
}

/** What is wrong with an index for the platforms wanted (missing, extra or doubled ones), or undefined. */
export function indexProblem(index: { manifests?: { platform?: Platform }[] }, wanted: Platform[]): string | undefined {
  const have = (index.manifests ?? []).map((m) => (m.platform ? platformLabel(m.platform) : 'no platform'));
  const want = wanted.map(platformLabel);
  const missing = want.filter((w) => !have.includes(w));
  const extra = have.filter((h) => !want.includes(h));
  const doubled = have.filter((h, i) => have.indexOf(h) !== i);
  const parts = [missing.length && `missing ${missing.join(', ')}`, extra.length && `unexpected ${extra.join(', ')}`, doubled.length && `twice: ${doubled.join(', ')}`].filter(Boolean);
  return parts.length ? parts.join('; ') : undefined;
}

export type Published = { ref: string; indexDigest: string; variants: { platform: Platform; digest: string; downloadBytes: number }[] };

/**
 * Variants by digest, each read back; the index under `tag` last, read back. Any failure before the index PUT
 * leaves the tag where it was (the variants pushed so far are unreferenced blobs); the error says which step.
 */
export async function publishIndex(repo: Repository, tag: string, variants: Variant[], wanted: Platform[], annotations: Record<string, string>, log: (line: string) => void): Promise<Published> {
  const index = indexFor(variants, annotations);
  const problem = indexProblem(JSON.parse(index.toString()) as { manifests: { platform: Platform }[] }, wanted);
  if (problem) throw new Error(`not publishing ${repo.host}/${repo.name}:${tag}: the index would be incomplete (${problem})`);
  const client = new RegistryClient(repo);
  const ref = `${repo.host}/${repo.name}:${tag}`;
  for (const v of variants) {
    try {
      await pushVariant(client, v, log);
    } catch (err) {
      throw new Error(`${(err as Error).message}. Nothing was published: ${ref} was not moved.`);
    }
  }
  const indexDigest = sha256(index);
  try {
    await client.putManifest(tag, MEDIA.index, index, `the index ${ref}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}. The variants are in the registry by digest only; ${ref} was not moved.`);
  }
  const back = await client.getManifest(tag);
  if (!back || back.digest !== indexDigest) {
    throw new Error(`after pushing, ${ref} reads back as ${back ? back.digest : 'nothing'}, not the index ${indexDigest} just pushed`);
  }
  const stored = JSON.parse(back.body.toString()) as { manifests: { digest: string; platform: Platform }[] };
  const storedProblem = indexProblem(stored, wanted);
  if (storedProblem) throw new Error(`${ref} reads back incomplete: ${storedProblem}`);
  for (const m of stored.manifests) {
    if (!(await client.getManifest(m.digest))) throw new Error(`${ref} names ${m.digest} (${platformLabel(m.platform)}), which the registry does not have`);
  }
  log(`published ${ref} = ${indexDigest}`);
  return { ref, indexDigest, variants: variants.map((v) => ({ platform: v.platform, digest: v.digest, downloadBytes: v.downloadBytes })) };
}

/** A scratch folder for the OCI layouts, removed by the caller. */
export const scratchDir = () => mkdtempSync(path.join(tmpdir(), 'lores-release-'));
export const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true });
