// What can go wrong with a ZIM download, each fault as one sentence a steward can read, and how the transfer loop
// reacts to it (retry, next mirror, stop).
import { formatBytes } from '../resource-fit.ts';

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
export type Retry = 'backoff' | 'mirror' | 'never';

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

export function diskError(err: unknown, what: string): ZimDownloadError {
  if (err instanceof ZimDownloadError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ZimDownloadError('disk-full', 'The disk is full, so the download stopped; free some space, then resume.', 'never', err);
  }
  return new ZimDownloadError('disk', `Could not write the download (${code ?? (err as Error).message}) for ${what}.`, 'never', err);
}

export function aborted(o: { fileName: string }): ZimDownloadError {
  return new ZimDownloadError('aborted', `The download of ${o.fileName} was paused.`);
}

/** Refusals made before the part file was touched: what is on disk has nothing to do with them. */
const BEFORE_ANY_BYTE = new Set<ZimDownloadErrorCode>(['invalid', 'missing-dir', 'exists', 'busy']);

/**
 * The message a steward reads: whole sentences, ending in a full stop (a reason from deep inside reads "Could not
 * download X: <reason>."), then what is on disk, said only when it is true.
 */
export function finalMessage(e: ZimDownloadError, o: { fileName: string; size: number }, kept: number): string {
  const text = e.message.trim();
  // Sentences end with a full stop; reasons from inside (a mirror's answer, a cut) never do.
  const sentence = /[.!?]$/.test(text) ? text : `Could not download ${o.fileName}: ${text.replace(/[;:,]+$/, '')}.`;
  if (e.code === 'aborted') {
    return kept > 0 ? `${sentence.replace(/\.$/, '')}; the ${formatBytes(kept)} downloaded so far are kept to resume from.` : `${sentence.replace(/\.$/, '')} before any of it was kept.`;
  }
  if (kept === 0 || BEFORE_ANY_BYTE.has(e.code)) return sentence;
  return `${sentence} ${formatBytes(kept)} of ${formatBytes(o.size)} are kept: resuming continues from there.`;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ZimDownloadError('aborted', 'The download was paused.');
}

export function asDownloadError(err: unknown, o: { fileName: string; signal?: AbortSignal }): ZimDownloadError {
  if (err instanceof ZimDownloadError) return err.code === 'aborted' ? aborted(o) : err;
  if (o.signal?.aborted) return aborted(o);
  return diskError(err, o.fileName);
}
