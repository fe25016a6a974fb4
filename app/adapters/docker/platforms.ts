// CPU platforms: this node's (from the daemon's info) and an image's (from the daemon's distribution
// endpoint, which asks the registry for the manifest list / index). The daemon, not the node, talks
// to the registry, so registry settings (insecure registries, mirrors, credentials) are Docker's own.
import type Docker from 'dockerode';
import type { Platform } from '../../platform.ts';

export type { Platform };
export type ImagePlatforms = { digest: string; platforms: Platform[] };

/** Why a look-up gave no platforms; `reason` is short and meant for people. */
export type LookupFailure = 'invalid-ref' | 'unreachable' | 'no-such-host' | 'not-found' | 'unauthorized' | 'timeout' | 'cancelled' | 'no-platforms' | 'failed';

export class ImageLookupError extends Error {
  readonly kind: LookupFailure;
  readonly reason: string;
  /** Known when the registry answered but did not list platforms. */
  readonly digest: string | null;
  constructor(kind: LookupFailure, reason: string, detail?: string, digest: string | null = null) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.kind = kind;
    this.reason = reason;
    this.digest = digest;
  }
}

// Docker's reference grammar (distribution/reference), narrowed: the name must be all lowercase, the
// registry host too. Docker treats an uppercase first component as a registry host ("Evil/x" would
// not be Docker Hub's evil/x), so refusing uppercase there closes that door. Only sha256 digests.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|-+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]{1,5})?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = 'sha256:[a-f0-9]{64}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

export type ImageRef = { name: string; tag: string | null; digest: string | null };

/** The parts of a safe image reference, or null: nothing else is sent to Docker. */
export function parseImageRef(ref: string): ImageRef | null {
  // Length first, so the pattern never runs on something huge.
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 400) return null;
  const m = REFERENCE.exec(ref);
  if (!m || m[1]!.length > 255) return null;
  return { name: m[1]!, tag: m[2] ?? null, digest: m[3] ?? null };
}

export const isValidImageRef = (ref: string): boolean => parseImageRef(ref) !== null;

/** `name@sha256:…` names content, so its platforms never change. */
export const pinnedDigest = (ref: string): string | null => parseImageRef(ref)?.digest ?? null;

/** `uname -m` and other spellings to the OCI names Docker uses in manifests. */
export function platformFromArch(arch: string, os = 'linux'): Platform {
  const a = arch.trim().toLowerCase();
  const o = os.trim().toLowerCase();
  switch (a) {
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { os: o, architecture: 'amd64' };
    case 'aarch64':
    case 'arm64':
      return { os: o, architecture: 'arm64', variant: 'v8' };
    case 'armv8l':
    case 'armv7l':
    case 'armv7':
    case 'armhf':
      return { os: o, architecture: 'arm', variant: 'v7' };
    case 'armv6l':
    case 'armv6':
    case 'armel':
      return { os: o, architecture: 'arm', variant: 'v6' };
    case 'armv5tel':
    case 'armv5l':
      return { os: o, architecture: 'arm', variant: 'v5' };
    case 'i386':
    case 'i486':
    case 'i586':
    case 'i686':
    case 'x86':
      return { os: o, architecture: '386' };
    default:
      return { os: o, architecture: a };
  }
}

/** Lowercase, known aliases mapped, variant "8" → "v8"; a missing variant stays missing. */
export function normalizePlatform(p: Platform): Platform {
  const rawArch = p.architecture.trim().toLowerCase();
  const base = platformFromArch(rawArch, p.os);
  let variant = p.variant?.trim().toLowerCase() || undefined;
  if (variant && /^[0-9]/.test(variant)) variant = `v${variant}`;
  // An alias that names its variant (aarch64, armv7l) fills it in only when the platform does not say;
  // plain "arm64" or "arm" without a variant stay so (the matching rules decide what that means).
  if (!variant && base.architecture !== rawArch) variant = base.variant;
  return variant ? { os: base.os, architecture: base.architecture, variant } : { os: base.os, architecture: base.architecture };
}

/** `amd64`, `arm/v7`, `windows/amd64`: the OS only when it is not Linux. */
export function formatPlatform(p: Platform): string {
  const arch = p.variant && !(p.architecture === 'arm64' && p.variant === 'v8') ? `${p.architecture}/${p.variant}` : p.architecture;
  return p.os === 'linux' ? arch : `${p.os}/${arch}`;
}

/**
 * This node's platform as the daemon pulls for it: `/version`'s Arch is the daemon's own build (GOARCH). `/info`'s
 * Architecture is the kernel's (`uname -m`), which says aarch64 on a 32-bit Raspberry Pi OS with a 64-bit kernel,
 * where Docker pulls arm/v7. The kernel's answer is used only for the arm variant, or when /version has none.
 */
export async function nodePlatform(docker: Docker): Promise<Platform> {
  const [version, info] = await Promise.all([
    docker.version() as Promise<{ Arch?: string; Os?: string }>,
    docker.info() as Promise<{ Architecture?: string; OSType?: string }>,
  ]);
  const os = version.Os || info.OSType || 'linux';
  if (version.Arch === 'arm') return { os, architecture: 'arm', variant: info.Architecture === 'armv6l' ? 'v6' : 'v7' };
  if (version.Arch) return platformFromArch(version.Arch, os);
  if (!info.Architecture) throw new Error('Docker did not say which CPU this node has');
  return platformFromArch(info.Architecture, os);
}

/**
 * The platform of a copy of the image already on this node, or null when there is none. Offline nodes are
 * often given their images ahead of time (`docker load`): the swarm deploys that copy without a registry.
 */
export async function localImagePlatform(docker: Docker, ref: string): Promise<Platform | null> {
  if (!isValidImageRef(ref)) return null;
  try {
    const info = (await docker.getImage(ref).inspect()) as { Architecture?: string; Os?: string; Variant?: string };
    if (!info.Architecture) return null;
    return normalizePlatform({ os: info.Os || 'linux', architecture: info.Architecture, ...(info.Variant ? { variant: info.Variant } : {}) });
  } catch {
    return null;
  }
}

type DistributionAnswer = { Descriptor?: { digest?: string }; Platforms?: Platform[] | null };
type DaemonError = Error & { statusCode?: number; json?: unknown; code?: string };

export const DEFAULT_LOOKUP_TIMEOUT_MS = 8000;

/**
 * The platforms an image is published for, as the registry tells the daemon. For a manifest list or
 * OCI index: its entries; for a single Docker manifest: its config's platform. Throws ImageLookupError.
 */
export async function imagePlatforms(
  docker: Docker,
  ref: string,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<ImagePlatforms> {
  if (!isValidImageRef(ref)) throw new ImageLookupError('invalid-ref', 'not a valid image reference');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  const timer = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timer]) : timer;
  let answer: DistributionAnswer;
  try {
    answer = await dial(docker, `/distribution/${ref}/json`, signal);
  } catch (err) {
    if (timer.aborted) throw new ImageLookupError('timeout', 'registry did not answer in time (timeout)', `${timeoutMs} ms`);
    if (opts.signal?.aborted) throw new ImageLookupError('cancelled', 'check cancelled');
    throw describeDaemonError(err as DaemonError);
  }
  const digest = answer.Descriptor?.digest;
  if (!digest) throw new ImageLookupError('failed', 'Docker gave no digest for this image');
  // Attestation entries (buildx provenance) say unknown/unknown: they are not platforms.
  const platforms = (answer.Platforms ?? [])
    .filter((p) => p && typeof p.architecture === 'string' && !(p.architecture === 'unknown' && p.os === 'unknown'))
    .map(normalizePlatform);
  if (platforms.length === 0) {
    // Docker 20.10 reads the platform of a single Docker manifest from its config, but not of a
    // single OCI manifest: Platforms is null then.
    throw new ImageLookupError('no-platforms', 'the registry did not say which CPUs it is for', undefined, digest);
  }
  return { digest, platforms };
}

function dial(docker: Docker, path: string, signal: AbortSignal): Promise<DistributionAnswer> {
  // The client's socket timeout (5 s in createDocker) would cut the request off as "socket hang up"
  // before our own, longer, per-image timeout: this call is bounded by the signal instead.
  const modem = Object.create(docker.modem, { timeout: { value: undefined } }) as Docker['modem'];
  return new Promise((resolve, reject) => {
    modem.dial(
      {
        path,
        method: 'GET',
        abortSignal: signal,
        statusCodes: { 200: true, 400: 'bad request', 401: 'unauthorized', 403: 'forbidden', 404: 'not found', 500: 'server error' },
      },
      (err, data) => (err ? reject(err) : resolve(data as DistributionAnswer)),
    );
  });
}

/** The daemon's message (e.g. `Get "http://…/v2/": dial tcp …: connect: connection refused`) as a short reason. */
export function describeDaemonError(err: DaemonError): ImageLookupError {
  const json = err.json as { message?: unknown } | undefined;
  const message = typeof json?.message === 'string' ? json.message : err.message;
  const m = message.toLowerCase();
  const detail = message.slice(0, 300);
  // No HTTP status: the socket to the daemon itself failed.
  if (err.statusCode === undefined && err.code && ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EPIPE'].includes(err.code))
    return new ImageLookupError('failed', 'Docker does not answer', detail);
  if (err.statusCode === 404 || /manifest unknown|not found|name unknown/.test(m)) return new ImageLookupError('not-found', 'not found in the registry (manifest unknown)', detail);
  if (/no such host|server misbehaving|temporary failure in name resolution/.test(m)) return new ImageLookupError('no-such-host', 'registry unreachable (no such host)', detail);
  if (/connection refused/.test(m)) return new ImageLookupError('unreachable', 'registry unreachable (connection refused)', detail);
  if (/deadline exceeded|timeout|timed out/.test(m)) return new ImageLookupError('timeout', 'registry did not answer in time (timeout)', detail);
  if (/network is unreachable|no route to host|connection reset|eof/.test(m)) return new ImageLookupError('unreachable', 'registry unreachable', detail);
  if (/x509|certificate/.test(m)) return new ImageLookupError('unreachable', 'registry unreachable (certificate not trusted)', detail);
  if (/http response to https client/.test(m)) return new ImageLookupError('unreachable', 'registry unreachable (speaks plain HTTP)', detail);
  if (err.statusCode === 401 || err.statusCode === 403 || /unauthorized|denied|authentication required|forbidden/.test(m))
    return new ImageLookupError('unauthorized', 'registry refused access (private or missing image)', detail);
  if (/toomanyrequests|rate limit/.test(m)) return new ImageLookupError('unreachable', 'registry rate limit reached', detail);
  return new ImageLookupError('failed', 'registry check failed', detail);
}
