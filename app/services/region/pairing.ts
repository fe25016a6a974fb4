// Pairing two nodes. A's admin starts it and A shows a short one-time code (and a pairing link). On a LAN, A also
// tells B "A asks to pair" (A's name, address and public key, nothing secret). B's admin types the code on B (or
// pastes the link): B proves it knows the code to A, A proves the same back, and each keeps the other's public key.
// The code itself never crosses the network: each side sends an HMAC keyed by it over both public keys.
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { peerJson, PeerHttpError } from '../../adapters/region/peer-http.ts';
import type { RegionStore } from '../../store/region.ts';
import type { Actor, AuditLog } from '../audit.ts';
import { UserFacingError } from '../../errors.ts';
import { fingerprint, idOfKey, verifySignature, type Identity } from './identity.ts';

export const PAIRING_MINUTES = 10;
const MAX_ATTEMPTS = 5;
const MAX_PENDING_REQUESTS = 20;

export type Self = { identity: Identity; name: () => string; url: () => string };

const nodeInfo = z.object({
  id: z.string().regex(/^[0-9a-f]{20}$/),
  name: z.string().min(1).max(64),
  url: z.url({ protocol: /^https?$/ }).max(300),
  publicKey: z.string().regex(/^[A-Za-z0-9+/=]{40,80}$/),
});
export type NodeInfo = z.infer<typeof nodeInfo>;
const pairingId = z.string().regex(/^[0-9a-f]{32}$/);
const codeSchema = z.string().trim().regex(/^\d{6}$/, 'The code is six digits.');

export const pairRequestBody = z.object({ pairing: pairingId, from: nodeInfo, signature: z.string().max(200) });
export const pairConfirmBody = z.object({ pairing: pairingId, from: nodeInfo, proof: z.string().regex(/^[0-9a-f]{64}$/) });
const pairConfirmAnswer = z.object({ from: nodeInfo, proof: z.string().regex(/^[0-9a-f]{64}$/) });

const proofOf = (code: string, ...parts: string[]) => createHmac('sha256', code).update(parts.join('\n')).digest('hex');
const sameHex = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
const requestText = (pairing: string, from: NodeInfo) => ['pair-request', pairing, from.id, from.name, from.url, from.publicKey].join('\n');

/** The pairing link B's admin pastes: A's address, the pairing and the code, in one line. */
export const pairingLink = (url: string, pairing: string, code: string) => `${url}/region/pair/${pairing}?code=${code}`;
export function parsePairingLink(text: unknown): { url: string; pairing: string; code: string } {
  const m = typeof text === 'string' ? /^(https?:\/\/[^\s/]+(?:\/[^\s]*?)?)\/region\/pair\/([0-9a-f]{32})\?code=(\d{6})$/.exec(text.trim()) : null;
  if (!m) throw new UserFacingError('That is not a pairing link: it looks like http://<node>/region/pair/<32 characters>?code=<6 digits>.');
  return { url: m[1]!, pairing: m[2]!, code: m[3]! };
}

export function pairingService(deps: { store: RegionStore; self: Self; audit: AuditLog; now: () => number }) {
  const { store, self, audit, now } = deps;
  const me = (): NodeInfo => ({ id: self.identity.id, name: self.name(), url: self.url(), publicKey: self.identity.publicKey });
  const pairingFailed = (actor: Actor, action: string, target: string, error: string): never => {
    audit.record(actor, action, { target, outcome: 'denied', detail: { error } });
    throw new UserFacingError(error, 403);
  };

  return {
    me,

    /** A's side: a new code (and link); with `peerUrl`, B is told that A asks to pair. */
    async offer(actor: Actor, peerUrl?: string): Promise<{ pairing: string; code: string; link: string; expiresAt: number; told?: string }> {
      const t = now();
      store.prunePairings(t);
      const id = randomBytes(16).toString('hex');
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const expiresAt = t + PAIRING_MINUTES * 60_000;
      let target = peerUrl;
      if (target !== undefined) {
        const parsed = z.url({ protocol: /^https?$/ }).max(300).safeParse(target);
        if (!parsed.success) throw new UserFacingError('The other node’s address must be an http(s) URL.');
        target = parsed.data.replace(/\/$/, '');
      }
      store.savePairing({ id, kind: 'offer', code, peerId: null, peerName: null, peerUrl: target ?? '', peerKey: null, attempts: 0, createdAt: t, expiresAt });
      audit.record(actor, 'region.pair.offer', { target: target ?? 'link', detail: { pairing: id.slice(0, 8) } });
      let told: string | undefined;
      if (target) {
        const from = me();
        await peerJson(target, '/region/peer/pair-request', { method: 'POST', body: JSON.stringify({ pairing: id, from, signature: self.identity.sign(requestText(id, from)) }) }).catch((err: Error) => {
          store.endPairing(id);
          throw new UserFacingError(`Could not ask ${target} to pair: ${err.message}`, 502);
        });
        told = target;
      }
      return { pairing: id, code, link: pairingLink(self.url(), id, code), expiresAt, ...(told ? { told } : {}) };
    },

    /** B's side, when A asks: kept for B's admin to accept with the code. B tells A nothing about itself. */
    received(body: unknown, ip: string): void {
      const parsed = pairRequestBody.safeParse(body);
      if (!parsed.success) throw new UserFacingError('Not a pairing request.');
      const { pairing, from, signature } = parsed.data;
      if (idOfKey(from.publicKey) !== from.id || !verifySignature(from.publicKey, requestText(pairing, from), signature)) throw new UserFacingError('The pairing request is not signed by the key it names.', 403);
      const t = now();
      store.prunePairings(t);
      if (store.pairings('request', t).length >= MAX_PENDING_REQUESTS) throw new UserFacingError('Too many pairing requests are waiting here.', 429);
      store.savePairing({ id: pairing, kind: 'request', code: null, peerId: from.id, peerName: from.name, peerUrl: from.url, peerKey: from.publicKey, attempts: 0, createdAt: t, expiresAt: t + PAIRING_MINUTES * 60_000 });
      audit.record({ name: null, ip }, 'region.pair.request', { target: from.name, detail: { node: from.id, url: from.url, fingerprint: fingerprint(from.publicKey) } });
    },

    /** Pairing requests other nodes sent here, waiting for a code. */
    requests: () => store.pairings('request', now()).map((p) => ({ ...p, fingerprint: p.peerKey ? fingerprint(p.peerKey) : '' })),
    offers: () => store.pairings('offer', now()),

    /** B's side: the code A shows, for a request A sent here or from a pasted link. Pairs both nodes or fails. */
    async accept(actor: Actor, input: { request?: string; link?: string; code?: unknown }): Promise<NodeInfo> {
      let url: string;
      let pairing: string;
      let code: string;
      let expectedKey: string | null = null;
      if (input.link) {
        ({ url, pairing, code } = parsePairingLink(input.link));
      } else {
        const req = input.request && store.pairing(input.request);
        if (!req || req.kind !== 'request' || req.expiresAt <= now()) return pairingFailed(actor, 'region.pair.accept', input.request?.slice(0, 8) ?? '', 'That pairing request has expired or does not exist: ask the other node to start again.');
        const c = codeSchema.safeParse(input.code);
        if (!c.success) throw new UserFacingError('The code is the six digits the other node shows.');
        ({ peerUrl: url, id: pairing } = req);
        code = c.data;
        expectedKey = req.peerKey;
      }
      const mine = me();
      let answer: z.infer<typeof pairConfirmAnswer>;
      try {
        const raw = await peerJson(url, '/region/peer/pair-confirm', { method: 'POST', body: JSON.stringify({ pairing, from: mine, proof: proofOf(code, 'b', pairing, mine.publicKey) }) });
        const parsed = pairConfirmAnswer.safeParse(raw);
        if (!parsed.success) throw new PeerHttpError('the other node’s answer is not a pairing answer');
        answer = parsed.data;
      } catch (err) {
        const status = err instanceof PeerHttpError ? err.status : undefined;
        const why = status === 403 ? 'The code is wrong.' : status === 410 ? 'The pairing has expired or was used already: start again on the other node.' : `Could not pair: ${(err as Error).message}`;
        return pairingFailed(actor, 'region.pair.accept', url, why);
      }
      const theirs = answer.from;
      const genuine =
        idOfKey(theirs.publicKey) === theirs.id &&
        (expectedKey === null || expectedKey === theirs.publicKey) &&
        sameHex(answer.proof, proofOf(code, 'a', pairing, theirs.publicKey, mine.publicKey));
      if (!genuine) return pairingFailed(actor, 'region.pair.accept', url, 'The other node’s answer does not prove it knows the code: not paired.');
      store.savePeer({ id: theirs.id, name: theirs.name, url: theirs.url, publicKey: theirs.publicKey, pairedAt: now(), pairedBy: actor.name });
      if (input.request) store.endPairing(input.request);
      audit.record(actor, 'region.pair.accept', { target: theirs.name, detail: { node: theirs.id, url: theirs.url, fingerprint: fingerprint(theirs.publicKey) } });
      return theirs;
    },

    /** A's side: B proves it knows the code; A pairs and proves the same back. Wrong codes count; five end it. */
    confirm(body: unknown, ip: string): { from: NodeInfo; proof: string } {
      const parsed = pairConfirmBody.safeParse(body);
      if (!parsed.success) throw new UserFacingError('Not a pairing confirmation.');
      const { pairing, from, proof } = parsed.data;
      const offer = store.pairing(pairing);
      const actor = { name: null, ip };
      if (!offer || offer.kind !== 'offer' || offer.expiresAt <= now() || !offer.code) {
        audit.record(actor, 'region.pair.confirm', { target: from.name, outcome: 'denied', detail: { error: 'expired or unknown pairing', node: from.id } });
        throw new UserFacingError('This pairing has expired or was used already.', 410);
      }
      if (idOfKey(from.publicKey) !== from.id || !sameHex(proof, proofOf(offer.code, 'b', pairing, from.publicKey))) {
        const attempts = store.pairingAttempt(pairing);
        if (attempts >= MAX_ATTEMPTS) store.endPairing(pairing);
        audit.record(actor, 'region.pair.confirm', { target: from.name, outcome: 'denied', detail: { error: 'wrong code', node: from.id, attempts } });
        throw new UserFacingError('Wrong code.', 403);
      }
      store.endPairing(pairing);
      store.savePeer({ id: from.id, name: from.name, url: from.url, publicKey: from.publicKey, pairedAt: now(), pairedBy: null });
      audit.record(actor, 'region.pair.confirm', { target: from.name, detail: { node: from.id, url: from.url, fingerprint: fingerprint(from.publicKey) } });
      const mine = me();
      return { from: mine, proof: proofOf(offer.code, 'a', pairing, mine.publicKey, from.publicKey) };
    },

    unpair(actor: Actor, id: string): void {
      const peer = store.peer(id);
      if (!peer || !store.removePeer(id)) throw new UserFacingError('That node is not paired with this one.', 404);
      audit.record(actor, 'region.unpair', { target: peer.name, detail: { node: id } });
    },
  };
}
export type PairingService = ReturnType<typeof pairingService>;
