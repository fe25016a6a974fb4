import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../app/store/db.ts';
import { migrations } from '../../app/store/migrations.ts';

describe('store', () => {
  it('opens in WAL mode and applies numbered migrations once', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'db-'));
    const extra = [...migrations, { version: 99, name: 'test', sql: 'CREATE TABLE t (x INTEGER);' }];
    const db = openDb(dir, extra);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(99);
    db.close();
    const again = openDb(dir, extra); // re-running must not fail on existing tables
    expect(again.pragma('user_version', { simple: true })).toBe(99);
    again.close();
  });
  it('numbers migrations uniquely and in order', () => {
    const versions = migrations.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });
});
