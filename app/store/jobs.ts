import { prep, type Db } from './db.ts';

/** queued: waiting for its turn (another job on the same app or recipe, or the node's limit). cancelled: stopped by a person. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted' | 'cancelled';
export type JobRow = {
  id: number;
  kind: string;
  app: string | null;
  recipe: string | null;
  args: Record<string, unknown>;
  actor: string | null;
  state: JobState;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  error: string | null;
  /** What a running job is waiting for, in words for the page; null when there is nothing to say. */
  phase: string | null;
};
export type OutputLine = { seq: number; at: number; stream: string; line: string };

type Raw = Omit<JobRow, 'args'> & { args: string };
const COLS =
  'id, kind, app, recipe, args, actor, state, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt, exit_code AS exitCode, error, phase';
const toRow = (r: Raw): JobRow => ({ ...r, args: JSON.parse(r.args) as Record<string, unknown> });

export function jobStore(db: Db) {
  return {
    create(j: { kind: string; app: string | null; recipe: string | null; args: Record<string, unknown>; actor: string | null }, now: number): JobRow {
      const info = prep(db, "INSERT INTO jobs (kind, app, recipe, args, actor, state, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)")
        .run(j.kind, j.app, j.recipe, JSON.stringify(j.args), j.actor, now);
      return this.byId(Number(info.lastInsertRowid))!;
    },
    byId(id: number): JobRow | undefined {
      const r = prep(db, `SELECT ${COLS} FROM jobs WHERE id = ?`).get(id) as Raw | undefined;
      return r && toRow(r);
    },
    markRunning(id: number, now: number): void {
      prep(db, "UPDATE jobs SET state = 'running', started_at = ? WHERE id = ?").run(now, id);
    },
    setPhase(id: number, phase: string | null): void {
      prep(db, 'UPDATE jobs SET phase = ? WHERE id = ?').run(phase, id);
    },
    finish(id: number, state: Exclude<JobState, 'queued' | 'running'>, fields: { exitCode?: number | null; error?: string | null }, now: number): void {
      prep(db, 'UPDATE jobs SET state = ?, finished_at = ?, exit_code = ?, error = ?, phase = NULL WHERE id = ?').run(
        state,
        now,
        fields.exitCode ?? null,
        fields.error ?? null,
        id,
      );
    },
    /** Jobs a previous process left unfinished. */
    unfinished(): JobRow[] {
      return (prep(db, `SELECT ${COLS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY id`).all() as Raw[]).map(toRow);
    },
    list(opts: { limit: number; app?: string; beforeId?: number }): JobRow[] {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (opts.app) {
        where.push('app = ?');
        args.push(opts.app);
      }
      if (opts.beforeId) {
        where.push('id < ?');
        args.push(opts.beforeId);
      }
      const sql = `SELECT ${COLS} FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return (prep(db, sql).all(...args, opts.limit) as Raw[]).map(toRow);
    },
    /** The newest job of a kind on an app whose args name this file (a download to resume, for instance). */
    latestForFile(kind: string, app: string, fileName: string): JobRow | undefined {
      const r = prep(db, `SELECT ${COLS} FROM jobs WHERE kind = ? AND app = ? AND json_extract(args, '$.fileName') = ? ORDER BY id DESC LIMIT 1`).get(kind, app, fileName) as Raw | undefined;
      return r && toRow(r);
    },
    /** Jobs of a kind a restart cut off (error starts with `prefix`) that no newer job on the same file followed. */
    cutOffByRestart(kind: string, prefix: string): JobRow[] {
      const sql = `SELECT ${COLS} FROM jobs j WHERE kind = ? AND state = 'interrupted' AND substr(error, 1, ?) = ?
        AND NOT EXISTS (SELECT 1 FROM jobs n WHERE n.kind = j.kind AND n.app = j.app AND n.id > j.id
                        AND json_extract(n.args, '$.fileName') = json_extract(j.args, '$.fileName')) ORDER BY id`;
      return (prep(db, sql).all(kind, prefix.length, prefix) as Raw[]).map(toRow);
    },
    appendOutput(jobId: number, lines: { stream: string; line: string }[], now: number, firstSeq: number): void {
      const insert = prep(db, 'INSERT INTO job_output (job_id, seq, at, stream, line) VALUES (?, ?, ?, ?, ?)');
      db.transaction(() => {
        lines.forEach((l, i) => insert.run(jobId, firstSeq + i, now, l.stream, l.line));
      })();
    },
    output(jobId: number, afterSeq = -1): OutputLine[] {
      return prep(db, 'SELECT seq, at, stream, line FROM job_output WHERE job_id = ? AND seq > ? ORDER BY seq').all(jobId, afterSeq) as OutputLine[];
    },
    lastSeq(jobId: number): number {
      return (prep(db, 'SELECT coalesce(max(seq), -1) AS s FROM job_output WHERE job_id = ?').get(jobId) as { s: number }).s;
    },
  };
}
export type JobStore = ReturnType<typeof jobStore>;
