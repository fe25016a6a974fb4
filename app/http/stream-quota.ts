// Long-lived streams (a followed log holds a Docker connection each) are counted per person and capped.
/**
 * At most `limit` open streams per key. Beyond it a new stream is refused, rather than an old one cut: a browser
 * reconnects a closed EventSource by itself, so cutting the oldest would only make two tabs take turns.
 */
export class StreamQuota {
  readonly limit: number;
  readonly #open = new Map<string, number>();
  constructor(limit: number) {
    this.limit = limit;
  }

  count(key: string): number {
    return this.#open.get(key) ?? 0;
  }

  full(key: string): boolean {
    return this.count(key) >= this.limit;
  }

  /** Takes a slot and returns its release (safe to call twice), or undefined when `key` has none left. */
  take(key: string): (() => void) | undefined {
    if (this.full(key)) return undefined;
    this.#open.set(key, this.count(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.count(key) - 1;
      if (left > 0) this.#open.set(key, left);
      else this.#open.delete(key);
    };
  }
}
