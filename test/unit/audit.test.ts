// The audit log stays bounded: clean short targets, capped details, and old rows pruned on a schedule.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { auditTarget } from '../../app/http/audited.ts';
import { AUDIT_DETAIL_MAX, AUDIT_TARGET_MAX, auditLog, auditRetention, boundedDetail, cleanText } from '../../app/services/audit.ts';
import { openDb } from '../../app/store/db.ts';
import { createStore } from '../../app/store/index.ts';
import { migrations } from '../../app/store/migrations.ts';

const DAY = 24 * 60 * 60 * 1000;
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'audit-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('what an audit row may hold', () => {
  it('cleans and caps text: no control characters, at most the limit, cut visibly', () => {
    expect(cleanText('a\r\nb\tc\u001b[31md\u0000e\u202Ef\u0085', 100)).toBe('a  b c[31mdef');
    const long = cleanText('x'.repeat(5000), AUDIT_TARGET_MAX);
    expect(long).toHaveLength(AUDIT_TARGET_MAX);
    expect(long.endsWith('…')).toBe(true);
  });

  it('names a refusal by a valid path parameter as it is, and by a short clean sample when it is not valid', () => {
    expect(auditTarget({ stack: 'wiki_example_org' })).toBe('wiki_example_org');
    expect(auditTarget({ recipe: 'kiwix' })).toBe('kiwix');
    const raw = `evil\r\nevent: x\u001b[2J${'y'.repeat(5000)}`;
    const bad = auditTarget({ stack: raw })!;
    expect(bad.startsWith(`(invalid, ${raw.length} chars) evil  event: x[2J`)).toBe(true);
    expect(bad.length).toBeLessThan(80);
    expect(bad).not.toMatch(/[\p{Cc}]/u);
    expect(auditTarget({})).toBeUndefined();
  });

  it('caps details: long strings cut, long lists shortened, the whole kept under its size', () => {
    const d = boundedDetail({ error: 'e'.repeat(10_000), list: Array.from({ length: 500 }, (_, i) => i), deep: { a: { b: { c: { d: { e: 1 } } } } } });
    expect((d.error as string).length).toBeLessThanOrEqual(500);
    expect((d.list as unknown[]).length).toBe(51);
    expect(JSON.stringify(d).length).toBeLessThanOrEqual(AUDIT_DETAIL_MAX);
    const huge = boundedDetail(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'.repeat(400)])));
    expect(huge).toMatchObject({ truncated: true });
    expect(JSON.stringify(huge).length).toBeLessThanOrEqual(AUDIT_DETAIL_MAX);
  });

  it('records what it is given within those bounds', () => {
    const store = createStore(tempDir());
    auditLog(store.audit, () => 1).record({ name: 'sam', ip: '127.0.0.1' }, 'job.deploy', { target: `a\n${'b'.repeat(5000)}`, detail: { error: 'x'.repeat(9000) } });
    const [row] = store.audit.page({ limit: 1 });
    expect(row!.target!.length).toBe(AUDIT_TARGET_MAX);
    expect(row!.target).not.toContain('\n');
    expect(row!.detail!.length).toBeLessThanOrEqual(AUDIT_DETAIL_MAX);
    store.close();
  });
});

describe('audit retention', () => {
  it('deletes rows older than the retention at start and daily, and audits each prune that removed rows', () => {
    vi.useFakeTimers();
    const store = createStore(tempDir());
    let now = Date.UTC(2026, 0, 1);
    const audit = auditLog(store.audit, () => now);
    for (const ageDays of [400, 366, 364, 10]) store.audit.append({ actor: 'sam', ip: null, action: 'login', outcome: 'ok' }, now - ageDays * DAY);
    const retention = auditRetention({ store: store.audit, audit, days: () => 365, now: () => now });
    retention.start();
    const left = () => store.audit.page({ limit: 100 });
    expect(left().filter((r) => r.action === 'login')).toHaveLength(2);
    const prune = left().find((r) => r.action === 'audit.prune')!;
    expect(JSON.parse(prune.detail!)).toMatchObject({ removed: 2, days: 365 });
    // A day later, the 364-day-old row has aged past the retention.
    now += 2 * DAY;
    vi.advanceTimersByTime(DAY);
    expect(left().filter((r) => r.action === 'login')).toHaveLength(1);
    expect(left().filter((r) => r.action === 'audit.prune')).toHaveLength(2);
    // Nothing to delete: nothing recorded either.
    vi.advanceTimersByTime(DAY);
    expect(left().filter((r) => r.action === 'audit.prune')).toHaveLength(2);
    retention.stop();
    store.close();
  });

  it('prunes with one DELETE on the time index', () => {
    const db = openDb(tempDir());
    const plan = db.prepare('EXPLAIN QUERY PLAN DELETE FROM audit_log WHERE at < ?').all(0) as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX audit_at/);
    db.close();
  });
});

describe('migration 6 (audit bounds)', () => {
  it('brings rows written before the bounds within them', () => {
    const dir = tempDir();
    const before = openDb(dir, migrations.filter((m) => m.version < 6));
    const insert = before.prepare('INSERT INTO audit_log (at, actor, ip, action, target, outcome, detail) VALUES (1, NULL, NULL, ?, ?, ?, ?)');
    insert.run('job.deploy', `a\r\nb\u001bc${'x'.repeat(5000)}`, 'denied', JSON.stringify({ error: 'e'.repeat(9000) }));
    insert.run('login', 'sam', 'ok', '{"a":1}');
    before.close();
    const after = openDb(dir);
    const rows = after.prepare('SELECT target, detail FROM audit_log ORDER BY id').all() as { target: string; detail: string }[];
    expect(rows[0]!.target.startsWith('a  bc')).toBe(true);
    expect(rows[0]!.target.length).toBe(200);
    expect(JSON.parse(rows[0]!.detail)).toMatchObject({ truncated: true });
    expect(rows[1]).toEqual({ target: 'sam', detail: '{"a":1}' });
    after.close();
  });
});
