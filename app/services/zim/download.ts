// Downloads one ZIM file into a Kiwix library folder: resumable (HTTP Range, from `<name>.zim.part`), verified
// (sha-256 computed while streaming, no second pass), atomic (the `.zim` appears only once verified; kiwix-serve
// serves only `*.zim`, so a part file is never served), throttled, and honest about every fault in one sentence.
// The caller (a durable job) owns scheduling and persistence; this module owns the bytes.
// Split by job: the HTTP client is adapters/remote/http-client.ts, the retry and mirror policy transfer.ts, the disk
// sink part-sink.ts, the bandwidth limit throttle.ts, the progress meter progress-meter.ts, publishing part-file.ts.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../resource-fit.ts';
import { asDownloadError, finalMessage, throwIfAborted, ZimDownloadError } from './download-errors.ts';
import { checkFileName, checkOptions, type Checked, type DownloadZimOptions, type DownloadZimResult } from './download-options.ts';
import { fileSize, openPart, partFileName, publish, syncDir } from './part-file.ts';
import { PartSink } from './part-sink.ts';
import { ProgressMeter } from './progress-meter.ts';
import { TokenBucket } from './throttle.ts';
import { transfer, type Transfer } from './transfer.ts';

export { ZimDownloadError, type ZimDownloadErrorCode } from './download-errors.ts';
export type { DownloadZimOptions, DownloadZimResult } from './download-options.ts';
export { partFileName } from './part-file.ts';
export type { DownloadPhase, DownloadProgress } from './progress-meter.ts';
export { checkResponse } from './transfer.ts';
export type { ResponseHead } from '../../adapters/remote/http-client.ts';

const MiB = 1024 * 1024;
/** Room to leave on the disk besides the file: logs, SQLite and Docker need some, and a Pi's SD card is small. */
export const freeSpaceMargin = (size: number): number => Math.max(64 * MiB, Math.ceil(size * 0.02));
const PREFIX_READ_BYTES = 4 * MiB;

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

export { formatBytes };
