// The retry and mirror policy of a ZIM download: requests until every byte is on disk, backing off after a cut,
// moving to the next mirror after a refusal or a crawl, stopping on the rest; each answer checked against the
// Metalink's size before a byte of it is kept.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { networkReason } from '../../adapters/kiwix/opds.ts';
import { HttpClientError, type Answer, type ResponseHead } from '../../adapters/remote/http-client.ts';
import { FloorWatch, FLOOR_TICK_MS } from '../../adapters/remote/read-floor.ts';
import { aborted, throwIfAborted, ZimDownloadError } from './download-errors.ts';
import type { Checked } from './download-options.ts';
import type { PartSink } from './part-sink.ts';
import type { ProgressMeter } from './progress-meter.ts';
import type { TokenBucket } from './throttle.ts';

const MAX_BACKOFF_MS = 30_000;

/** Mutable state of one call: what is on disk and hashed, and how many requests it took. */
export type Transfer = {
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

export async function transfer(o: Checked, t: Transfer): Promise<void> {
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
  // The client could not use an answer (malformed, too many redirects): another mirror may do better.
  if (err instanceof HttpClientError) return err.kind === 'invalid' ? new ZimDownloadError('invalid', err.message) : new ZimDownloadError('http', err.message, 'mirror');
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

export async function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return;
  await sleepFor(ms, undefined, signal ? { signal } : undefined);
}
