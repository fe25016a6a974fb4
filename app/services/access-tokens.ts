// Per-person tokens for git over HTTP (the config repository): made and revoked by an admin, shown once, stored
// hashed. What a token may do follows its owner's role at the time of use: admins and stewards pull and push,
// guests only pull (env files hold no secret values); a disabled or removed person's tokens stop working.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../store/index.ts';
import type { AccessTokenRow } from '../store/access-tokens.ts';

export type { AccessTokenRow };
import type { User } from '../store/users.ts';
import { parseOrRefuse } from '../validation.ts';
import { UserFacingError } from '../errors.ts';

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const labelSchema = z.string().trim().min(1, 'must not be empty').max(60, 'must be at most 60 characters').regex(/^[\p{L}\p{N} ._'’-]+$/u, 'may hold letters, digits, spaces and . _ - only');
const TOKEN_RE = /^lores_[A-Za-z0-9_-]{43}$/;

export type RepoAccess = 'read' | 'write';
export const accessFor = (user: User): RepoAccess => (user.role === 'guest' ? 'read' : 'write');

export function accessTokenService(store: Store, now: () => number) {
  return {
    list: (): AccessTokenRow[] => store.accessTokens.list(),

    /** Makes a token for a person; the token itself is returned this once and never stored. */
    create(userId: number, labelInput: unknown, by: string | null): { token: string; row: AccessTokenRow } {
      const user = store.users.byId(userId);
      if (!user) throw new UserFacingError('There is no such person.', 404);
      const label = parseOrRefuse(labelSchema, labelInput, { value: 'The token’s name' });
      const token = `lores_${randomBytes(32).toString('base64url')}`;
      const id = store.accessTokens.insert({ userId, label, tokenHash: hash(token), createdAt: now(), createdBy: by });
      return { token, row: store.accessTokens.byId(id)! };
    },

    revoke(id: number): AccessTokenRow {
      const row = store.accessTokens.byId(id);
      if (!row) throw new UserFacingError('There is no such token.', 404);
      if (!store.accessTokens.revoke(id, now())) throw new UserFacingError('That token was already revoked.', 409);
      return store.accessTokens.byId(id)!;
    },

    /** The person a (username, token) pair from HTTP Basic auth stands for, or undefined. */
    verify(username: string, token: string): { user: User; tokenId: number } | undefined {
      if (!TOKEN_RE.test(token)) return undefined;
      const row = store.accessTokens.byHash(hash(token));
      if (!row || row.revokedAt !== null) return undefined;
      const a = Buffer.from(row.username);
      const b = Buffer.from(username.trim().toLowerCase());
      if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
      const user = store.users.byId(row.userId);
      if (!user || user.disabled) return undefined;
      store.accessTokens.touch(row.id, now());
      return { user, tokenId: row.id };
    },
  };
}
export type AccessTokenService = ReturnType<typeof accessTokenService>;
