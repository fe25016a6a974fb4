// The least a remote read must deliver. Watching for silence alone is not enough: a hostile or broken server that
// sends one byte every 100 ms is never silent, and a download from it would run for days. So every read also has a
// floor: at least `minBytesPerSecond` on average over every `windowMs`, else it is cut and the caller says why.
import { performance } from 'node:perf_hooks';

export type ReadFloor = { minBytesPerSecond: number; windowMs: number };

/** Below 1 KB/s for a whole minute: no uplink a node is worth running on is that slow for that long. */
export const DEFAULT_READ_FLOOR: ReadFloor = { minBytesPerSecond: 1024, windowMs: 60_000 };

/** How often readers check their floor (and their silence): cheap, and well inside any sensible window. */
export const FLOOR_TICK_MS = 250;

/**
 * Tracks a byte count over time; `check` is called from a ticker (never per chunk: the hot path stays free of it)
 * and says why the floor is broken, or undefined. The first judgement comes one whole window after the start.
 */
export class FloorWatch {
  private readonly floor: ReadFloor;
  /** (time, total) samples, oldest first; the first one at or before `now - windowMs` is the baseline. */
  private samples: { at: number; bytes: number }[];

  constructor(floor: ReadFloor, startedAt = performance.now()) {
    this.floor = floor;
    this.samples = [{ at: startedAt, bytes: 0 }];
  }

  /** Judge from here on only: time that must not count against the server (our own bandwidth limit) is dropped. */
  restart(bytes: number, now = performance.now()): void {
    this.samples = [{ at: now, bytes }];
  }

  /**
   * `bytes`: the total received so far. `minBytesPerSecond` overrides the floor's (a bandwidth limit of our own
   * below the floor must not count against the server). Returns e.g. "sent only 30 B in the last 3 s, below the
   * minimum of 1 KB/s".
   */
  check(bytes: number, now = performance.now(), minBytesPerSecond = this.floor.minBytesPerSecond): string | undefined {
    this.samples.push({ at: now, bytes });
    const since = now - this.floor.windowMs;
    while (this.samples.length > 1 && this.samples[1]!.at <= since) this.samples.shift();
    const base = this.samples[0]!;
    if (base.at > since || !(minBytesPerSecond > 0)) return undefined; // not a whole window yet, or no floor
    const span = now - base.at;
    const got = bytes - base.bytes;
    if (got >= (minBytesPerSecond * span) / 1000) return undefined;
    return `sent only ${formatAmount(got)} in the last ${formatSeconds(span)}, below the minimum of ${formatAmount(minBytesPerSecond)}/s`;
  }
}

function formatAmount(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n >= 10 || i === 0 || Number.isInteger(n) ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

const formatSeconds = (ms: number): string => `${ms < 10_000 && ms % 1000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;
