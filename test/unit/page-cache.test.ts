// The dashboard's page cache: kept while the key holds and the short lifetime lasts, bounded in entries.
import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { PageCache, gzippedBody } from '../../app/http/page-cache.ts';

function counted(text: string) {
  const render = () => {
    render.calls += 1;
    return text;
  };
  render.calls = 0;
  return render;
}

describe('PageCache', () => {
  it('renders once per key while the lifetime lasts, then again', () => {
    let now = 1000;
    const cache = new PageCache({ maxEntries: 4, ttlMs: 1000, now: () => now });
    const render = counted('<p>apps</p>');
    const first = cache.get('v1', render);
    expect(cache.get('v1', render)).toBe(first);
    now += 999;
    cache.get('v1', render);
    expect(render.calls).toBe(1);
    now += 1;
    const again = cache.get('v1', render);
    expect(render.calls).toBe(2);
    expect(again.body.toString()).toBe('<p>apps</p>');
    expect(again.etag).toBe(first.etag); // same bytes, same validator
  });

  it('renders again for another key, and its ETag follows the bytes', () => {
    const cache = new PageCache({ maxEntries: 4, ttlMs: 60_000 });
    const a = cache.get('model 1', () => 'running');
    const b = cache.get('model 2', () => 'stopped');
    expect(b.body.toString()).toBe('stopped');
    expect(b.etag).not.toBe(a.etag);
    expect(a.etag).toMatch(/^W\/"[\w-]+"$/);
  });

  it('keeps at most maxEntries, dropping the oldest written', () => {
    const cache = new PageCache({ maxEntries: 2, ttlMs: 60_000 });
    const render = counted('x');
    cache.get('a', render);
    cache.get('b', render);
    cache.get('c', render);
    expect(cache.size).toBe(2);
    cache.get('b', render);
    cache.get('c', render);
    expect(render.calls).toBe(3);
    cache.get('a', render);
    expect(render.calls).toBe(4);
  });

  it('gzips a kept page once, to the same bytes', () => {
    const cache = new PageCache({ maxEntries: 2, ttlMs: 60_000 });
    const page = cache.get('k', () => '<li>app</li>\n'.repeat(500));
    const gz = gzippedBody(page);
    expect(gzippedBody(cache.get('k', () => 'not rendered again'))).toBe(gz);
    expect(gunzipSync(gz).equals(page.body)).toBe(true);
    expect(gz.length).toBeLessThan(page.body.length / 10);
  });
});
