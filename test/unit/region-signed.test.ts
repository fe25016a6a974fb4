// Signed requests between paired nodes: what passes and each way a request is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createStore, type Store } from '../../app/store/index.ts';
import { fingerprint, idOfKey, nodeIdentity, type Identity } from '../../app/services/region/identity.ts';
import { checkGrant, checkSigned, CLOCK_SKEW_MS, grantQuery, NonceCache, signedHeaders } from '../../app/services/region/signed.ts';
import { parsePairingLink } from '../../app/services/region/pairing.ts';

describe('signed requests', () => {
  let dirs: string[] = [];
  let stores: Store[] = [];
  let a: Identity, b: Identity, stranger: Identity;
  const now = 1_800_000_000_000;
  beforeAll(() => {
    const make = () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'lores-sig-'));
      const store = createStore(dir);
      dirs.push(dir);
      stores.push(store);
      return nodeIdentity(store.region, () => now);
    };
    [a, b, stranger] = [make(), make(), make()];
  });
  afterAll(() => {
    stores.forEach((s) => s.close());
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    dirs = [];
    stores = [];
  });
  // b knows a's key (paired), not the stranger's.
  const keyOf = (id: string) => (id === a.id ? a.publicKey : undefined);
  const req = (h: Record<string, string>, p = '/region/peer/status', method = 'GET') => ({ method, path: p, headers: h, body: '' });

  it('keeps one identity per store, named by its key', () => {
    expect(nodeIdentity(stores[0]!.region, () => now).publicKey).toBe(a.publicKey);
    expect(a.id).toBe(idOfKey(a.publicKey));
    expect(fingerprint(a.publicKey)).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
  });

  it('passes a fresh request from a paired node once, and refuses each tampering', () => {
    const nonces = new NonceCache();
    const h = signedHeaders(a, b.id, 'GET', '/region/peer/status', '', now);
    expect(checkSigned(req(h), b.id, keyOf, nonces, now + 1000)).toEqual({ ok: true, from: a.id });
    expect(checkSigned(req(h), b.id, keyOf, nonces, now + 2000)).toEqual({ ok: false, reason: 'replayed' });
    const h2 = signedHeaders(a, b.id, 'GET', '/region/peer/status', '', now);
    expect(checkSigned(req(h2, '/region/peer/opds'), b.id, keyOf, new NonceCache(), now)).toEqual({ ok: false, reason: 'bad signature' });
    expect(checkSigned(req(h2), stranger.id, keyOf, new NonceCache(), now)).toEqual({ ok: false, reason: 'bad signature' }); // meant for b
    expect(checkSigned(req(h2), b.id, keyOf, new NonceCache(), now + CLOCK_SKEW_MS + 1)).toEqual({ ok: false, reason: 'timestamp out of range' });
    expect(checkSigned(req({}), b.id, keyOf, new NonceCache(), now)).toEqual({ ok: false, reason: 'unsigned' });
    const fromStranger = signedHeaders(stranger, b.id, 'GET', '/region/peer/status', '', now);
    expect(checkSigned(req(fromStranger), b.id, keyOf, new NonceCache(), now)).toEqual({ ok: false, reason: 'not paired' });
  });

  it('grants a file to the node that signed for it, until it expires', () => {
    const q = Object.fromEntries(new URLSearchParams(grantQuery(a, b.id, 'x_en_all_2026-01.zim', now + 60_000)));
    expect(checkGrant(q, 'x_en_all_2026-01.zim', b.id, keyOf, now).ok).toBe(true);
    expect(checkGrant(q, 'y_en_all_2026-01.zim', b.id, keyOf, now)).toEqual({ ok: false, reason: 'bad signature' });
    expect(checkGrant(q, 'x_en_all_2026-01.zim', b.id, keyOf, now + 60_001)).toEqual({ ok: false, reason: 'grant expired' });
  });

  it('reads a pairing link, and refuses anything else', () => {
    const id = 'ab'.repeat(16);
    expect(parsePairingLink(`http://10.0.0.2:3000/region/pair/${id}?code=012345`)).toEqual({ url: 'http://10.0.0.2:3000', pairing: id, code: '012345' });
    expect(() => parsePairingLink(`javascript:alert(1)/region/pair/${id}?code=012345`)).toThrow(/not a pairing link/);
    expect(() => parsePairingLink(`http://x/region/pair/${id}?code=12345`)).toThrow(/not a pairing link/);
  });
});
