// What a ZIM download is asked to do, checked before anything touches the disk or the network.
import path from 'node:path';
import { zimFileNameSchema } from '../../adapters/kiwix/opds.ts';
import { directTransport, fetchTransport, type Transport } from '../../adapters/remote/http-client.ts';
import { DEFAULT_READ_FLOOR, type ReadFloor } from '../../adapters/remote/read-floor.ts';
import { ZimDownloadError } from './download-errors.ts';
import type { DownloadProgress } from './progress-meter.ts';

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
  /** Use this fetch instead of the built-in HTTP/1.1 client (tests, proxies); slower, see Http1Get. */
  fetch?: typeof fetch;
  /** Use this transport instead (the bench compares clients with it); wins over `fetch` and `ca`. */
  transport?: Transport;
};

export type DownloadZimResult = {
  path: string;
  bytes: number;
  /** Length of the part file this call started from (0 for a fresh download). */
  resumedFrom: number;
  /** HTTP requests made. */
  attempts: number;
};

/** The options once checked, with defaults filled in. */
export type Checked = Omit<DownloadZimOptions, 'bytesPerSecond'> & {
  rate: () => number;
  retries: number;
  retryDelayMs: number;
  stallTimeoutMs: number;
  floor: ReadFloor;
  transport: Transport;
};

export function checkOptions(o: DownloadZimOptions): Checked {
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
    transport: o.transport ?? (o.fetch ? fetchTransport(o.fetch) : directTransport(o.ca)),
  };
}

function checkFloor(f: ReadFloor): ReadFloor {
  if (!(f.minBytesPerSecond >= 0) || !(f.windowMs >= 100)) throw new ZimDownloadError('invalid', 'Cannot download: the minimum rate must be at least 0 bytes per second over at least 0.1 s.');
  return { minBytesPerSecond: f.minBytesPerSecond, windowMs: f.windowMs };
}

export function checkFileName(fileName: string): string {
  const r = zimFileNameSchema.safeParse(fileName);
  if (!r.success) throw new ZimDownloadError('invalid', `Cannot download ${JSON.stringify(String(fileName).slice(0, 100))}: the file name ${r.error.issues[0]?.message}.`);
  return r.data;
}

