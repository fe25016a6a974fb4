// Who did what, when, from where. Every state change and every login attempt goes through here.
import type { AuditEntry, AuditStore } from '../store/audit.ts';

export type Actor = { name: string | null; ip: string | null };
export type AuditLog = {
  record(actor: Actor, action: string, fields?: { target?: string; outcome?: AuditEntry['outcome']; detail?: Record<string, unknown> }): void;
};

export function auditLog(store: AuditStore, now: () => number): AuditLog {
  return {
    record(actor, action, fields = {}) {
      store.append(
        {
          actor: actor.name,
          ip: actor.ip,
          action,
          target: fields.target ?? null,
          outcome: fields.outcome ?? 'ok',
          detail: fields.detail ?? null,
        },
        now(),
      );
    },
  };
}
