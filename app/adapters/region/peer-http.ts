// JSON over HTTP to another LoRes node: small documents, a short timeout, a size cap. The caller signs.
export class PeerHttpError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

const MAX_BYTES = 4 * 1024 * 1024;

export async function peerJson<T = unknown>(base: string, path: string, opts: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<T> {
  const url = new URL(path, base);
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers: { accept: 'application/json', ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new PeerHttpError(`${url.host} did not answer (${e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message)})`);
  }
  const text = await res.text();
  if (text.length > MAX_BYTES) throw new PeerHttpError(`${url.host} sent more than ${MAX_BYTES} bytes`);
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new PeerHttpError(`${url.host} answered ${res.status} with something that is not JSON`, res.status);
  }
  if (!res.ok) {
    const msg = json && typeof json === 'object' && typeof (json as { error?: unknown }).error === 'string' ? (json as { error: string }).error : `HTTP ${res.status}`;
    throw new PeerHttpError(`${url.host}: ${msg}`, res.status);
  }
  return json as T;
}
