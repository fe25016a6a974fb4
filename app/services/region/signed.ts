// Signed requests between paired nodes: every request carries the sender's id, a timestamp, a one-time nonce and an
// Ed25519 signature over method, path, those two, the body's sha-256 and the receiver's id (so a captured request
// cannot be replayed later, twice, or to another node).
import { createHash } from 'node:crypto';
import { newNonce, verifySignature, type Identity } from './identity.ts';

export const HEADER = { node: 'x-lores-node', time: 'x-lores-time', nonce: 'x-lores-nonce', signature: 'x-lores-signature' } as const;
/** How far a request's clock may be from ours: nodes without internet keep time loosely. */
export const CLOCK_SKEW_MS = 5 * 60_000;

const bodyHash = (body: string) => createHash('sha256').update(body).digest('hex');
export const canonical = (m: { method: string; path: string; time: string; nonce: string; body: string; to: string }) =>
  [m.method.toUpperCase(), m.path, m.time, m.nonce, bodyHash(m.body), m.to].join('\n');

export function signedHeaders(me: Identity, to: string, method: string, path: string, body: string, now: number): Record<string, string> {
  const time = String(now);
  const nonce = newNonce();
  return { [HEADER.node]: me.id, [HEADER.time]: time, [HEADER.nonce]: nonce, [HEADER.signature]: me.sign(canonical({ method, path, time, nonce, body, to })) };
}

/** Nonces seen within the clock window; older ones fall out (their timestamps are refused anyway). */
export class NonceCache {
  private seen = new Map<string, number>();
  private readonly max: number;
  constructor(max = 100_000) {
    this.max = max;
  }
  /** True the first time a nonce is seen. */
  fresh(nonce: string, now: number): boolean {
    if (this.seen.size > this.max || this.seen.size % 512 === 0) for (const [n, at] of this.seen) if (now - at > 2 * CLOCK_SKEW_MS) this.seen.delete(n);
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, now);
    return true;
  }
}

export type SignedCheck = { ok: true; from: string } | { ok: false; reason: string };

/** Checks a request's signature headers against the sender's kept public key. */
export function checkSigned(
  req: { method: string; path: string; headers: Record<string, string | undefined>; body: string },
  me: string,
  keyOf: (id: string) => string | undefined,
  nonces: NonceCache,
  now: number,
): SignedCheck {
  const from = req.headers[HEADER.node];
  const time = req.headers[HEADER.time];
  const nonce = req.headers[HEADER.nonce];
  const signature = req.headers[HEADER.signature];
  if (!from || !time || !nonce || !signature) return { ok: false, reason: 'unsigned' };
  const key = keyOf(from);
  if (!key) return { ok: false, reason: 'not paired' };
  if (!/^\d{1,16}$/.test(time) || Math.abs(now - Number(time)) > CLOCK_SKEW_MS) return { ok: false, reason: 'timestamp out of range' };
  if (!/^[0-9a-f]{16,64}$/.test(nonce)) return { ok: false, reason: 'bad nonce' };
  if (!verifySignature(key, canonical({ method: req.method, path: req.path, time, nonce, body: req.body, to: me }), signature)) return { ok: false, reason: 'bad signature' };
  if (!nonces.fresh(nonce, now)) return { ok: false, reason: 'replayed' };
  return { ok: true, from };
}

/**
 * A grant for one ZIM file (its `.meta4` and its bytes), as query parameters: the downloader cannot add headers, and
 * a resumed download repeats its Range requests, so the grant names the file and an expiry rather than a nonce.
 */
export const grantText = (fileName: string, expires: number, from: string, to: string) => ['zim', fileName, String(expires), from, to].join('\n');
export function grantQuery(me: Identity, to: string, fileName: string, expires: number): string {
  return new URLSearchParams({ node: me.id, exp: String(expires), sig: me.sign(grantText(fileName, expires, me.id, to)) }).toString();
}
export function checkGrant(q: Record<string, unknown>, fileName: string, me: string, keyOf: (id: string) => string | undefined, now: number): SignedCheck {
  const [from, exp, sig] = [q.node, q.exp, q.sig].map((v) => (typeof v === 'string' ? v : ''));
  if (!from || !exp || !sig) return { ok: false, reason: 'unsigned' };
  const key = keyOf(from!);
  if (!key) return { ok: false, reason: 'not paired' };
  if (!/^\d{1,16}$/.test(exp!) || Number(exp) < now) return { ok: false, reason: 'grant expired' };
  if (!verifySignature(key, grantText(fileName, Number(exp), from!, me), sig!)) return { ok: false, reason: 'bad signature' };
  return { ok: true, from: from! };
}
