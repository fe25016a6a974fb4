import { prep, type Db } from './db.ts';

export function settingsStore(db: Db) {
  return {
    get(key: string): string | undefined {
      const row = prep(db, 'SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
      return row?.value;
    },
    set(key: string, value: string, by: string | null, now: number): void {
      prep(db, 
        'INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by',
      ).run(key, value, now, by);
    },
  };
}
export type SettingsStore = ReturnType<typeof settingsStore>;
