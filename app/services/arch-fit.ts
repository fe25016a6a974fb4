// Does a recipe version run on this node's CPU? For every service image: which platforms it is
// published for (asked through the daemon, cached in the store per reference and digest), judged
// against the node's platform.
import type Docker from 'dockerode';
import {
  DEFAULT_LOOKUP_TIMEOUT_MS,
  formatPlatform,
  ImageLookupError,
  imagePlatforms,
  isValidImageRef,
  localImagePlatform,
  nodePlatform,
  normalizePlatform,
  pinnedDigest,
  type Platform,
} from '../adapters/docker/platforms.ts';
import type { Logger } from '../log.ts';
import type { ImagePlatformsRow, ImagePlatformsStore } from '../store/image-platforms.ts';

export type { Platform };
/** `linux/arm64/v8` as pages write a platform. */
export { formatPlatform };
export type Verdict = 'runs' | 'not-for-this-cpu' | 'unknown';
export type ServiceVerdict = Verdict | 'unchecked';
export type ServiceImage = { service: string; image: string };
export type ServiceFit = {
  service: string;
  image: string;
  verdict: ServiceVerdict;
  /** What the image is published for (when known, even if the verdict is from an earlier check). */
  platforms?: Platform[];
  /** Why the verdict is unknown, or that the last check failed and an earlier answer is shown. */
  reason?: string;
  digest?: string;
  checkedAt?: number;
};
/** `node` is null until the daemon has said which CPU this node has. */
export type Fit = { verdict: Verdict; node: Platform | null; services: ServiceFit[] };

const armVersion = (variant: string | undefined): number | null => {
  const m = /^v([0-9]+)$/.exec(variant ?? '');
  return m ? Number(m[1]) : null;
};

/**
 * Would Docker on `node` run an image built for `image`? Deliberately strict, so "runs here" is a
 * promise:
 * - OS and architecture must be the same.
 * - 32-bit arm: a vN CPU runs code for vN and older (v7 runs v6 and v5; not v8 builds). An arm image
 *   without a variant counts as v7, as containerd assumes.
 * - arm64: images without a variant or v8. arm64 CPUs running 32-bit arm, and amd64 running 386,
 *   depend on the CPU (some arm64 cores have no 32-bit mode) and on the kernel's compat support, and
 *   Docker only falls back to them when no native build exists; so those are not promised here.
 */
export function platformRuns(node: Platform, image: Platform): boolean {
  const n = normalizePlatform(node);
  const i = normalizePlatform(image);
  if (n.os !== i.os || n.architecture !== i.architecture) return false;
  if (n.architecture === 'arm') {
    const nodeV = armVersion(n.variant ?? 'v7');
    const imageV = armVersion(i.variant ?? 'v7');
    return nodeV !== null && imageV !== null && imageV <= nodeV;
  }
  if (n.architecture === 'arm64') return i.variant === undefined || i.variant === 'v8';
  return true;
}

/** Verdict for one image's published platforms; an empty list says nothing. */
export function imageVerdict(node: Platform, platforms: Platform[]): Verdict {
  if (platforms.length === 0) return 'unknown';
  return platforms.some((p) => platformRuns(node, p)) ? 'runs' : 'not-for-this-cpu';
}

/** Any service that cannot run decides; then anything not known; else it runs. */
export function overallVerdict(services: { verdict: ServiceVerdict }[]): Verdict {
  if (services.some((s) => s.verdict === 'not-for-this-cpu')) return 'not-for-this-cpu';
  if (services.length === 0 || services.some((s) => s.verdict === 'unknown' || s.verdict === 'unchecked')) return 'unknown';
  return 'runs';
}

/** Badge text: "runs here", "not for this CPU: db (amd64 only)", "unknown: registry unreachable". */
export function label(fit: Fit): string {
  if (fit.verdict === 'runs') return 'runs here';
  if (fit.verdict === 'not-for-this-cpu') {
    const which = fit.services
      .filter((s) => s.verdict === 'not-for-this-cpu')
      .map((s) => `${s.service} (${uniq((s.platforms ?? []).map(formatPlatform)).join(', ')} only)`);
    return `not for this CPU: ${which.join('; ')}`;
  }
  const open = fit.services.filter((s) => s.verdict === 'unknown' || s.verdict === 'unchecked');
  const reasons = uniq(open.map((s) => s.reason ?? 'not checked yet'));
  if (reasons.length === 0) return 'unknown: no images';
  if (reasons.length === 1) return `unknown: ${reasons[0]}`;
  return `unknown: ${open.map((s) => `${s.service}: ${s.reason ?? 'not checked yet'}`).join('; ')}`;
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

export type ArchFitOptions = {
  /** A tag's answer is asked again after this long (a tag can move to a new build). Default 24 h. */
  maxAgeMs?: number;
  /** A failed check is retried after this long. Default 10 min. */
  retryAfterMs?: number;
  /** Look-ups at once. Default 4. */
  concurrency?: number;
  /** Per image; a node without internet may wait long on DNS or a silent registry. Default 8 s. */
  timeoutMs?: number;
  /** This node's platform, instead of asking the daemon (tests, or an operator's override). */
  node?: Platform;
};

export type ArchFitDeps = {
  docker: Docker;
  store: { imagePlatforms: ImagePlatformsStore };
  now: () => number;
  log?: Logger;
} & ArchFitOptions;

export type CheckOptions = { signal?: AbortSignal; /** Ask again even when the cache is fresh. */ force?: boolean };

const HOUR = 3_600_000;
/** Marks a cached answer taken from the image already on this node because the registry did not answer. */
const LOCAL_COPY = 'local copy; registry: ';

export function archFitService(deps: ArchFitDeps) {
  const { docker, store, now, log } = deps;
  const maxAgeMs = deps.maxAgeMs ?? 24 * HOUR;
  const retryAfterMs = deps.retryAfterMs ?? 10 * 60_000;
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const timeoutMs = deps.timeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  const cache = store.imagePlatforms;

  // Read once; a failure is not remembered, so the next call asks again.
  let node: Platform | null = deps.node ? normalizePlatform(deps.node) : null;
  let nodeRead: Promise<Platform> | undefined;
  function readNode(): Promise<Platform> {
    if (node) return Promise.resolve(node);
    nodeRead ??= nodePlatform(docker).then(
      (p) => (node = p),
      (err: unknown) => {
        nodeRead = undefined;
        throw err;
      },
    );
    return nodeRead;
  }

  // One look-up per reference at a time, shared by concurrent checks (pages render in parallel).
  const inFlight = new Map<string, Promise<ImagePlatformsRow>>();

  /** The cached row for a reference; a pinned digest another reference already resolved counts. */
  function known(ref: string): ImagePlatformsRow | undefined {
    const row = cache.get(ref);
    if (row?.platforms) return row;
    const digest = pinnedDigest(ref);
    const same = digest ? cache.byDigest(digest) : undefined;
    return same ? { ...same, ref, error: null } : row;
  }

  function fresh(ref: string, row: ImagePlatformsRow | undefined): boolean {
    if (!row) return false;
    // Content named by digest never changes.
    if (pinnedDigest(ref) && row.platforms) return true;
    if (row.error) return now() - row.checkedAt < retryAfterMs;
    return now() - row.checkedAt < maxAgeMs;
  }

  async function lookUp(ref: string, signal: AbortSignal | undefined): Promise<ImagePlatformsRow> {
    const started = Date.now();
    try {
      const { digest, platforms } = await imagePlatforms(docker, ref, { signal, timeoutMs });
      const row: ImagePlatformsRow = { ref, digest, platforms, error: null, checkedAt: now() };
      cache.put(row);
      log?.debug({ ref, digest, platforms: platforms.map(formatPlatform), ms: Date.now() - started }, 'image platforms read');
      return row;
    } catch (err) {
      const e = err instanceof ImageLookupError ? err : new ImageLookupError('failed', 'registry check failed', (err as Error).message);
      log?.debug({ ref, kind: e.kind, err: e.message, ms: Date.now() - started }, 'image platforms not read');
      const prev = cache.get(ref);
      // A cancelled check says nothing about the registry: not stored.
      if (e.kind === 'cancelled') return prev ?? { ref, digest: null, platforms: null, error: e.reason, checkedAt: now() };
      // No registry answer, but a copy on this node: that copy is what the swarm will run.
      const registryAnsweredBefore = prev?.platforms && !prev.error?.startsWith(LOCAL_COPY);
      const local = registryAnsweredBefore ? null : await localImagePlatform(docker, ref);
      if (local) {
        const row: ImagePlatformsRow = { ref, digest: null, platforms: [local], error: `${LOCAL_COPY}${e.reason}`, checkedAt: now() };
        cache.put(row);
        return row;
      }
      // An earlier answer stays (a tag rarely loses a platform); the error makes it retried sooner.
      const row: ImagePlatformsRow = e.digest
        ? { ref, digest: e.digest, platforms: null, error: e.reason, checkedAt: now() }
        : { ref, digest: prev?.digest ?? null, platforms: prev?.platforms ?? null, error: e.reason, checkedAt: now() };
      cache.put(row);
      return row;
    }
  }

  function shared(ref: string, signal: AbortSignal | undefined): Promise<ImagePlatformsRow> {
    let p = inFlight.get(ref);
    if (!p) {
      p = lookUp(ref, signal).finally(() => inFlight.delete(ref));
      inFlight.set(ref, p);
    }
    return p;
  }

  function fitOf(images: ServiceImage[], nodePlatform: Platform | null, rows: Map<string, ImagePlatformsRow | undefined>, nodeProblem?: string): Fit {
    const services = images.map(({ service, image }): ServiceFit => {
      if (!isValidImageRef(image)) return { service, image, verdict: 'unknown', reason: 'not a valid image reference' };
      const row = rows.get(image);
      if (!row) return { service, image, verdict: 'unchecked', reason: 'not checked yet' };
      const base = { service, image, ...(row.digest ? { digest: row.digest } : {}), checkedAt: row.checkedAt };
      if (!row.platforms?.length) return { ...base, verdict: 'unknown', reason: row.error ?? 'the registry did not say which CPUs it is for' };
      const platforms = row.platforms;
      if (!nodePlatform) return { ...base, verdict: 'unknown', platforms, reason: nodeProblem ?? "this node's CPU is not known yet" };
      const verdict = imageVerdict(nodePlatform, platforms);
      if (row.error?.startsWith(LOCAL_COPY)) {
        return { ...base, verdict, platforms, reason: `judged by the copy on this node (${formatPlatform(platforms[0]!)}); the registry could not be asked: ${row.error.slice(LOCAL_COPY.length)}` };
      }
      return { ...base, verdict, platforms, ...(row.error ? { reason: `earlier answer; the last check failed: ${row.error}` } : {}) };
    });
    return { verdict: overallVerdict(services), node: nodePlatform, services };
  }

  const refsOf = (images: ServiceImage[]) => uniq(images.map((i) => i.image).filter(isValidImageRef));

  return {
    /** This node's platform (asked of the daemon once). */
    node: readNode,

    /** From the cache only, at once, whatever its age: for rendering lists. Nothing cached: `unchecked`. */
    cached(images: ServiceImage[]): Fit {
      if (!node) void readNode().catch(() => {});
      const rows = new Map(refsOf(images).map((ref) => [ref, known(ref)] as const));
      return fitOf(images, node, rows);
    },

    /** Asks the daemon for what is missing or stale (bounded in number and time), then judges. */
    async check(images: ServiceImage[], opts: CheckOptions = {}): Promise<Fit> {
      let nodeProblem: string | undefined;
      const nodeP = readNode().catch((err: unknown) => {
        nodeProblem = `this node's CPU is not known (Docker: ${(err as Error).message})`;
        return null;
      });
      const rows = new Map<string, ImagePlatformsRow | undefined>();
      const queue: string[] = [];
      for (const ref of refsOf(images)) {
        const row = known(ref);
        rows.set(ref, row);
        if (opts.force || !fresh(ref, row)) queue.push(ref);
        else if (row && !cache.get(ref)) cache.put(row); // a pinned reference answered by digest: remember it under its own name
      }
      const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let ref = queue.shift(); ref !== undefined; ref = queue.shift()) rows.set(ref, await shared(ref, opts.signal));
      });
      await Promise.all(workers);
      return fitOf(images, await nodeP, rows, nodeProblem);
    },
  };
}

export type ArchFitService = ReturnType<typeof archFitService>;
