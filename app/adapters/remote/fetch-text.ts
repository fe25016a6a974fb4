// Fetches a small remote document (a recipe catalogue, an OPDS page, a Metalink file) with a deadline, a floor and a
// size cap: a node's uplink may hang, trickle or feed garbage, and the page or job waiting on it must not.
import { DEFAULT_READ_FLOOR, FloorWatch, FLOOR_TICK_MS, type ReadFloor } from './read-floor.ts';

export type FetchTextOptions = {
  /** Deadline for the whole read, answer and body (default 20 s). */
  timeoutMs?: number;
  /** The least the body must deliver (default 1 KB/s over 60 s): a trickling server is cut before the deadline. */
  floor?: ReadFloor;
  maxBytes?: number;
  signal?: AbortSignal;
  accept?: string;
  fetch?: typeof fetch;
};
export type FetchText = (url: string, opts?: FetchTextOptions) => Promise<string>;

/**
 * Why a remote read failed, in one short reason ("connection refused", …). `retryable`: whether asking again later
 * could get a different answer (a cut, a timeout, 5xx, 408, 429) or not (any other 4xx, a document too large).
 */
export class RemoteReadError extends Error {
  readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(message: string, retryable: boolean, status?: number) {
    super(message);
    this.name = 'RemoteReadError';
    this.retryable = retryable;
    this.status = status;
  }
}

/** The body as text; any failure throws a RemoteReadError whose message is one short reason. */
export const fetchText: FetchText = async (url, opts = {}) => {
  const { timeoutMs = 20_000, maxBytes = 16 * 1024 * 1024, fetch: fetchImpl = fetch, floor = DEFAULT_READ_FLOOR } = opts;
  const tooSlow = new AbortController();
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), tooSlow.signal, ...(opts.signal ? [opts.signal] : [])]);
  // The floor is checked on a ticker, from the request on: a server that answers and then trickles is cut too.
  let size = 0;
  const watch = new FloorWatch(floor);
  const ticker = setInterval(() => {
    const slow = watch.check(size);
    if (slow) tooSlow.abort(new RemoteReadError(`the server ${slow}`, true));
  }, Math.min(FLOOR_TICK_MS, floor.windowMs));
  const failure = (err: unknown) => (tooSlow.signal.aborted && !opts.signal?.aborted ? (tooSlow.signal.reason as RemoteReadError) : new RemoteReadError(networkReason(err, timeoutMs), true));
  try {
    let res: Response;
    try {
      res = await fetchImpl(url, { signal, redirect: 'follow', headers: { accept: opts.accept ?? 'application/json, application/xml;q=0.9, */*;q=0.5' } });
    } catch (err) {
      throw failure(err);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const transient = res.status >= 500 || res.status === 408 || res.status === 429;
      throw new RemoteReadError(`the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, transient, res.status);
    }
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of res.body ?? []) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new RemoteReadError(`the document is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`, false);
        chunks.push(chunk);
      }
    } catch (err) {
      await res.body?.cancel().catch(() => undefined);
      throw err instanceof RemoteReadError ? err : failure(err);
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    clearInterval(ticker);
  }
};

/** One short reason from a network failure: "connection refused", "no answer within 20 s", … */
export function networkReason(err: unknown, timeoutMs?: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return timeoutMs ? `no answer within ${Math.round(timeoutMs / 1000)} s` : 'no answer in time';
  if (e?.name === 'AbortError') return 'stopped';
  const code = e?.cause?.code ?? (e as { code?: string })?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the server’s name does not resolve (offline?)';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'the connection was cut';
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'the connection timed out';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'the network is unreachable (offline?)';
  return String(e?.cause?.message ?? e?.message ?? err).slice(0, 200);
}
