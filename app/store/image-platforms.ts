import { prep, type Db } from './db.ts';

import type { Platform } from '../platform.ts';

/** What the registry said about an image: its digest and platforms, or why it could not say. */
export type ImagePlatformsRow = { ref: string; digest: string | null; platforms: Platform[] | null; error: string | null; checkedAt: number };

type Row = { ref: string; digest: string | null; platforms: string | null; error: string | null; checked_at: number };
const fromRow = (r: Row): ImagePlatformsRow => ({
  ref: r.ref,
  digest: r.digest,
  platforms: r.platforms === null ? null : (JSON.parse(r.platforms) as Platform[]),
  error: r.error,
  checkedAt: r.checked_at,
});

export function imagePlatformsStore(db: Db) {
  return {
    get(ref: string): ImagePlatformsRow | undefined {
      const row = prep(db, 'SELECT * FROM image_platforms WHERE ref = ?').get(ref) as Row | undefined;
      return row && fromRow(row);
    },
    /** Another reference already resolved to this digest: its platforms are the same. */
    byDigest(digest: string): ImagePlatformsRow | undefined {
      const row = prep(db, 'SELECT * FROM image_platforms WHERE digest = ? AND platforms IS NOT NULL ORDER BY checked_at DESC LIMIT 1').get(digest) as Row | undefined;
      return row && fromRow(row);
    },
    put(r: ImagePlatformsRow): void {
      prep(db,
        `INSERT INTO image_platforms (ref, digest, platforms, error, checked_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(ref) DO UPDATE SET digest = excluded.digest, platforms = excluded.platforms, error = excluded.error, checked_at = excluded.checked_at`,
      ).run(r.ref, r.digest, r.platforms === null ? null : JSON.stringify(r.platforms), r.error, r.checkedAt);
    },
  };
}
export type ImagePlatformsStore = ReturnType<typeof imagePlatformsStore>;
