// People and roles: the first admin, logins, and the admin's management of stewards and guests.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/index.ts';
import type { User } from '../store/users.ts';

export type { User };
import type { Role } from '../validation.ts';
import { decoyHash, hashPassword, verifyPassword } from './passwords.ts';
import { UserFacingError } from '../errors.ts';
import type { SessionService } from './sessions.ts';

/** The current password given to change one's own was wrong: a guess, which the login limiter counts. */
export class WrongCurrentPassword extends UserFacingError {}

export const FIRST_ADMIN = 'admin';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export function peopleService(store: Store, sessions: SessionService, now: () => number) {
  // Only a hash of the one-time setup token is kept, in memory: a restart prints a new one.
  let setupTokenHash: Buffer | undefined;

  return {
    /** A person's account and password hash (the login limiter ties holds and known devices to it). */
    credentials(username: string): { user: User; passwordHash: string } | undefined {
      return store.users.credentials(username);
    },

    needsSetup(): boolean {
      return store.users.count() === 0;
    },

    /** At start: create `admin` from ADMIN_PASSWORD_FILE, or issue a setup token to print. */
    async bootstrap(adminPassword: string | undefined): Promise<{ createdAdmin: boolean; setupToken?: string }> {
      if (!this.needsSetup()) return { createdAdmin: false };
      if (adminPassword) {
        store.users.create({ username: FIRST_ADMIN, role: 'admin', passwordHash: await hashPassword(adminPassword) }, now());
        return { createdAdmin: true };
      }
      const token = randomBytes(18).toString('base64url');
      setupTokenHash = sha256(token);
      return { createdAdmin: false, setupToken: token };
    },

    /** First-run setup: the token from the log proves the person can read the server's log. */
    async completeSetup(token: string, password: string): Promise<User> {
      if (!this.needsSetup() || !setupTokenHash) throw new UserFacingError('This node is already set up.', 409);
      if (!timingSafeEqual(sha256(token.trim()), setupTokenHash)) {
        throw new UserFacingError('The setup token is wrong. Copy it from the node’s log.', 403);
      }
      const hash = await hashPassword(password);
      // Re-check inside the write: two browsers finishing setup at once must not make two admins.
      const user = store.transaction(() => {
        if (!this.needsSetup()) throw new UserFacingError('This node is already set up.', 409);
        return store.users.create({ username: FIRST_ADMIN, role: 'admin', passwordHash: hash }, now());
      });
      setupTokenHash = undefined;
      return user;
    },

    /** The user if the password matches and the account is enabled. Same work for unknown names. */
    async authenticate(username: string, password: string): Promise<User | undefined> {
      const found = store.users.credentials(username);
      const ok = await verifyPassword(password, found?.passwordHash ?? (await decoyHash));
      if (!found || !ok || found.user.disabled) return undefined;
      return found.user;
    },

    list(): User[] {
      return store.users.list();
    },

    get(id: number): User {
      const user = store.users.byId(id);
      if (!user) throw new UserFacingError('No such user.', 404);
      return user;
    },

    async add(input: { username: string; role: Role; password: string }): Promise<User> {
      if (store.users.credentials(input.username)) throw new UserFacingError(`The username “${input.username}” is taken.`);
      const passwordHash = await hashPassword(input.password);
      return store.users.create({ username: input.username, role: input.role, passwordHash }, now());
    },

    async resetPassword(id: number, password: string): Promise<User> {
      const user = this.get(id);
      store.users.setPassword(id, await hashPassword(password), now());
      sessions.endAllFor(id); // a reset password must not leave old logins open
      return user;
    },

    /** A person changes their own password: the current one first; their other sessions end, this one stays. */
    async changeOwnPassword(user: User, current: string, next: string, keepSession: string): Promise<{ sessionsEnded: number }> {
      const found = store.users.credentials(user.username);
      if (!found || !(await verifyPassword(current, found.passwordHash))) throw new WrongCurrentPassword('Your current password is not right. Nothing was changed.', 400);
      if (current === next) throw new UserFacingError('The new password is the same as the current one.', 400);
      store.users.setPassword(user.id, await hashPassword(next), now());
      return { sessionsEnded: sessions.endOthersFor(user.id, keepSession) };
    },

    /** An admin changes a person's role; the last enabled admin is never demoted. */
    setRole(id: number, role: Role): { user: User; from: Role } {
      const user = this.get(id);
      if (user.role === 'admin' && role !== 'admin') {
        const others = store.users.list().filter((u) => u.role === 'admin' && !u.disabled && u.id !== user.id);
        if (others.length === 0) throw new UserFacingError(`${user.username} is the node’s last enabled admin: make someone else an admin first, then change ${user.username}’s role.`, 409);
      }
      store.users.setRole(id, role, now());
      return { user: { ...user, role }, from: user.role };
    },

    setDisabled(actor: User, id: number, disabled: boolean): User {
      const user = this.get(id);
      if (user.id === actor.id) throw new UserFacingError('You cannot disable your own account.');
      if (user.role === 'admin' && disabled) this.assertAnotherAdmin(user);
      store.users.setDisabled(id, disabled, now());
      if (disabled) sessions.endAllFor(id);
      return { ...user, disabled };
    },

    remove(actor: User, id: number): User {
      const user = this.get(id);
      if (user.id === actor.id) throw new UserFacingError('You cannot remove your own account.');
      if (user.role === 'admin') this.assertAnotherAdmin(user);
      store.users.remove(id); // sessions go with it (ON DELETE CASCADE)
      return user;
    },

    assertAnotherAdmin(user: User): void {
      const others = store.users.list().filter((u) => u.role === 'admin' && !u.disabled && u.id !== user.id);
      if (others.length === 0) throw new UserFacingError('The node needs at least one enabled admin.');
    },
  };
}
export type PeopleService = ReturnType<typeof peopleService>;
