// Fetches a small remote document (a recipe catalogue, an OPDS page, a Metalink file) with a deadline and a size
// cap: a node's uplink may hang or feed garbage, and the page or job waiting on it must not.
export type FetchTextOptions = { timeoutMs?: number; maxBytes?: number; signal?: AbortSignal; accept?: string; fetch?: typeof fetch };
export type FetchText = (url: string, opts?: FetchTextOptions) => Promise<string>;

/** The body as text; any failure throws an Error whose message is one short reason ("connection refused", …). */
export const fetchText: FetchText = async (url, opts = {}) => {
  const { timeoutMs = 20_000, maxBytes = 16 * 1024 * 1024, fetch: fetchImpl = fetch } = opts;
  const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetchImpl(url, { signal, redirect: 'follow', headers: { accept: opts.accept ?? 'application/json, application/xml;q=0.9, */*;q=0.5' } });
  } catch (err) {
    throw new Error(networkReason(err, timeoutMs));
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new TooLarge(`the document is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`);
      chunks.push(chunk);
    }
  } catch (err) {
    await res.body?.cancel().catch(() => undefined);
    throw err instanceof TooLarge ? err : new Error(networkReason(err, timeoutMs));
  }
  return Buffer.concat(chunks).toString('utf8');
};

class TooLarge extends Error {}

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
