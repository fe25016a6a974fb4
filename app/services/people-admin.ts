// An admin's changes to people and their access tokens, each recorded in the audit log where it is made.
import type { Role } from '../validation.ts';
import type { AccessTokenRow, AccessTokenService } from './access-tokens.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { PeopleService, User } from './people.ts';
import type { SessionService } from './sessions.ts';

export function peopleAdmin(deps: { people: PeopleService; sessions: SessionService; accessTokens: AccessTokenService; audit: AuditLog }) {
  const { people, audit } = deps;
  return {
    async add(actor: Actor, input: { username: string; role: Role; password: string }): Promise<User> {
      const user = await people.add(input);
      audit.record(actor, 'user.add', { target: user.username, detail: { role: user.role } });
      return user;
    },
    async resetPassword(actor: Actor, id: number, password: string): Promise<User> {
      const user = await people.resetPassword(id, password);
      audit.record(actor, 'user.password-reset', { target: user.username });
      return user;
    },
    /** A refused change (the last admin) is audited as denied too. */
    setRole(actor: Actor, id: number, role: Role): User {
      try {
        const { user, from } = people.setRole(id, role);
        audit.record(actor, 'user.role', { target: user.username, detail: { from, to: user.role } });
        return user;
      } catch (err) {
        audit.record(actor, 'user.role', { target: String(id), outcome: 'denied', detail: { to: role, error: (err as Error).message } });
        throw err;
      }
    },
    setDisabled(actor: Actor, by: User, id: number, disabled: boolean): User {
      const user = people.setDisabled(by, id, disabled);
      audit.record(actor, disabled ? 'user.disable' : 'user.enable', { target: user.username });
      return user;
    },
    endSessions(actor: Actor, id: number): User {
      const user = people.get(id);
      const ended = deps.sessions.endAllFor(user.id);
      audit.record(actor, 'user.logout-everywhere', { target: user.username, detail: { sessionsEnded: ended } });
      return user;
    },
    remove(actor: Actor, by: User, id: number): User {
      const user = people.remove(by, id);
      audit.record(actor, 'user.remove', { target: user.username, detail: { role: user.role } });
      return user;
    },
    createToken(actor: Actor, userId: number, label: unknown): { token: string; row: AccessTokenRow } {
      const made = deps.accessTokens.create(userId, label, actor.name);
      audit.record(actor, 'access-token.create', { target: made.row.username, detail: { token: made.row.id, label: made.row.label } });
      return made;
    },
    revokeToken(actor: Actor, id: number): AccessTokenRow {
      const row = deps.accessTokens.revoke(id);
      audit.record(actor, 'access-token.revoke', { target: row.username, detail: { token: row.id, label: row.label } });
      return row;
    },
  };
}
export type PeopleAdmin = ReturnType<typeof peopleAdmin>;
