import { prep, type Db } from './db.ts';

export type AuditOutcome = 'ok' | 'denied' | 'failed';
export type AuditEntry = {
  actor: string | null;
  ip: string | null;
  action: string;
  target?: string | null;
  outcome: AuditOutcome;
  detail?: Record<string, unknown> | null;
};
export type AuditRow = Omit<AuditEntry, 'detail'> & { id: number; at: number; detail: string | null };

export function auditStore(db: Db) {
  return {
    append(entry: AuditEntry, at: number): void {
      prep(db, 'INSERT INTO audit_log (at, actor, ip, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        at,
        entry.actor,
        entry.ip,
        entry.action,
        entry.target ?? null,
        entry.outcome,
        entry.detail ? JSON.stringify(entry.detail) : null,
      );
    },
    /** Deletes the rows older than `at` (one statement on the `audit_at` index); returns how many went. */
    deleteBefore(at: number): number {
      return prep(db, 'DELETE FROM audit_log WHERE at < ?').run(at).changes;
    },
    /** Newest first; `beforeId` pages back through history. */
    page(opts: { limit: number; beforeId?: number; action?: string }): AuditRow[] {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (opts.beforeId) {
        where.push('id < ?');
        args.push(opts.beforeId);
      }
      if (opts.action) {
        where.push('action LIKE ?');
        args.push(`${opts.action}%`);
      }
      const sql = `SELECT id, at, actor, ip, action, target, outcome, detail FROM audit_log ${
        where.length ? `WHERE ${where.join(' AND ')}` : ''
      } ORDER BY id DESC LIMIT ?`;
      return prep(db, sql).all(...args, opts.limit) as AuditRow[];
    },
  };
}
export type AuditStore = ReturnType<typeof auditStore>;
