// Fetches a small remote document (a catalogue, an OPDS page) with a deadline and a size cap: a node's uplink
// may hang or feed garbage, and the page waiting on it must not.
export type FetchText = (url: string, opts?: { timeoutMs?: number; maxBytes?: number }) => Promise<string>;

export const fetchText: FetchText = async (url, { timeoutMs = 20_000, maxBytes = 16 * 1024 * 1024 } = {}) => {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow', headers: { accept: 'application/json, application/xml;q=0.9, */*;q=0.5' } });
  } catch (err) {
    throw new Error(reasonOf(err, timeoutMs));
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`the server answered ${res.status} ${res.statusText}`.trim());
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new Error(`the document is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`);
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(reasonOf(err, timeoutMs));
  }
  return Buffer.concat(chunks).toString('utf8');
};

/** One short line a steward can read: "no answer within 20 s", "connection refused", … */
function reasonOf(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the server’s name does not resolve (offline?)';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was cut';
  return (e.cause?.message ?? e.message ?? String(err)).slice(0, 200);
}
