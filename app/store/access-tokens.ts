// Access tokens for the config repository: only their hashes are stored.
import { prep, type Db } from './db.ts';

export type AccessTokenRow = {
  id: number;
  userId: number;
  username: string;
  label: string;
  createdAt: number;
  createdBy: string | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
};

const COLS = `t.id, t.user_id AS userId, u.username, t.label, t.created_at AS createdAt, t.created_by AS createdBy,
  t.last_used_at AS lastUsedAt, t.revoked_at AS revokedAt`;

export function accessTokenStore(db: Db) {
  return {
    insert(t: { userId: number; label: string; tokenHash: string; createdAt: number; createdBy: string | null }): number {
      return Number(
        prep(db, 'INSERT INTO access_tokens (user_id, label, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)').run(t.userId, t.label, t.tokenHash, t.createdAt, t.createdBy)
          .lastInsertRowid,
      );
    },
    byHash(tokenHash: string): AccessTokenRow | undefined {
      return prep(db, `SELECT ${COLS} FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`).get(tokenHash) as AccessTokenRow | undefined;
    },
    byId(id: number): AccessTokenRow | undefined {
      return prep(db, `SELECT ${COLS} FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`).get(id) as AccessTokenRow | undefined;
    },
    list(): AccessTokenRow[] {
      return prep(db, `SELECT ${COLS} FROM access_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.revoked_at IS NOT NULL, u.username, t.id`).all() as AccessTokenRow[];
    },
    touch(id: number, at: number): void {
      prep(db, 'UPDATE access_tokens SET last_used_at = ? WHERE id = ?').run(at, id);
    },
    revoke(id: number, at: number): boolean {
      return prep(db, 'UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 1;
    },
  };
}
export type AccessTokenStore = ReturnType<typeof accessTokenStore>;
