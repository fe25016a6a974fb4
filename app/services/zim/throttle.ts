// The download bandwidth limit (Settings).
import { performance } from 'node:perf_hooks';

export class TokenBucket {
  private readonly rate: () => number;
  private tokens = 0;
  private last = performance.now();

  constructor(rate: () => number) {
    this.rate = rate;
  }

  /** Spend `bytes`; returns how many ms to wait before reading more (0: go on). */
  take(bytes: number): number {
    const rate = this.rate();
    const now = performance.now();
    if (!(rate > 0) || !Number.isFinite(rate)) {
      this.tokens = 0;
      this.last = now;
      return 0;
    }
    this.tokens = Math.min(rate / 4, this.tokens + ((now - this.last) / 1000) * rate) - bytes;
    this.last = now;
    // In debt: wait until the bucket would be back at zero; the refill on the next call pays the debt off.
    return this.tokens < 0 ? (-this.tokens / rate) * 1000 : 0;
  }
}

