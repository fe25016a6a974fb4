// The config repository as people reach it, each step recorded in the audit log where it is decided: laptops over
// git (a refused token, a refused or accepted push, a pull) and the Changes page's discard.
import { accessFor, type AccessTokenService } from '../access-tokens.ts';
import type { Actor, AuditLog } from '../audit.ts';
import type { User } from '../people.ts';
import type { ConfigRepository } from './repo.ts';

/** Who a git request is from: admitted (with the actor its later steps are audited as), or refused and why. */
type GitActor = Actor & { ip: string };
export type GitAdmission =
  | { admitted: true; user: User; actor: GitActor }
  | { admitted: false; reason: 'token' }
  | { admitted: false; reason: 'read-only'; user: User };

export function configSharing(deps: { repo: ConfigRepository; accessTokens: AccessTokenService; audit: AuditLog }) {
  const { repo, audit } = deps;
  return {
    /** A git request with Basic credentials: a valid token, and write access when it pushes. */
    admit(credentials: { username: string; token: string }, ip: string, push: boolean): GitAdmission {
      const who = deps.accessTokens.verify(credentials.username, credentials.token);
      const actor = { name: who?.user.username ?? credentials.username.slice(0, 32), ip };
      if (!who) {
        audit.record(actor, 'config-repo.auth', { outcome: 'denied', detail: { reason: 'unknown, revoked or mismatched token' } });
        return { admitted: false, reason: 'token' };
      }
      if (push && accessFor(who.user) !== 'write') {
        audit.record(actor, 'config-repo.push', { outcome: 'denied', detail: { reason: `${who.user.role} may only pull` } });
        return { admitted: false, reason: 'read-only', user: who.user };
      }
      return { admitted: true, user: who.user, actor };
    },
    /** After git received a push (before its client hears "ok"): a new head is written into the server directory. */
    async pushed(actor: Actor, before: string | undefined, exitCode: number): Promise<void> {
      const after = await repo.head();
      const applied = after !== before ? await repo.afterPush() : [];
      audit.record(actor, 'config-repo.push', {
        outcome: after !== before ? 'ok' : 'denied',
        detail: after !== before ? { from: before, to: after, files: applied } : { reason: 'refused by git or the node’s checks', exitCode },
      });
    },
    async pulled(actor: Actor): Promise<void> {
      audit.record(actor, 'config-repo.pull', { detail: { head: await repo.head() } });
    },
    /** Puts an app's env file back as at its last deploy; the commit made. */
    async discard(actor: Actor & { name: string }, domain: string): Promise<string> {
      const commit = await repo.discard(domain, actor.name);
      audit.record(actor, 'config-repo.discard', { target: domain, detail: { commit } });
      return commit;
    },
  };
}
export type ConfigSharing = ReturnType<typeof configSharing>;
