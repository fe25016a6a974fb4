// Logging in and out, first-run setup and one's own password, each recorded in the audit log where it happens.
// The HTTP layer keeps what is about the browser (cookies, the login limiter, forms); this keeps what is audited.
import { UserFacingError } from '../errors.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Lockout } from './login-limiter.ts';
import type { PeopleService, User } from './people.ts';
import type { Session, SessionService } from './sessions.ts';

type Client = { ip: string; userAgent: string };

export function signIn(deps: { people: PeopleService; sessions: SessionService; audit: AuditLog }) {
  const { people, sessions, audit } = deps;

  /** A hold the limiter just placed: nobody is logged in yet, so the actor is the address alone. */
  function recordLockout(ip: string, target: string | undefined, lockout: Lockout | undefined): void {
    if (!lockout) return;
    audit.record({ name: null, ip }, 'login.locked', {
      target,
      outcome: 'denied',
      detail: { scope: lockout.scope, seconds: lockout.seconds, failures: lockout.failures },
    });
  }

  return {
    /** A session for someone whose password (or setup token) was just accepted. */
    start(user: User, client: Client): { token: string; session: Session } {
      const started = sessions.start(user, client);
      audit.record({ name: user.username, ip: client.ip }, 'login');
      return started;
    },
    /** A wrong username or password, and the hold it caused, if any. */
    loginFailed(ip: string, username: string, lockout: Lockout | undefined): void {
      audit.record({ name: null, ip }, 'login.failed', { target: username, outcome: 'denied' });
      recordLockout(ip, username, lockout);
    },
    /** The first admin from the setup token; a wrong token (403) is audited with the hold it caused. */
    async completeSetup(ip: string, token: string, password: string, lockout: Lockout | undefined): Promise<User> {
      try {
        const admin = await people.completeSetup(token, password);
        audit.record({ name: admin.username, ip }, 'setup.admin-created', { target: admin.username });
        return admin;
      } catch (err) {
        if (err instanceof UserFacingError && err.status === 403) {
          audit.record({ name: null, ip }, 'setup.failed', { outcome: 'denied' });
          recordLockout(ip, undefined, lockout);
        }
        throw err;
      }
    },
    /**
     * One's own new password. The form is read here (`read` throws on a bad one) so that a refused form is
     * audited as denied like a wrong current password.
     */
    async changeOwnPassword(actor: Actor, session: Session, read: () => { current: string; password: string }): Promise<{ sessionsEnded: number }> {
      try {
        const form = read();
        const { sessionsEnded } = await people.changeOwnPassword(session.user, form.current, form.password, session.idHash);
        audit.record(actor, 'account.password', { target: session.user.username, detail: { sessionsEnded } });
        return { sessionsEnded };
      } catch (err) {
        if (err instanceof UserFacingError) audit.record(actor, 'account.password', { target: session.user.username, outcome: 'denied', detail: { error: err.message } });
        throw err;
      }
    },
    logOut(actor: Actor, session: Session): void {
      sessions.end(session.idHash);
      audit.record(actor, 'logout');
    },
    /** Ends every session of this person, this one too; how many. */
    logOutEverywhere(actor: Actor, session: Session): number {
      const ended = sessions.endAllFor(session.user.id);
      audit.record(actor, 'logout.everywhere', { detail: { sessionsEnded: ended } });
      return ended;
    },
  };
}
export type SignIn = ReturnType<typeof signIn>;
