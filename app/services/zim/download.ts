// Downloads one ZIM file into a Kiwix library folder: resumable (HTTP Range, from `<name>.zim.part`), verified
// (sha-256 computed while streaming, no second pass), atomic (the `.zim` appears only once verified; kiwix-serve
// serves only `*.zim`, so a part file is never served), throttled, and honest about every fault in one sentence.
// The caller (a durable job) owns scheduling and persistence; this module owns the bytes.
import { createHash, type Hash } from 'node:crypto';
import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleepFor } from 'node:timers/promises';
import tls from 'node:tls';
import { networkReason, zimFileNameSchema } from '../../adapters/kiwix/opds.ts';
import { DEFAULT_READ_FLOOR, FloorWatch, FLOOR_TICK_MS, type ReadFloor } from '../../adapters/remote/read-floor.ts';
import { formatBytes } from '../resource-fit.ts';

export type DownloadPhase = 'checking' | 'downloading';

export type DownloadProgress = {
  /** Bytes on disk and hashed so far (while `checking`: bytes of an earlier part file re-hashed so far). */
  done: number;
  total: number;
  /** Moving average over the last few seconds; 0 until known. */
  bytesPerSecond: number;
  /** null while the speed is unknown. */
  secondsLeft: number | null;
  phase: DownloadPhase;
};

export type DownloadZimOptions = {
  /** Mirror URLs, best first (as `parseMeta4` orders them). */
  urls: string[];
  size: number;
  sha256: string;
  /** The library folder (must exist); the part file lives here too, so the final rename is atomic. */
  dir: string;
  fileName: string;
  /** Aborting pauses: the part file stays for a later call to resume. */
  signal?: AbortSignal;
  /** Bandwidth limit; a function is read for every chunk, so a changed setting applies while running. ≤ 0 / undefined = none. */
  bytesPerSecond?: number | (() => number | undefined);
  /** Bytes that must stay free on the disk after the download; default `freeSpaceMargin(size)`. */
  minFreeBytes?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** Consecutive failed attempts that made no progress before giving up (default 5). */
  retries?: number;
  /** First back-off delay; doubles per failed attempt, capped at 30 s (default 1 s). */
  retryDelayMs?: number;
  /** A connection that sends nothing for this long is treated as cut and retried (default 60 s). */
  stallTimeoutMs?: number;
  /**
   * A mirror that sends less than this on average over the window (one byte every 100 ms is never silent) is
   * dropped for the next one; with none left, the download fails and says so. Default 1 KB/s over 60 s.
   */
  floor?: ReadFloor;
  /**
   * Replace an existing `<dir>/<fileName>`. Without it an existing file is never touched and the call refuses up
   * front. With it, the old file keeps being served until the new one is verified, then one rename swaps them.
   * (An update to a new dated name — `…_2025-01.zim` beside `…_2024-06.zim` — needs no `replace`: both coexist,
   * and the caller removes the old one after switching Kiwix over.)
   */
  replace?: boolean;
  /** Extra trusted CA certificates (PEM) for https mirrors, e.g. a local mirror with its own CA. */
  ca?: string | Buffer;
  /** Use this fetch instead of the built-in HTTP/1.1 client (tests, proxies); slower, see RawGet. */
  fetch?: typeof fetch;
};

export type DownloadZimResult = {
  path: string;
  bytes: number;
  /** Length of the part file this call started from (0 for a fresh download). */
  resumedFrom: number;
  /** HTTP requests made. */
  attempts: number;
};

export type ZimDownloadErrorCode =
  | 'invalid' // bad options (a programming error or a tampered catalogue)
  | 'missing-dir' // the library folder does not exist
  | 'exists' // the .zim is already there and `replace` was not asked for
  | 'busy' // this file is already being downloaded in this process
  | 'no-space' // refused up front: not enough free disk
  | 'disk-full' // ENOSPC while writing
  | 'disk' // another file-system error
  | 'hash-mismatch' // complete, but not the file the Metalink describes
  | 'size-mismatch' // a server disagrees with the expected size
  | 'http' // a server refused (4xx, 416, 5xx after retries)
  | 'network' // could not connect, the connection kept being cut, or it was too slow
  | 'aborted'; // paused through the signal

/** How the transfer loop reacts: back off and retry, move to the next mirror, or stop. */
type Retry = 'backoff' | 'mirror' | 'never';

export class ZimDownloadError extends Error {
  readonly code: ZimDownloadErrorCode;
  readonly retry: Retry;
  /** Whether `<fileName>.part` is still on disk for a later call to resume from (set when the call ends). */
  partKept = false;
  constructor(code: ZimDownloadErrorCode, message: string, retry: Retry = 'never', cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ZimDownloadError';
    this.code = code;
    this.retry = retry;
  }
}

const MiB = 1024 * 1024;
/** Room to leave on the disk besides the file: logs, SQLite and Docker need some, and a Pi's SD card is small. */
export const freeSpaceMargin = (size: number): number => Math.max(64 * MiB, Math.ceil(size * 0.02));
/** Hash and write in blocks of this size (see PartSink); measured: 2 MiB beats 1 MiB by ~10 %, 4 MiB adds nothing. */
const WRITE_BATCH_BYTES = 2 * MiB;
const SYNC_EVERY_BYTES = 16 * MiB;
/** Socket reads land in one reused buffer of this size (no allocation, no garbage per read). */
const READ_BUFFER_BYTES = 256 * 1024;
/** A block plus room for one more read. */
const SINK_BUFFER_BYTES = WRITE_BATCH_BYTES + READ_BUFFER_BYTES;
const PREFIX_READ_BYTES = 4 * MiB;
const PROGRESS_INTERVAL_MS = 250;
const SPEED_WINDOW_MS = 5_000;
const MAX_BACKOFF_MS = 30_000;

export const partFileName = (fileName: string) => `${fileName}.part`;

/** Bytes already downloaded for `fileName` in `dir` (the part file's length), 0 when there is none. */
export async function partBytes(dir: string, fileName: string): Promise<number> {
  return fileSize(path.join(dir, partFileName(checkFileName(fileName))));
}

/** Cancel: delete the part file (call after aborting a running download). True when there was one. */
export async function cancelDownload(dir: string, fileName: string): Promise<boolean> {
  const part = path.join(dir, partFileName(checkFileName(fileName)));
  try {
    await fsp.unlink(part);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Part files being written by this process: two writers on one file would interleave garbage. */
const active = new Set<string>();

/**
 * Download, verify and publish one ZIM file. Resolves once `<dir>/<fileName>` exists, complete and verified, mode
 * 0644. Rejects with a ZimDownloadError whose message is one sentence for a steward; `partKept` says whether a
 * later call can resume.
 */
export async function downloadZim(options: DownloadZimOptions): Promise<DownloadZimResult> {
  const o = checkOptions(options);
  const part = path.join(o.dir, partFileName(o.fileName));
  if (active.has(part)) throw new ZimDownloadError('busy', `${o.fileName} is already being downloaded.`);
  active.add(part);
  try {
    return await download(o, part);
  } catch (err) {
    const e = asDownloadError(err, o);
    const kept = await fileSize(part).catch(() => 0);
    if (kept === 0) await fsp.rm(part, { force: true }).catch(() => undefined); // nothing worth resuming
    e.partKept = kept > 0;
    e.message = finalMessage(e, o, kept);
    throw e;
  } finally {
    active.delete(part);
  }
}

type Checked = Omit<DownloadZimOptions, 'bytesPerSecond'> & {
  rate: () => number;
  retries: number;
  retryDelayMs: number;
  stallTimeoutMs: number;
  floor: ReadFloor;
  transport: Transport;
};

function checkOptions(o: DownloadZimOptions): Checked {
  const bad = (why: string) => new ZimDownloadError('invalid', `Cannot download: ${why}.`);
  const fileName = checkFileName(o.fileName);
  if (!Number.isSafeInteger(o.size) || o.size <= 0) throw bad(`the size ${o.size} is not a positive number of bytes`);
  if (typeof o.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(o.sha256)) throw bad('the sha-256 is not 64 hexadecimal digits');
  if (!Array.isArray(o.urls) || o.urls.length === 0 || o.urls.length > 100) throw bad('no download URL');
  for (const u of o.urls) {
    let url: URL | undefined;
    try {
      url = new URL(u);
    } catch {}
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw bad(`${JSON.stringify(String(u).slice(0, 100))} is not an http(s) URL`);
  }
  if (typeof o.dir !== 'string' || !path.isAbsolute(o.dir)) throw bad('the library folder must be an absolute path');
  const limit = o.bytesPerSecond;
  const rate = typeof limit === 'function' ? () => Number(limit() ?? 0) : () => Number(limit ?? 0);
  return {
    ...o,
    fileName,
    sha256: o.sha256.toLowerCase(),
    rate,
    retries: Math.max(0, Math.min(100, Math.floor(o.retries ?? 5))),
    retryDelayMs: Math.max(0, o.retryDelayMs ?? 1_000),
    stallTimeoutMs: Math.max(100, o.stallTimeoutMs ?? 60_000),
    floor: checkFloor(o.floor ?? DEFAULT_READ_FLOOR),
    transport: o.fetch ? fetchTransport(o.fetch) : directTransport(o.ca),
  };
}

function checkFloor(f: ReadFloor): ReadFloor {
  if (!(f.minBytesPerSecond >= 0) || !(f.windowMs >= 100)) throw new ZimDownloadError('invalid', 'Cannot download: the minimum rate must be at least 0 bytes per second over at least 0.1 s.');
  return { minBytesPerSecond: f.minBytesPerSecond, windowMs: f.windowMs };
}

function checkFileName(fileName: string): string {
  const r = zimFileNameSchema.safeParse(fileName);
  if (!r.success) throw new ZimDownloadError('invalid', `Cannot download ${JSON.stringify(String(fileName).slice(0, 100))}: the file name ${r.error.issues[0]?.message}.`);
  return r.data;
}

/** Mutable state of one call: what is on disk and hashed, and how many requests it took. */
type Transfer = {
  done: number;
  attempts: number;
  sink: PartSink;
  meter: ProgressMeter;
  bucket: TokenBucket;
  /** Mirrors that sent bytes of what is in the part file now (known for this call only). */
  sources: Set<string>;
  /** The running request's silence and floor check, called by the transfer's ticker. */
  watch?: () => void;
};

async function download(o: Checked, part: string): Promise<DownloadZimResult> {
  const dest = path.join(o.dir, o.fileName);
  await checkDir(o.dir);
  if (!o.replace && (await fileSize(dest, -1)) >= 0) {
    throw new ZimDownloadError('exists', `${o.fileName} is already in the library; remove it first.`);
  }
  let have = await fileSize(part);
  if (have > o.size) {
    // Left by a different file of the same name (the catalogue changed): useless, and it would fail the size checks.
    await fsp.unlink(part);
    have = 0;
  }
  await checkFreeSpace(o, o.size - have);

  const fh = await openPart(part);
  let closed = false;
  try {
    const t: Transfer = {
      done: 0,
      attempts: 0,
      sink: new PartSink(fh, have),
      meter: new ProgressMeter(o.size, o.onProgress),
      bucket: new TokenBucket(o.rate),
      sources: new Set(),
    };
    // After a restart the hash state is gone (Node cannot export a sha-256 midstate), so the prefix on disk is
    // read and hashed once before continuing. Unavoidable, and far cheaper than downloading it again.
    await hashPrefix(fh, have, t, o.signal);
    t.done = have;
    let urls = o.urls;
    for (let round = 1; ; round++) {
      if (t.done < o.size) await transfer({ ...o, urls }, t);
      await t.sink.drain();
      const digest = t.sink.hash.digest('hex');
      if (digest === o.sha256) break;
      // Asking the mirrors that sent these bytes again cannot help; one that sent none of them may hold a good copy.
      urls = urls.filter((u) => !t.sources.has(u));
      if (urls.length === 0) {
        await fh.close();
        closed = true;
        await fsp.rm(part, { force: true }); // start from nothing next time
        const arrived = round === 1 ? 'arrived complete but its sha-256 does not match' : `arrived complete ${round} times (the last from another mirror) but its sha-256 never matched`;
        throw new ZimDownloadError('hash-mismatch', `${o.fileName} ${arrived} the catalogue's (got ${digest.slice(0, 12)}…, expected ${o.sha256.slice(0, 12)}…); the damaged download was deleted.`);
      }
      await t.sink.restart();
      t.done = 0;
      t.sources.clear();
    }
    await fh.sync();
    await fh.chmod(0o644); // readable by the Kiwix container's user (uid 1001) whatever our umask
    await fh.close();
    closed = true;
    await publish(part, dest, o);
    await syncDir(o.dir);
    t.meter.emit(o.size, 'downloading', true);
    return { path: dest, bytes: o.size, resumedFrom: have, attempts: t.attempts };
  } finally {
    if (!closed) await fh.close().catch(() => undefined);
  }
}

async function checkDir(dir: string): Promise<void> {
  const st = await fsp.stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new ZimDownloadError('missing-dir', `The library folder ${dir} does not exist.`);
}

async function checkFreeSpace(o: Checked, remaining: number): Promise<void> {
  const margin = o.minFreeBytes ?? freeSpaceMargin(o.size);
  const s = await fsp.statfs(o.dir);
  const free = s.bavail * s.bsize;
  if (free < remaining + margin) {
    throw new ZimDownloadError(
      'no-space',
      `Not enough free disk for ${o.fileName}: it needs ${formatBytes(remaining)} more plus ${formatBytes(margin)} to spare, and ${formatBytes(free)} is free.`,
    );
  }
}

async function openPart(part: string): Promise<FileHandle> {
  try {
    // O_NOFOLLOW: a part file planted as a symlink must not make root write, chmod or truncate its target.
    return await fsp.open(part, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o644);
  } catch (err) {
    throw diskError(err, path.basename(part));
  }
}

async function hashPrefix(fh: FileHandle, length: number, t: Transfer, signal: AbortSignal | undefined): Promise<void> {
  if (length === 0) return;
  // Two buffers: the disk reads the next block (on libuv's pool) while this one is hashed. On a Pi both take time
  // (an SD card reads 40–90 MB/s, a Pi 4 hashes about 120 MB/s), so a long resume takes the slower of the two, not both.
  const size = Math.min(PREFIX_READ_BYTES, length);
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  const readAt = (i: number, pos: number) => fh.read(buffers[i]!, 0, Math.min(size, length - pos), pos);
  let pos = 0;
  let next: ReturnType<typeof readAt> | undefined = readAt(0, 0);
  try {
    for (let i = 0; next; i ^= 1) {
      const { bytesRead } = await next;
      next = undefined;
      if (bytesRead === 0) throw new ZimDownloadError('disk', 'The part file shrank while it was being checked.');
      throwIfAborted(signal);
      if (pos + bytesRead < length) next = readAt(i ^ 1, pos + bytesRead);
      t.sink.hash.update(buffers[i]!.subarray(0, bytesRead));
      pos += bytesRead;
      t.meter.emit(pos, 'checking');
    }
  } finally {
    await next?.catch(() => undefined); // never leave a read into a buffer in flight
  }
}

/** Requests until every byte is on disk: retry with back-off on cuts, next mirror on a refusal, stop on the rest. */
async function transfer(o: Checked, t: Transfer): Promise<void> {
  const stopTicker = startTicker(t);
  try {
    await requestUntilDone(o, t);
  } finally {
    stopTicker();
  }
}

/**
 * Progress on a timer, not only on data: during a stall or a back-off the page must still show what is on disk.
 * Bytes still waiting in the sink's block are written once the connection has been idle for a tick.
 */
function startTicker(t: Transfer): () => void {
  let last = t.done;
  let running = true;
  const ticker = setInterval(() => {
    t.watch?.();
    const idle = t.done === last;
    last = t.done;
    if (!idle) return t.meter.emit(t.done, 'downloading');
    t.sink.flushIdle().then(
      () => running && t.meter.emit(t.done, 'downloading'), // never after the transfer: its caller may be done with progress
      () => undefined, // the sink keeps the failure: the transfer reports it
    );
  }, FLOOR_TICK_MS);
  return () => {
    running = false;
    clearInterval(ticker);
  };
}

async function requestUntilDone(o: Checked, t: Transfer): Promise<void> {
  const refused = new Map<string, ZimDownloadError>();
  let failures = 0;
  let turn = 0;
  while (t.done < o.size) {
    throwIfAborted(o.signal);
    const candidates = o.urls.filter((u) => !refused.has(u));
    if (candidates.length === 0) throw mirrorsFailed(o, refused);
    const url = candidates[turn % candidates.length]!;
    const before = t.done;
    try {
      await attempt(o, t, url);
      failures = 0;
    } catch (err) {
      if (o.signal?.aborted) throw err;
      const e = err instanceof ZimDownloadError ? err : new ZimDownloadError('network', networkReason(err), 'backoff', err);
      if (e.retry === 'never') throw e;
      if (e.retry === 'mirror') {
        refused.set(url, e);
        continue;
      }
      failures = t.done > before ? 1 : failures + 1;
      if (failures > o.retries) {
        throw new ZimDownloadError(e.code, `Gave up downloading ${o.fileName} after ${failures} tries in a row without progress (${e.message}).`, 'never', e);
      }
      turn++; // spread retries over the mirrors
      const delay = Math.min(MAX_BACKOFF_MS, o.retryDelayMs * 2 ** (failures - 1));
      await abortableSleep(delay * (0.75 + Math.random() * 0.5), o.signal);
    }
  }
}

function mirrorsFailed(o: Checked, refused: Map<string, ZimDownloadError>): ZimDownloadError {
  const errors = [...refused.values()];
  // Each reason names its mirror; one that does not (a malformed answer) gets the host put in front.
  const reasons = [...refused].map(([url, e]) => (e.message.includes(new URL(url).host) ? e.message : `${new URL(url).host}: ${e.message}`));
  if (errors.length === 1) return new ZimDownloadError(errors[0]!.code, reasons[0]!, 'never', errors[0]);
  return new ZimDownloadError(errors[0]!.code, `No mirror would send ${o.fileName}: ${reasons.join('; ')}.`, 'never', errors[0]);
}

/** One HTTP request from `t.done` onwards, its body streamed to the hash and the part file. */
async function attempt(o: Checked, t: Transfer, url: string): Promise<void> {
  const host = new URL(url).host;
  const cut = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, cut.signal]) : cut.signal;
  // A silent connection (uplink gone, peer vanished) would otherwise hang forever, and a trickling one (a byte every
  // 100 ms is never silent) for days. Both are checked by the transfer's ticker, not per chunk (a timer reset per
  // 64 KiB chunk costs real throughput); time in our own bandwidth limit is not silence, nor the server's slowness.
  let received = 0;
  let throttling = false;
  let seen = 0;
  let lastChange = performance.now();
  const floor = new FloorWatch(o.floor, lastChange);
  t.watch = () => {
    const now = performance.now();
    if (throttling) {
      // Held back by our own limit (a burst, then a wait): neither silence nor the server's slowness.
      seen = received;
      lastChange = now;
      return floor.restart(received, now);
    }
    if (received !== seen) {
      seen = received;
      lastChange = now;
    } else if (now - lastChange >= o.stallTimeoutMs) {
      return cut.abort(new ZimDownloadError('network', `${host} sent nothing for ${Math.round(o.stallTimeoutMs / 1000)} s`, 'backoff'));
    }
    const limit = o.rate();
    const slow = floor.check(received, now, limit > 0 && Number.isFinite(limit) ? Math.min(o.floor.minBytesPerSecond, limit / 2) : o.floor.minBytesPerSecond);
    // Another mirror may do better; with none left the download fails and says why.
    if (slow) cut.abort(new ZimDownloadError('network', `${host} stalled: it ${slow}`, 'mirror'));
  };
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (t.done > 0) headers.range = `bytes=${t.done}-`;
  t.attempts++;
  try {
    let res: Answer;
    try {
      res = await o.transport(url, headers, signal);
    } catch (err) {
      throw requestError(err, o, cut, host);
    }
    let start: number;
    let length: number;
    try {
      ({ start, length } = checkResponse(res, t.done, o.size, host));
    } catch (err) {
      res.cancel();
      throw err;
    }
    if (start === 0 && t.done > 0) {
      // The server ignored Range and sent the whole file: keep reading, but from byte 0.
      await t.sink.restart();
      t.done = 0;
      t.sources.clear();
    }
    try {
      // Count (and refuse) bytes before they are committed; then pace the read by the disk and the bandwidth limit.
      const accept = (n: number) => {
        if (received + n > length) {
          throw new ZimDownloadError('size-mismatch', `${host} sent more than the ${o.size} bytes ${o.fileName} should have`);
        }
        received += n;
        t.done += n;
      };
      const pace = (n: number, writing: Promise<void> | undefined): Promise<unknown> | undefined => {
        t.meter.emit(t.done, 'downloading');
        const wait = t.bucket.take(n);
        if (wait <= 0) return writing;
        throttling = true;
        return Promise.all([writing, abortableSleep(wait, signal)]).finally(() => {
          throttling = false;
        });
      };
      await res.consume({
        chunk: (chunk) => {
          accept(chunk.byteLength);
          return pace(chunk.byteLength, t.sink.push(chunk));
        },
        space: () => t.sink.space(),
        commit: (n) => {
          accept(n);
          return pace(n, t.sink.commit(n));
        },
      });
    } catch (err) {
      res.cancel();
      throw requestError(err, o, cut, host);
    }
    if (received < length) {
      throw new ZimDownloadError('network', `the connection to ${host} ended at byte ${t.done} of ${o.size}`, 'backoff');
    }
  } finally {
    t.watch = undefined;
    if (received > 0) t.sources.add(url);
    // What was hashed must be on disk before the next request asks for the bytes after it.
    await t.sink.drain();
  }
}

/** Map a failed request or body read to the right error: a pause, a stall, a disk error, or a network cut. */
function requestError(err: unknown, o: Checked, cut: AbortController, host: string): ZimDownloadError {
  if (err instanceof ZimDownloadError) return err;
  if (o.signal?.aborted) return aborted(o);
  if (cut.signal.aborted && cut.signal.reason instanceof ZimDownloadError) return cut.signal.reason;
  // Certificate and TLS failures do not heal by retrying: next mirror.
  const code = String((err as { code?: unknown })?.code ?? '');
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
    return new ZimDownloadError('http', `${host}'s TLS certificate is not trusted (${code})`, 'mirror', err);
  }
  if (/^ERR_(TLS|SSL)_/.test(code)) return new ZimDownloadError('http', `TLS with ${host} failed (${code})`, 'mirror', err);
  return new ZimDownloadError('network', `${host}: ${networkReason(err)}`, 'backoff', err);
}

/**
 * Check the status and size headers against what was asked. Returns the file offset the body starts at and how
 * many bytes it should hold.
 */
export function checkResponse(res: ResponseHead, done: number, size: number, host: string): { start: number; length: number } {
  // A size that disagrees means the server or the Metalink is wrong: stop and say so rather than guess which.
  const lie = (why: string) => new ZimDownloadError('size-mismatch', `${host} ${why}, but the file has ${size} bytes`);
  const encoding = res.headers.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw new ZimDownloadError('http', `${host} sent the file ${encoding}-encoded, which breaks resuming`, 'mirror');
  }
  const contentLength = res.headers.get('content-length');
  const declared = contentLength === null ? undefined : Number(contentLength);
  if (res.status === 200) {
    if (declared !== undefined && declared !== size) throw lie(`announced ${contentLength} bytes`);
    return { start: 0, length: size };
  }
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(res.headers.get('content-range')?.trim() ?? '');
    if (!range) throw new ZimDownloadError('http', `${host} answered a range request without a usable Content-Range`, 'mirror');
    const [first, lastByte, total] = [Number(range[1]), Number(range[2]), range[3]];
    if (total !== '*' && Number(total) !== size) throw lie(`says the file has ${total} bytes`);
    if (first !== done) throw new ZimDownloadError('http', `${host} sent bytes from ${first} when asked for ${done} onwards`, 'mirror');
    if (lastByte < first || lastByte >= size) throw lie(`sent a range ending at byte ${lastByte}`);
    const length = lastByte - first + 1;
    if (declared !== undefined && declared !== length) {
      throw new ZimDownloadError('size-mismatch', `${host} announced ${contentLength} bytes for the ${length} bytes from ${first} to ${lastByte}`);
    }
    return { start: first, length };
  }
  if (res.status === 416) {
    throw new ZimDownloadError('http', `${host} refused to continue from byte ${done} (HTTP 416): its copy may be shorter than expected`, 'mirror');
  }
  const transient = res.status >= 500 || res.status === 408 || res.status === 429;
  throw new ZimDownloadError('http', `${host} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, transient ? 'backoff' : 'mirror');
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP: one small interface that RawGet (the default) and an injected fetch both fill

/** What checkResponse reads; a fetch Response fits. */
export type ResponseHead = { status: number; statusText?: string; headers: { get(name: string): string | null } };
/**
 * Takes the body. Each call returns a promise when reading must wait for it (disk busy, bandwidth limit), undefined
 * to go on at once; a throw ends the response.
 */
type BodyHandler = {
  /** Body bytes in the transport's own buffer (valid during the call only, unless it returns a promise). */
  chunk(chunk: Uint8Array): Promise<unknown> | undefined;
  /** Zero-copy, optional: where the next read may land directly; undefined when nothing is free right now. */
  space?(): Uint8Array | undefined;
  /** Zero-copy: `n` body bytes landed at the start of the last `space()`. */
  commit?(n: number): Promise<unknown> | undefined;
};
type Answer = ResponseHead & {
  /** Feed the body to `body`; resolves at its complete end, rejects on a cut (or whatever a handler threw). */
  consume(body: BodyHandler): Promise<void>;
  cancel(): void;
};
type Transport = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<Answer>;

const MAX_REDIRECTS = 5;

/** Follows redirects (download.kiwix.org sends every request on to a mirror) around one GET per connection. */
function directTransport(ca: string | Buffer | undefined): Transport {
  return async (url, headers, signal) => {
    let current = new URL(url);
    for (let hop = 0; ; hop++) {
      const answer = await RawGet.start(current, headers, signal, ca);
      const location = answer.headers.get('location');
      if (answer.status < 300 || answer.status >= 400 || !location) return answer;
      answer.cancel();
      const next = new URL(location, current);
      if (hop >= MAX_REDIRECTS) throw new ZimDownloadError('http', `${current.host} redirected more than ${MAX_REDIRECTS} times`, 'mirror');
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new ZimDownloadError('http', `${current.host} redirected to a non-http address`, 'mirror');
      current = next;
    }
  };
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 1024;

type Framing =
  | { kind: 'length'; left: number }
  | { kind: 'close' }
  | { kind: 'chunked'; state: 'size' | 'data' | 'data-end' | 'trailer'; left: number; line: string };

/**
 * One HTTP/1.1 GET on its own plain or TLS connection (`Connection: close`), with just what a file download needs:
 * Content-Length, chunked and close-delimited bodies, 1xx skipping, TLS with the system's CAs (or `ca`).
 *
 * Why not node:http or fetch: measured on 127.0.0.1 with 2 cores, their parsers and streams cost several times
 * curl's CPU per byte and held the download (hash included) to 40–60 % of curl's rate. Here reads go into one
 * reused buffer (`onread`), body bytes go straight to the handler, and the socket is paused only while the handler
 * waits (disk, bandwidth limit): the download keeps pace with curl.
 */
class RawGet implements Answer {
  status = 0;
  statusText = '';
  readonly headers = { get: (name: string): string | null => this.fields.get(name.toLowerCase()) ?? null };
  private readonly fields = new Map<string, string>();
  private readonly socket: net.Socket;
  private readonly signal: AbortSignal;
  private phase: 'head' | 'body' | 'done' = 'head';
  private head: Buffer = Buffer.alloc(0);
  private framing: Framing = { kind: 'close' };
  /** Received bytes not yet handed on (a view into the read buffer: valid while the socket is paused). */
  private input: Buffer | undefined;
  private body: BodyHandler | undefined;
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  /** The read in progress lands in the body handler's space, not in readBuffer. */
  private direct = false;
  /** Every body byte has been received (it may still be waiting in `input`). */
  private complete = false;
  /** The connection ended. */
  private eof = false;
  /** A handler's promise is pending: nothing may move until it settles. */
  private waiting = false;
  private onHead: { resolve: (a: Answer) => void; reject: (e: unknown) => void } | undefined;
  private consumer: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private failure: unknown;
  private readonly abort = () => this.fail(this.signal.reason);

  static start(url: URL, headers: Record<string, string>, signal: AbortSignal, ca: string | Buffer | undefined): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      new RawGet(url, headers, signal, ca, { resolve, reject });
    });
  }

  private constructor(url: URL, headers: Record<string, string>, signal: AbortSignal, ca: string | Buffer | undefined, onHead: RawGet['onHead']) {
    this.signal = signal;
    this.onHead = onHead;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const onread = { buffer: () => this.readTarget(), callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) };
    this.socket =
      url.protocol === 'https:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'], ...(ca ? { ca: [...tls.rootCertificates, String(ca)] } : {}), onread } as tls.ConnectionOptions)
        : net.connect({ host, port, onread });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.onClose());
    signal.addEventListener('abort', this.abort, { once: true });
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'User-Agent: LoRes-Node', 'Accept: */*', 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    if (lines.some((l) => /[\r\n]/.test(l))) {
      this.fail(new ZimDownloadError('invalid', 'a request line holds a line break'));
      return;
    }
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  }

  consume(body: BodyHandler): Promise<void> {
    this.body = body;
    return new Promise<void>((resolve, reject) => {
      this.consumer = { resolve, reject };
      if (this.failure !== undefined) return reject(this.failure);
      if (this.phase === 'done') return resolve();
      if (this.pump()) this.socket.resume();
    });
  }

  cancel(): void {
    this.fail(Object.assign(new Error('cancelled'), { code: 'ECANCELLED' }));
  }

  /**
   * Where the next socket read lands: straight into the body handler's buffer when nothing else is pending and the
   * framing needs no parsing (saves copying every byte once more), else into readBuffer.
   */
  private readTarget(): Uint8Array {
    this.direct = false;
    const f = this.framing;
    if (this.phase !== 'body' || this.waiting || this.input?.length || !this.body?.space || f.kind === 'chunked') return this.readBuffer;
    if (f.kind === 'length' && f.left === 0) return this.readBuffer;
    const space = this.body.space();
    if (!space?.length) return this.readBuffer;
    this.direct = true;
    // Never let bytes past the body's end land in the handler's buffer.
    return f.kind === 'length' && space.length > f.left ? space.subarray(0, f.left) : space;
  }

  /** The onread callback: false pauses the socket (the buffer then keeps its bytes until resume). */
  private onRead(n: number, buf: Uint8Array): boolean {
    try {
      if (this.phase === 'done' || this.failure !== undefined) return false;
      if (this.direct) return this.readDirect(n);
      const data = Buffer.from(buf.buffer, buf.byteOffset, n);
      if (this.phase === 'head') return this.readHead(data);
      this.input = data;
      return this.pump();
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  private readDirect(n: number): boolean {
    this.direct = false;
    if (this.framing.kind === 'length') {
      this.framing.left -= n;
      if (this.framing.left === 0) this.complete = true;
    }
    const wait = this.body!.commit!(n);
    if (wait) return this.waitFor(wait);
    return this.pump();
  }

  /** Pause until the handler's promise settles, then go on. */
  private waitFor(wait: Promise<unknown>): false {
    this.waiting = true;
    wait.then(
      () => {
        this.waiting = false;
        if (this.failure === undefined && this.pump()) this.socket.resume();
      },
      (err: unknown) => this.fail(err),
    );
    return false;
  }

  private readHead(data: Buffer): boolean {
    // Heads are small; copying them out of the read buffer keeps the leftover body bytes valid after resolving.
    let buf = Buffer.concat([this.head, data]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) throw new ZimDownloadError('http', 'the server sent an overlong response head', 'mirror');
        this.head = buf;
        return true;
      }
      this.parseHead(buf.subarray(0, end).toString('latin1'));
      buf = buf.subarray(end + 4);
      if (this.status >= 100 && this.status < 200) {
        this.fields.clear(); // an interim response (100 Continue …): the real one follows
        continue;
      }
      break;
    }
    this.head = Buffer.alloc(0);
    this.phase = 'body';
    this.framing = this.framingOf();
    this.input = buf.length ? buf : undefined;
    if (this.framing.kind === 'length' && this.framing.left === 0) this.complete = true;
    this.onHead?.resolve(this);
    this.onHead = undefined;
    return false; // wait for consume()
  }

  private parseHead(text: string): void {
    const [statusLine = '', ...lines] = text.split(/\r?\n/);
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
    if (!m) throw new ZimDownloadError('http', 'the server did not answer in HTTP/1.1', 'mirror');
    this.status = Number(m[1]);
    this.statusText = m[2] ?? '';
    let last = '';
    for (const line of lines) {
      if (/^[ \t]/.test(line) && last) {
        this.fields.set(last, `${this.fields.get(last)} ${line.trim()}`); // obsolete line folding
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ZimDownloadError('http', 'the server sent a malformed header', 'mirror');
      last = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const before = this.fields.get(last);
      this.fields.set(last, before === undefined ? value : `${before}, ${value}`);
    }
  }

  private framingOf(): Framing {
    const coding = this.fields.get('transfer-encoding');
    if (coding && /(^|,)\s*chunked\s*$/i.test(coding)) return { kind: 'chunked', state: 'size', left: 0, line: '' };
    const length = this.fields.get('content-length');
    if (length === undefined) return { kind: 'close' };
    if (!/^\d{1,16}$/.test(length)) throw new ZimDownloadError('http', `the server sent the Content-Length ${JSON.stringify(length.slice(0, 40))}`, 'mirror');
    return { kind: 'length', left: Number(length) };
  }

  /**
   * Hand buffered body bytes on, and end the body once every byte has been handled — never while a handler's
   * promise is pending (the caller would otherwise race the handler). True when reading may go on.
   */
  private pump(): boolean {
    try {
      return this.pumpOrThrow();
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  private pumpOrThrow(): boolean {
    while (this.phase === 'body' && !this.waiting) {
      if (!this.input?.length) {
        if (this.complete || (this.eof && this.framing.kind === 'close')) this.finish();
        else if (this.eof) this.fail(Object.assign(new Error('the connection was cut'), { code: 'ECONNRESET' }));
        return this.phase === 'body';
      }
      const piece = this.nextPiece();
      if (!piece?.length) continue;
      const wait = this.body!.chunk(piece);
      if (wait) return this.waitFor(wait);
    }
    return false;
  }

  /** Advance the framing over `input`; returns the body bytes found (or undefined for framing bytes). */
  private nextPiece(): Buffer | undefined {
    const input = this.input!;
    const f = this.framing;
    if (f.kind === 'close') {
      this.input = undefined;
      return input;
    }
    if (f.kind === 'length') {
      const n = Math.min(f.left, input.length);
      f.left -= n;
      this.input = f.left === 0 ? undefined : input.subarray(n); // anything after the body is not ours
      if (f.left === 0) this.complete = true;
      return input.subarray(0, n);
    }
    if (f.state === 'data') {
      const n = Math.min(f.left, input.length);
      f.left -= n;
      this.input = input.subarray(n);
      if (f.left === 0) f.state = 'data-end';
      return input.subarray(0, n);
    }
    // size lines, the CRLF after each chunk, and trailers: all line-based
    const nl = input.indexOf(10);
    const text = input.subarray(0, nl < 0 ? input.length : nl).toString('latin1');
    this.input = nl < 0 ? undefined : input.subarray(nl + 1);
    f.line += text;
    if (f.line.length > MAX_CHUNK_LINE) throw new ZimDownloadError('http', 'the server sent a malformed chunked body', 'mirror');
    if (nl < 0) return undefined;
    const line = f.line.replace(/\r$/, '');
    f.line = '';
    if (f.state === 'data-end') {
      if (line !== '') throw new ZimDownloadError('http', 'the server sent a malformed chunked body', 'mirror');
      f.state = 'size';
    } else if (f.state === 'size') {
      const size = /^([0-9a-fA-F]{1,12})\s*(;.*)?$/.exec(line);
      if (!size) throw new ZimDownloadError('http', 'the server sent a malformed chunked body', 'mirror');
      f.left = parseInt(size[1]!, 16);
      f.state = f.left === 0 ? 'trailer' : 'data';
    } else if (line === '') {
      this.complete = true; // the empty line after the trailers
      this.input = undefined;
    }
    return undefined;
  }

  private finish(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.input = undefined;
    this.signal.removeEventListener('abort', this.abort);
    this.socket.destroy();
    this.consumer?.resolve();
  }

  private onClose(): void {
    if (this.phase === 'done' || this.failure !== undefined) return;
    if (this.phase === 'head') {
      return this.fail(Object.assign(new Error('the connection closed before an answer'), { code: 'ECONNRESET' }));
    }
    // Bytes may still wait in `input` for the handler: pump() decides, now or once the handler is done.
    this.eof = true;
    if (this.consumer && !this.waiting) this.pump();
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined || (this.phase === 'done' && !this.consumer && !this.onHead)) {
      this.socket.destroy();
      return;
    }
    this.failure = err ?? new Error('failed');
    this.phase = 'done';
    this.signal.removeEventListener('abort', this.abort);
    this.socket.destroy();
    this.onHead?.reject(this.failure);
    this.onHead = undefined;
    this.consumer?.reject(this.failure);
  }
}

function fetchTransport(fetchImpl: typeof fetch): Transport {
  return async (url, headers, signal) => {
    const res = await fetchImpl(url, { headers, signal, redirect: 'follow' });
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
      consume: async (handler) => {
        if (!res.body) return;
        reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          const wait = handler.chunk(value);
          if (wait) await wait;
        }
      },
      cancel: () => void (reader ?? res.body)?.cancel().catch(() => undefined),
    };
  };
}

async function publish(part: string, dest: string, o: Checked): Promise<void> {
  try {
    if (o.replace) {
      await fsp.rename(part, dest); // atomic: readers see the old file or the new one, never a mix
      return;
    }
    try {
      // link() refuses to overwrite, atomically, where an exists-check-then-rename could race.
      await fsp.link(part, dest);
      await fsp.unlink(part);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new ZimDownloadError('exists', `${o.fileName} appeared in the library during the download; the verified download is kept as ${path.basename(part)}.`);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
      // File systems without hard links (exFAT/FAT USB disks): check, then rename.
      if ((await fileSize(dest, -1)) >= 0) throw new ZimDownloadError('exists', `${o.fileName} appeared in the library during the download.`);
      await fsp.rename(part, dest);
    }
  } catch (err) {
    throw err instanceof ZimDownloadError ? err : diskError(err, o.fileName);
  }
}

/** Make the rename durable: a power cut right after must not bring the part file back. */
async function syncDir(dir: string): Promise<void> {
  const d = await fsp.open(dir, 'r').catch(() => undefined);
  await d?.sync().catch(() => undefined);
  await d?.close().catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing and hashing: chunks are copied into one of two 2 MiB buffers; a full buffer is written (on libuv's pool)
// and hashed in one call while the other fills. Measured on 127.0.0.1: hashing and writing per block instead of per
// 64 KiB socket chunk roughly halves the CPU time. At most one write is in flight, so a slow disk slows the network
// read (backpressure) and memory stays at 4 MiB. A data sync every 16 MiB runs in the background. (Hashing on a
// worker thread over shared blocks was measured side by side too: slower on 2 cores, and about 25 MB more memory
// while it runs, 15 MB of it kept after.)

class PartSink {
  /** sha-256 of every byte handed to the disk so far (after drain(): of every byte pushed). */
  hash: Hash = createHash('sha256');
  private readonly fh: FileHandle;
  // A read may land in the room past WRITE_BATCH_BYTES, so a block is flushed once it holds at least that much.
  private readonly buffers = [Buffer.allocUnsafeSlow(SINK_BUFFER_BYTES), Buffer.allocUnsafeSlow(SINK_BUFFER_BYTES)];
  private current = 0;
  private fill = 0;
  /** Bytes at the start of the current block already hashed and written by flushIdle(). */
  private flushed = 0;
  private position: number;
  private inFlight: Promise<void> | undefined;
  private syncedTo: number;
  private syncing: Promise<void> | undefined;
  private failure: ZimDownloadError | undefined;
  private pushing: Promise<void> | undefined;

  constructor(fh: FileHandle, position: number) {
    this.fh = fh;
    this.position = position;
    this.syncedTo = position;
  }

  /** A promise only when the caller must wait (a block is due); usually the chunk is just copied. */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (chunk.byteLength <= SINK_BUFFER_BYTES - this.fill) {
      this.buffers[this.current]!.set(chunk, this.fill);
      return this.commit(chunk.byteLength);
    }
    return this.pushSlow(chunk);
  }

  /** Free room in the current block, for a read to land in directly (then commit()). */
  space(): Buffer | undefined {
    return this.fill < WRITE_BATCH_BYTES && !this.pushing ? this.buffers[this.current]!.subarray(this.fill) : undefined;
  }

  /** `n` bytes were written into space(). A promise when the block is due and the caller must wait. */
  commit(n: number): Promise<void> | undefined {
    this.fill += n;
    if (this.fill < WRITE_BATCH_BYTES) return undefined;
    const flushing = this.flush().finally(() => {
      if (this.pushing === flushing) this.pushing = undefined;
    });
    this.pushing = flushing;
    return flushing;
  }

  private pushSlow(chunk: Uint8Array): Promise<void> {
    const pushing = this.copyAndFlush(chunk).finally(() => {
      if (this.pushing === pushing) this.pushing = undefined;
    });
    this.pushing = pushing;
    return pushing;
  }

  private async copyAndFlush(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, SINK_BUFFER_BYTES - this.fill);
      this.buffers[this.current]!.set(chunk.subarray(offset, offset + n), this.fill);
      this.fill += n;
      offset += n;
      if (this.fill >= WRITE_BATCH_BYTES) await this.flush();
    }
  }

  /** Everything pushed is hashed and written (to the page cache, and mostly to disk) when this resolves. */
  async drain(): Promise<void> {
    await this.pushing?.catch(() => undefined); // callers wait for push(), but a second flush racing it would corrupt
    // After a failed write nothing more may be written: the file must stay a clean prefix to resume from.
    if (this.failure) throw this.failure;
    if (this.fill > this.flushed) await this.flush();
    await this.settle();
    await this.syncing;
    if (this.failure) throw this.failure;
  }

  /** Back to an empty file and a fresh hash (a server ignored Range and sends the file from its start). */
  async restart(): Promise<void> {
    await this.pushing?.catch(() => undefined);
    this.fill = 0;
    this.flushed = 0;
    await this.settle();
    await this.syncing;
    await this.fh.truncate(0);
    this.hash = createHash('sha256');
    this.position = 0;
    this.syncedTo = 0;
  }

  private async settle(): Promise<void> {
    const pending = this.inFlight;
    this.inFlight = undefined;
    try {
      await pending;
    } catch (err) {
      this.failure ??= diskError(err, 'the part file');
      throw this.failure;
    }
  }

  /**
   * The connection is idle (a stall, a slow mirror): hash and write what the current block holds now, so the part
   * file — and the progress shown — match what was received. Only bytes already committed are touched, and the block
   * stays current, so a read that was handed its free room earlier still lands where it should. Resolves once written.
   */
  flushIdle(): Promise<void> {
    if (this.failure || this.pushing || this.fill === this.flushed) return this.settleQuietly();
    const piece = this.buffers[this.current]!.subarray(this.flushed, this.fill);
    const write = writeFully(this.fh, piece, this.position);
    write.catch(() => undefined); // observed by settle()
    this.hash.update(piece);
    this.position += piece.byteLength;
    this.flushed = this.fill;
    this.track(write);
    return this.settleQuietly();
  }

  /** The next settle() waits for this write as well as any still in flight (an idle write may run beside a block's). */
  private track(write: Promise<void>): void {
    const before = this.inFlight;
    if (!before) return void (this.inFlight = write);
    const both = Promise.all([before, write]).then(() => undefined);
    both.catch(() => undefined); // observed by settle()
    this.inFlight = both;
  }

  /** Waits for the writes in flight without taking them over (settle() stays the one that reports failures). */
  private settleQuietly(): Promise<void> {
    return (this.inFlight ?? Promise.resolve()).then(() => undefined);
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.settle(); // the other buffer's write is done: it may be refilled (throws if that write failed)
    const buffer = this.buffers[this.current]!.subarray(this.flushed, this.fill);
    const position = this.position;
    this.position += buffer.byteLength;
    this.current ^= 1;
    this.fill = 0;
    this.flushed = 0;
    // The write is handed to libuv's pool first, so the other core copies the block to the page cache while this one
    // hashes it (both only read it). Measured side by side: 10–13 % faster than hashing first.
    const write = writeFully(this.fh, buffer, position);
    write.catch(() => undefined); // observed by settle(); this only silences "unhandled" if nobody settles
    this.hash.update(buffer);
    this.track(write);
    // Without this the kernel holds the whole file dirty in memory (a Pi has little) and the final fsync writes
    // it all at once; syncing as we go overlaps the disk with the network.
    if (!this.syncing && this.position - this.syncedTo >= SYNC_EVERY_BYTES) {
      this.syncedTo = this.position;
      this.syncing = write
        .then(() => this.fh.datasync())
        .then(
          () => undefined,
          (err: unknown) => {
            this.failure = diskError(err, 'the part file');
          },
        )
        .finally(() => {
          this.syncing = undefined;
        });
    }
  }
}

/** write() may write less than asked (a nearly full disk does): loop until all is written or it throws. */
async function writeFully(fh: FileHandle, buffer: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  try {
    while (offset < buffer.byteLength) {
      const { bytesWritten } = await fh.write(buffer, offset, buffer.byteLength - offset, position + offset);
      if (bytesWritten === 0) throw Object.assign(new Error('write wrote nothing'), { code: 'ENOSPC' });
      offset += bytesWritten;
    }
  } catch (err) {
    throw diskError(err, 'the part file');
  }
}

function diskError(err: unknown, what: string): ZimDownloadError {
  if (err instanceof ZimDownloadError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ZimDownloadError('disk-full', 'The disk is full, so the download stopped; free some space, then resume.', 'never', err);
  }
  return new ZimDownloadError('disk', `Could not write the download (${code ?? (err as Error).message}) for ${what}.`, 'never', err);
}

// ---------------------------------------------------------------------------------------------------------------
// Throttling and progress

/** Token bucket: `rate()` bytes per second, bursts of a quarter second; reading the rate per call lets it change live. */
class TokenBucket {
  private readonly rate: () => number;
  private tokens = 0;
  private last = performance.now();

  constructor(rate: () => number) {
    this.rate = rate;
  }

  /** Spend `bytes`; returns how many ms to wait before reading more (0: go on). */
  take(bytes: number): number {
    const rate = this.rate();
    const now = performance.now();
    if (!(rate > 0) || !Number.isFinite(rate)) {
      this.tokens = 0;
      this.last = now;
      return 0;
    }
    this.tokens = Math.min(rate / 4, this.tokens + ((now - this.last) / 1000) * rate) - bytes;
    this.last = now;
    // In debt: wait until the bucket would be back at zero; the refill on the next call pays the debt off.
    return this.tokens < 0 ? (-this.tokens / rate) * 1000 : 0;
  }
}

/** Calls onProgress at most 4 times a second, with the speed over the last few seconds. */
class ProgressMeter {
  private readonly total: number;
  private readonly onProgress: ((p: DownloadProgress) => void) | undefined;
  private samples: { at: number; done: number }[] = [];
  private lastEmit = Number.NEGATIVE_INFINITY;
  private phase: DownloadPhase | undefined;

  constructor(total: number, onProgress: ((p: DownloadProgress) => void) | undefined) {
    this.total = total;
    this.onProgress = onProgress;
  }

  emit(done: number, phase: DownloadPhase, force = false): void {
    if (!this.onProgress) return;
    const now = performance.now();
    if (phase !== this.phase) {
      // Re-hashing a part file is not download speed: start the window afresh when the phase changes.
      this.phase = phase;
      this.samples = [];
    } else if (!force && now - this.lastEmit < PROGRESS_INTERVAL_MS) return;
    this.lastEmit = now;
    this.samples.push({ at: now, done });
    while (this.samples.length > 2 && now - this.samples[1]!.at > SPEED_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (now - first.at) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, (done - first.done) / seconds) : 0;
    const secondsLeft = done >= this.total ? 0 : phase === 'downloading' && bytesPerSecond > 0 ? Math.round((this.total - done) / bytesPerSecond) : null;
    try {
      this.onProgress({ done, total: this.total, bytesPerSecond: Math.round(bytesPerSecond), secondsLeft, phase });
    } catch {
      // A broken progress listener must not break the download.
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function aborted(o: Pick<Checked, 'fileName'>): ZimDownloadError {
  return new ZimDownloadError('aborted', `The download of ${o.fileName} was paused.`);
}

/** Refusals made before the part file was touched: what is on disk has nothing to do with them. */
const BEFORE_ANY_BYTE = new Set<ZimDownloadErrorCode>(['invalid', 'missing-dir', 'exists', 'busy']);

/**
 * The message a steward reads: whole sentences, ending in a full stop (a reason from deep inside reads "Could not
 * download X: <reason>."), then what is on disk, said only when it is true.
 */
function finalMessage(e: ZimDownloadError, o: Pick<Checked, 'fileName' | 'size'>, kept: number): string {
  const text = e.message.trim();
  // Sentences end with a full stop; reasons from inside (a mirror's answer, a cut) never do.
  const sentence = /[.!?]$/.test(text) ? text : `Could not download ${o.fileName}: ${text.replace(/[;:,]+$/, '')}.`;
  if (e.code === 'aborted') {
    return kept > 0 ? `${sentence.replace(/\.$/, '')}; the ${formatBytes(kept)} downloaded so far are kept to resume from.` : `${sentence.replace(/\.$/, '')} before any of it was kept.`;
  }
  if (kept === 0 || BEFORE_ANY_BYTE.has(e.code)) return sentence;
  return `${sentence} ${formatBytes(kept)} of ${formatBytes(o.size)} are kept: resuming continues from there.`;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ZimDownloadError('aborted', 'The download was paused.');
}

async function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return;
  await sleepFor(ms, undefined, signal ? { signal } : undefined);
}

function asDownloadError(err: unknown, o: Checked): ZimDownloadError {
  if (err instanceof ZimDownloadError) return err.code === 'aborted' ? aborted(o) : err;
  if (o.signal?.aborted) return aborted(o);
  return diskError(err, o.fileName);
}

async function fileSize(file: string, missing = 0): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw err;
  }
}

export { formatBytes };
