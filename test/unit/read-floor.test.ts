// The floor every remote read keeps: a minimum average rate over a window, judged only once a whole window has passed.
import { describe, expect, it } from 'vitest';
import { FloorWatch } from '../../app/adapters/remote/read-floor.ts';

describe('read floor', () => {
  const floor = { minBytesPerSecond: 1024, windowMs: 3000 };

  it('judges nothing before a whole window, then cuts a trickle (10 B/s) and names what arrived', () => {
    const watch = new FloorWatch(floor, 0);
    for (let at = 250; at < 3000; at += 250) expect(watch.check(at / 100, at)).toBeUndefined();
    expect(watch.check(30, 3000)).toBe('sent only 30 B in the last 3 s, below the minimum of 1 KB/s');
  });

  it('passes a steady read above the floor, and catches one that slows down later, over the last window only', () => {
    const watch = new FloorWatch(floor, 0);
    let bytes = 0;
    for (let at = 250; at <= 10_000; at += 250) {
      bytes += 2048 / 4; // 2 KB/s
      expect(watch.check(bytes, at), `at ${at} ms`).toBeUndefined();
    }
    // Now 100 B/s: the fast start must not hide it once it leaves the window.
    let verdict: string | undefined;
    let at = 10_000;
    while (!verdict && at < 20_000) {
      at += 250;
      bytes += 25;
      verdict = watch.check(bytes, at);
    }
    expect(verdict).toMatch(/^sent only [\d.]+ K?B in the last 3 s, below the minimum of 1 KB\/s$/); // as soon as the window averages below 1 KB/s
    expect(at).toBeLessThanOrEqual(10_000 + 3000);
  });

  it('forgets time that must not count (our own bandwidth limit), and a floor of 0 never cuts', () => {
    const watch = new FloorWatch(floor, 0);
    watch.restart(0, 2900);
    expect(watch.check(0, 3000)).toBeUndefined();
    expect(watch.check(0, 5900)).toMatch(/sent only 0 B/);
    const none = new FloorWatch({ minBytesPerSecond: 0, windowMs: 1000 }, 0);
    expect(none.check(0, 60_000)).toBeUndefined();
  });
});
