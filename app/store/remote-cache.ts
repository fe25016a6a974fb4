import { prep, type Db } from './db.ts';

/** The last good copy of a remote document, and how the latest attempt to refresh it went. */
export type RemoteCopy = { key: string; url: string; body: string | null; fetchedAt: number | null; attemptedAt: number; error: string | null };

type Row = { key: string; url: string; body: string | null; fetched_at: number | null; attempted_at: number; error: string | null };
const fromRow = (r: Row): RemoteCopy => ({ key: r.key, url: r.url, body: r.body, fetchedAt: r.fetched_at, attemptedAt: r.attempted_at, error: r.error });

export function remoteCacheStore(db: Db) {
  return {
    get(key: string): RemoteCopy | undefined {
      const row = prep(db, 'SELECT * FROM remote_cache WHERE key = ?').get(key) as Row | undefined;
      return row && fromRow(row);
    },
    /** When the copy was fetched and how the latest refresh went, without reading the (large) body. */
    state(key: string): Omit<RemoteCopy, 'body'> | undefined {
      const row = prep(db, 'SELECT key, url, NULL AS body, fetched_at, attempted_at, error FROM remote_cache WHERE key = ?').get(key) as Row | undefined;
      if (!row) return undefined;
      const { body: _, ...rest } = fromRow(row);
      return rest;
    },
    /** A fresh copy replaces the old one. */
    saved(key: string, url: string, body: string, now: number): void {
      prep(db,
        `INSERT INTO remote_cache (key, url, body, fetched_at, attempted_at, error) VALUES (?, ?, ?, ?, ?, NULL)
         ON CONFLICT(key) DO UPDATE SET url = excluded.url, body = excluded.body, fetched_at = excluded.fetched_at, attempted_at = excluded.attempted_at, error = NULL`,
      ).run(key, url, body, now, now);
    },
    /** A failed refresh keeps the last good copy and says why. */
    failed(key: string, url: string, error: string, now: number): void {
      prep(db,
        `INSERT INTO remote_cache (key, url, body, fetched_at, attempted_at, error) VALUES (?, ?, NULL, NULL, ?, ?)
         ON CONFLICT(key) DO UPDATE SET attempted_at = excluded.attempted_at, error = excluded.error`,
      ).run(key, url, now, error);
    },
    /** Keeps the `keep` most recently asked documents under a key prefix (each search is one): the table stays small. */
    prune(prefix: string, keep: number): void {
      prep(db,
        `DELETE FROM remote_cache WHERE substr(key, 1, ?) = ? AND key NOT IN
           (SELECT key FROM remote_cache WHERE substr(key, 1, ?) = ? ORDER BY attempted_at DESC LIMIT ?)`,
      ).run(prefix.length, prefix, prefix.length, prefix, keep);
    },
  };
}
export type RemoteCacheStore = ReturnType<typeof remoteCacheStore>;
