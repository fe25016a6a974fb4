// A region of nodes: this node's key pair, the nodes it is paired with (and their last status), pairings in
// progress, the ZIM hashes it keeps, and which apps have a `.local` name.
import { prep, type Db } from './db.ts';

export type IdentityRow = { id: string; publicKey: string; privateKey: string; createdAt: number };
export type PeerRow = {
  id: string;
  name: string;
  url: string;
  publicKey: string;
  pairedAt: number;
  pairedBy: string | null;
  /** The last status the node sent, as JSON text. */
  status: string | null;
  statusAt: number | null;
  attemptedAt: number | null;
  error: string | null;
};
export type PairingRow = {
  id: string;
  kind: 'offer' | 'request';
  code: string | null;
  peerId: string | null;
  peerName: string | null;
  peerUrl: string;
  peerKey: string | null;
  attempts: number;
  createdAt: number;
  expiresAt: number;
};
export type KeptHash = { fileName: string; sha256: string; size: number; source: string; keptAt: number };

type Raw = Record<string, unknown>;
const camel = <T>(r: Raw | undefined): T | undefined =>
  r && (Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v])) as T);

export function regionStore(db: Db) {
  return {
    identity: (): IdentityRow | undefined => camel<IdentityRow>(prep(db, 'SELECT * FROM region_identity LIMIT 1').get() as Raw | undefined),
    saveIdentity(row: IdentityRow): void {
      prep(db, 'INSERT INTO region_identity (id, public_key, private_key, created_at) VALUES (?, ?, ?, ?)').run(row.id, row.publicKey, row.privateKey, row.createdAt);
    },

    peers: (): PeerRow[] => (prep(db, 'SELECT * FROM region_peers ORDER BY name, id').all() as Raw[]).map((r) => camel<PeerRow>(r)!),
    peer: (id: string): PeerRow | undefined => camel<PeerRow>(prep(db, 'SELECT * FROM region_peers WHERE id = ?').get(id) as Raw | undefined),
    /** Pairing again (a new key, a new address) replaces what was kept. */
    savePeer(p: { id: string; name: string; url: string; publicKey: string; pairedAt: number; pairedBy: string | null }): void {
      prep(db,
        `INSERT INTO region_peers (id, name, url, public_key, paired_at, paired_by) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, url = excluded.url, public_key = excluded.public_key, paired_at = excluded.paired_at, paired_by = excluded.paired_by`,
      ).run(p.id, p.name, p.url, p.publicKey, p.pairedAt, p.pairedBy);
    },
    removePeer: (id: string): boolean => prep(db, 'DELETE FROM region_peers WHERE id = ?').run(id).changes > 0,
    statusSaved(id: string, status: string, name: string, now: number): void {
      prep(db, 'UPDATE region_peers SET status = ?, name = ?, status_at = ?, attempted_at = ?, error = NULL WHERE id = ?').run(status, name, now, now, id);
    },
    statusFailed(id: string, error: string, now: number): void {
      prep(db, 'UPDATE region_peers SET attempted_at = ?, error = ? WHERE id = ?').run(now, error, id);
    },
    movedTo(id: string, url: string): void {
      prep(db, 'UPDATE region_peers SET url = ? WHERE id = ?').run(url, id);
    },

    pairing: (id: string): PairingRow | undefined => camel<PairingRow>(prep(db, 'SELECT * FROM region_pairings WHERE id = ?').get(id) as Raw | undefined),
    pairings: (kind: PairingRow['kind'], now: number): PairingRow[] =>
      (prep(db, 'SELECT * FROM region_pairings WHERE kind = ? AND expires_at > ? ORDER BY created_at DESC').all(kind, now) as Raw[]).map((r) => camel<PairingRow>(r)!),
    savePairing(p: PairingRow): void {
      prep(db,
        `INSERT OR REPLACE INTO region_pairings (id, kind, code, peer_id, peer_name, peer_url, peer_key, attempts, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(p.id, p.kind, p.code, p.peerId, p.peerName, p.peerUrl, p.peerKey, p.attempts, p.createdAt, p.expiresAt);
    },
    /** Counts a wrong code; returns the attempts so far. */
    pairingAttempt(id: string): number {
      prep(db, 'UPDATE region_pairings SET attempts = attempts + 1 WHERE id = ?').run(id);
      return (prep(db, 'SELECT attempts FROM region_pairings WHERE id = ?').get(id) as { attempts: number } | undefined)?.attempts ?? 0;
    },
    endPairing: (id: string): boolean => prep(db, 'DELETE FROM region_pairings WHERE id = ?').run(id).changes > 0,
    prunePairings(now: number): void {
      prep(db, 'DELETE FROM region_pairings WHERE expires_at <= ?').run(now);
    },

    keptHash: (fileName: string): KeptHash | undefined => camel<KeptHash>(prep(db, 'SELECT * FROM zim_hashes WHERE file_name = ?').get(fileName) as Raw | undefined),
    keptHashes: (): KeptHash[] => (prep(db, 'SELECT * FROM zim_hashes ORDER BY file_name').all() as Raw[]).map((r) => camel<KeptHash>(r)!),
    keepHash(h: KeptHash): void {
      prep(db,
        `INSERT INTO zim_hashes (file_name, sha256, size, source, kept_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(file_name) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, source = excluded.source, kept_at = excluded.kept_at`,
      ).run(h.fileName, h.sha256, h.size, h.source, h.keptAt);
    },

    localNames: (): string[] => (prep(db, 'SELECT stack FROM local_names ORDER BY stack').all() as { stack: string }[]).map((r) => r.stack),
    setLocalName(stack: string, on: boolean, by: string | null, now: number): void {
      if (on) prep(db, 'INSERT OR IGNORE INTO local_names (stack, enabled_at, enabled_by) VALUES (?, ?, ?)').run(stack, now, by);
      else prep(db, 'DELETE FROM local_names WHERE stack = ?').run(stack);
    },
  };
}
export type RegionStore = ReturnType<typeof regionStore>;
