// Rendered pages kept while what they show is unchanged: under load the dashboard renders once per change, not once
// per request. The key names everything a page depends on (model and jobs versions, the viewer, their CSRF token);
// the short lifetime covers what moves without an event (a failure ageing out of "failing", an env file edited by hand).
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export type CachedPage = { body: Buffer; etag: string; gzipped?: Buffer };

/** The page gzipped, made once per kept page on first asking: the dashboard shrinks about eightfold for slow links. */
export function gzippedBody(page: CachedPage): Buffer {
  page.gzipped ??= gzipSync(page.body);
  return page.gzipped;
}

export class PageCache {
  readonly #entries = new Map<string, CachedPage & { until: number }>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(opts: { maxEntries: number; ttlMs: number; now?: () => number }) {
    this.#maxEntries = opts.maxEntries;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  /** The page kept under `key`, or the one `render` makes now (kept for the next request). */
  get(key: string, render: () => string): CachedPage {
    const now = this.#now();
    const hit = this.#entries.get(key);
    if (hit && hit.until > now) return hit;
    const body = Buffer.from(render(), 'utf8');
    const page = { body, etag: `W/"${createHash('sha1').update(body).digest('base64url')}"`, until: now + this.#ttlMs };
    this.#entries.delete(key);
    this.#entries.set(key, page);
    // Maps iterate in insertion order: the first key is the oldest written.
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
    return page;
  }

  get size(): number {
    return this.#entries.size;
  }
}
