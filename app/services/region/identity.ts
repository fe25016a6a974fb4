// This node's identity in a region: an Ed25519 key pair made once (node:crypto) and kept in SQLite. Requests to
// paired nodes are signed with it; theirs are checked against the public key kept when pairing.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { RegionStore } from '../../store/region.ts';

export type Identity = { id: string; publicKey: string; sign(data: string): string };

/** A node's id: the first 20 base32-ish characters of the sha-256 of its public key (so the id names the key). */
export function idOfKey(publicKeyB64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyB64, 'base64')).digest('hex').slice(0, 20);
}

/** A short fingerprint stewards can compare by eye on both nodes' pages. */
export const fingerprint = (publicKeyB64: string): string => idOfKey(publicKeyB64).slice(0, 12).replace(/(.{4})(?!$)/g, '$1-');

const publicKeyObject = (b64: string): KeyObject => createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });

/** The node's key pair, made on first use. */
export function nodeIdentity(store: RegionStore, now: () => number): Identity {
  let row = store.identity();
  if (!row) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const pub = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    row = { id: idOfKey(pub), publicKey: pub, privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'), createdAt: now() };
    store.saveIdentity(row);
  }
  const key = createPrivateKey({ key: Buffer.from(row.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
  return { id: row.id, publicKey: row.publicKey, sign: (data) => sign(null, Buffer.from(data), key).toString('base64') };
}

/** Whether `signature` (base64) is `publicKey`'s signature of `data`; a malformed key or signature is simply false. */
export function verifySignature(publicKeyB64: string, data: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(data), publicKeyObject(publicKeyB64), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export const newNonce = (): string => randomBytes(16).toString('hex');
