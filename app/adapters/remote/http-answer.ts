// What the download client hands back: an answer whose body is fed to a handler that may ask the read to wait, and
// the error for an answer it cannot use. Shared by the transports in http-client.ts and http1-get.ts.

/**
 * A server's answer this client cannot use (a malformed head or chunked body, too many redirects…): `protocol`,
 * another server may do better; `invalid`, the request itself could not be written (a programming error).
 */
export class HttpClientError extends Error {
  readonly kind: 'protocol' | 'invalid';
  constructor(kind: 'protocol' | 'invalid', message: string) {
    super(message);
    this.name = 'HttpClientError';
    this.kind = kind;
  }
}

/** What checkResponse reads; a fetch Response fits. */
export type ResponseHead = { status: number; statusText?: string; headers: { get(name: string): string | null } };
/**
 * Takes the body. Each call returns a promise when reading must wait for it (disk busy, bandwidth limit), undefined
 * to go on at once; a throw ends the response.
 */
export type BodyHandler = {
  /** Body bytes in the transport's own buffer (valid during the call only, unless it returns a promise). */
  chunk(chunk: Uint8Array): Promise<unknown> | undefined;
  /** Zero-copy, optional: where the next read may land directly; undefined when nothing is free right now. */
  space?(): Uint8Array | undefined;
  /** Zero-copy: `n` body bytes landed at the start of the last `space()`. */
  commit?(n: number): Promise<unknown> | undefined;
};
export type Answer = ResponseHead & {
  /** Feed the body to `body`; resolves at its complete end, rejects on a cut (or whatever a handler threw). */
  consume(body: BodyHandler): Promise<void>;
  cancel(): void;
};
export type Transport = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<Answer>;
