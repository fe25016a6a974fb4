// Login sessions: a random token in an httpOnly cookie; only its hash is stored, so the database alone cannot log anyone in.
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/index.ts';
import type { User } from '../store/users.ts';

export type Session = { idHash: string; user: User; csrfToken: string; expiresAt: number };

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
export const newToken = () => randomBytes(32).toString('base64url');

export function sessionService(store: Store, opts: { lifetimeMs: number; now: () => number }) {
  return {
    /** Start a session with a fixed end: it is not extended by use. */
    start(user: User, client: { ip: string; userAgent: string }): { token: string; session: Session } {
      const token = newToken();
      const now = opts.now();
      const row = {
        idHash: hashToken(token),
        userId: user.id,
        csrfToken: newToken(),
        createdAt: now,
        expiresAt: now + opts.lifetimeMs,
        ip: client.ip,
        userAgent: client.userAgent.slice(0, 200),
      };
      store.sessions.insert(row);
      return { token, session: { idHash: row.idHash, user, csrfToken: row.csrfToken, expiresAt: row.expiresAt } };
    },
    /** The live session for a cookie token, or undefined when unknown, expired or the user is disabled. */
    resolve(token: string): Session | undefined {
      const idHash = hashToken(token);
      const row = store.sessions.byIdHash(idHash);
      if (!row) return undefined;
      if (row.expiresAt <= opts.now()) {
        store.sessions.remove(idHash);
        return undefined;
      }
      const user = store.users.byId(row.userId);
      if (!user || user.disabled) return undefined;
      return { idHash, user, csrfToken: row.csrfToken, expiresAt: row.expiresAt };
    },
    end(idHash: string): void {
      store.sessions.remove(idHash);
    },
    endAllFor(userId: number): number {
      return store.sessions.removeForUser(userId);
    },
    sweep(): number {
      return store.sessions.removeExpired(opts.now());
    },
  };
}
export type SessionService = ReturnType<typeof sessionService>;
