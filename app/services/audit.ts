// Who did what, when, from where. Every state change and every login attempt goes through here.
// What is recorded is bounded: targets are short clean text, details are capped, and old rows are pruned.
import type { AuditEntry, AuditRow, AuditStore } from '../store/audit.ts';

export type Actor = { name: string | null; ip: string | null };
export type AuditLog = {
  record(actor: Actor, action: string, fields?: { target?: string; outcome?: AuditEntry['outcome']; detail?: Record<string, unknown> }): void;
};

export const AUDIT_TARGET_MAX = 200;
/** The longest detail kept, as JSON text; a longer one is kept as its first keys and a note. */
export const AUDIT_DETAIL_MAX = 4000;
const DETAIL_STRING_MAX = 500;
const DETAIL_ITEMS_MAX = 50;
const DETAIL_DEPTH_MAX = 4;

/** At most `max` characters, an ellipsis saying it was cut (never half of a surrogate pair). */
const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, '')}…`);

/** `text` on one line without control characters (C0, DEL, C1) or invisible format characters, at most `max` long. */
export function cleanText(text: string, max: number): string {
  return cut(text.replace(/[\t\n\r]/g, ' ').replace(/[\p{Cc}\p{Cf}]/gu, ''), max);
}

/** Detail strings keep their line breaks (JSON escapes them), but not other control characters. */
const cleanDetailText = (text: string) => cut(text.replace(/[^\P{Cc}\n]|\p{Cf}/gu, ''), DETAIL_STRING_MAX);

/** A detail within bounds: strings cut, long lists shortened, deep nesting flattened, the whole capped in size. */
export function boundedDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const bound = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return cleanDetailText(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= DETAIL_DEPTH_MAX) return '…';
    if (Array.isArray(value)) {
      const kept = value.slice(0, DETAIL_ITEMS_MAX).map((v) => bound(v, depth + 1));
      return value.length > DETAIL_ITEMS_MAX ? [...kept, `… ${value.length - DETAIL_ITEMS_MAX} more`] : kept;
    }
    const entries = Object.entries(value as Record<string, unknown>);
    const kept = entries.slice(0, DETAIL_ITEMS_MAX).map(([k, v]) => [cleanText(k, 64), bound(v, depth + 1)]);
    return Object.fromEntries(entries.length > DETAIL_ITEMS_MAX ? [...kept, ['…', `${entries.length - DETAIL_ITEMS_MAX} more`]] : kept);
  };
  const bounded = bound(detail, 0) as Record<string, unknown>;
  const size = JSON.stringify(bounded).length;
  if (size <= AUDIT_DETAIL_MAX) return bounded;
  return { truncated: true, size, keys: Object.keys(bounded).slice(0, 20) };
}

export function auditLog(store: AuditStore, now: () => number): AuditLog {
  return {
    record(actor, action, fields = {}) {
      store.append(
        {
          actor: actor.name === null ? null : cleanText(actor.name, 64),
          ip: actor.ip === null ? null : cleanText(actor.ip, 64),
          action: cleanText(action, 64),
          target: fields.target === undefined ? null : cleanText(fields.target, AUDIT_TARGET_MAX),
          outcome: fields.outcome ?? 'ok',
          detail: fields.detail ? boundedDetail(fields.detail) : null,
        },
        now(),
      );
    },
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps the audit log to the retention the admin chose: rows older than it are deleted at start and then once a
 * day (one DELETE on the indexed time). Each prune that removes rows is itself audited.
 */
export function auditRetention(deps: { store: AuditStore; audit: AuditLog; days: () => number; now: () => number; onError?: (err: Error) => void }) {
  let timer: NodeJS.Timeout | undefined;
  const retention = {
    /** Deletes what is older than the retention; returns how many rows went. */
    prune(): number {
      const days = deps.days();
      const before = deps.now() - days * DAY_MS;
      const removed = deps.store.deleteBefore(before);
      if (removed > 0) deps.audit.record({ name: null, ip: null }, 'audit.prune', { detail: { removed, days, olderThan: new Date(before).toISOString() } });
      return removed;
    },
    /** Prunes now and then daily, never taking the node down with it (a busy database waits for the next run). */
    start(everyMs = DAY_MS): void {
      const run = () => {
        try {
          retention.prune();
        } catch (err) {
          deps.onError?.(err as Error);
        }
      };
      run();
      clearInterval(timer);
      timer = setInterval(run, everyMs);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      timer = undefined;
    },
  };
  return retention;
}
export type AuditRetention = ReturnType<typeof auditRetention>;

/** The audit log as the Audit log page reads it: newest first, paged back by id, filtered by action prefix. */
export function auditHistory(store: AuditStore) {
  return { page: (opts: { limit: number; beforeId?: number; action?: string }): AuditRow[] => store.page(opts) };
}
export type AuditHistory = ReturnType<typeof auditHistory>;
