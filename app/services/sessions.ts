// Login sessions: a random token in an httpOnly cookie; only its hash is stored, so the database alone cannot log anyone in.
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/index.ts';
import type { User } from '../store/users.ts';

export type Session = { idHash: string; user: User; csrfToken: string; expiresAt: number };

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
export const newToken = () => randomBytes(32).toString('base64url');

/**
 * A resolved session is kept this long before the database is asked again, unless this process wrote to users or
 * sessions meanwhile (a logout, a disabled user: at once). Only writes by another process (the CLI's password
 * reset) wait up to this long. Every page load resolves a session; this spares it a hash and two queries.
 */
const RECHECK_MS = 1000;
const MAX_KEPT = 256;

export function sessionService(store: Store, opts: { lifetimeMs: number; now: () => number }) {
  const kept = new Map<string, { session: Session; accountsVersion: number; checkedAt: number }>(); // by cookie token
  const lookUp = (token: string): Session | undefined => {
    const idHash = hashToken(token);
    const row = store.sessions.byIdHash(idHash);
    if (!row) return undefined;
    if (row.expiresAt <= opts.now()) {
      store.sessions.remove(idHash);
      return undefined;
    }
    const user = store.users.byId(row.userId);
    if (!user || user.disabled) return undefined;
    return Object.freeze({ idHash, user: Object.freeze(user), csrfToken: row.csrfToken, expiresAt: row.expiresAt });
  };
  return {
    /** How long a login lasts (SESSION_HOURS): the session cookie's lifetime too. */
    lifetimeMs: opts.lifetimeMs,
    /** How many unexpired sessions this person has (the Account page). */
    openCount(userId: number): number {
      return store.sessions.countForUser(userId, opts.now());
    },
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
      const now = opts.now();
      const hit = kept.get(token);
      if (hit && hit.accountsVersion === store.accountsVersion() && now - hit.checkedAt < RECHECK_MS && hit.session.expiresAt > now) {
        return hit.session;
      }
      kept.delete(token);
      const session = lookUp(token);
      if (session) {
        if (kept.size >= MAX_KEPT) kept.clear();
        kept.set(token, { session, accountsVersion: store.accountsVersion(), checkedAt: now });
      }
      return session;
    },
    end(idHash: string): void {
      store.sessions.remove(idHash);
    },
    endAllFor(userId: number): number {
      return store.sessions.removeForUser(userId);
    },
    endOthersFor(userId: number, keepIdHash: string): number {
      return store.sessions.removeForUserExcept(userId, keepIdHash);
    },
    sweep(): number {
      return store.sessions.removeExpired(opts.now());
    },
  };
}
export type SessionService = ReturnType<typeof sessionService>;
