import { prep, prepWrite, type Db, type WriteCounter } from './db.ts';

export type SessionRow = {
  idHash: string;
  userId: number;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  ip: string;
  userAgent: string;
};

export function sessionStore(db: Db, writes: WriteCounter) {
  const write = prepWrite(db, writes);
  return {
    insert(s: SessionRow): void {
      write('INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(s.idHash, s.userId, s.csrfToken, s.createdAt, s.expiresAt, s.ip, s.userAgent);
    },
    byIdHash(idHash: string): SessionRow | undefined {
      const r = prep(db, 
          'SELECT id_hash AS idHash, user_id AS userId, csrf_token AS csrfToken, created_at AS createdAt, expires_at AS expiresAt, ip, user_agent AS userAgent FROM sessions WHERE id_hash = ?',
        )
        .get(idHash) as SessionRow | undefined;
      return r;
    },
    countForUser(userId: number, now: number): number {
      return (
        prep(db, 'SELECT count(*) AS n FROM sessions WHERE user_id = ? AND expires_at > ?').get(userId, now) as {
          n: number;
        }
      ).n;
    },
    remove(idHash: string): void {
      write('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
    },
    removeForUser(userId: number): number {
      return write('DELETE FROM sessions WHERE user_id = ?').run(userId).changes;
    },
    /** Every session of the user but one (the one they are using). */
    removeForUserExcept(userId: number, keepIdHash: string): number {
      return write('DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?').run(userId, keepIdHash).changes;
    },
    removeExpired(now: number): number {
      return write('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
    },
  };
}
export type SessionStore = ReturnType<typeof sessionStore>;
