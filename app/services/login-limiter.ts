// Login attempts, limited per client address AND per account, with exponential back-off, in bounded memory.
//
// Each key (an address, an account, a known device) has a count of failures. The first `free` failures cost
// nothing; each one after that blocks the key for base × 2^(failures − free − 1), up to `maxBlockMs`. A quiet key is
// forgotten after `forgetMs`. Keys live in fixed-size LRU maps: O(1) per attempt, never a scan.
//
// So that nobody else's guesses alone can lock the admin out, a browser that has logged in as an account before
// (a signed "known device" cookie, see app/http/known-device.ts) is held only by its own counter, not by the
// account's or the address's. An account's counter also restarts when its password changes (the command-line
// reset), and a successful login clears the account's and the device's counters.

export type Scope = 'address' | 'account' | 'device';

export type Attempt = {
  address: string;
  /** The account tried (unknown names too, so that a hold does not tell which exist) and a stamp of its password. */
  account?: { name: string; stamp: string };
  /** The known-device id when the browser carried a valid mark for this account. */
  device?: string;
};

export type Verdict = { allowed: true } | { allowed: false; scope: Scope; retryAfterSeconds: number };
/** A failure that started (or lengthened) a block, for the audit log. */
export type Lockout = { scope: Scope; seconds: number; failures: number };

export type LimitPolicy = { free: number; baseMs: number; maxBlockMs: number };

export type LimiterOptions = {
  now: () => number;
  /** At most this many keys of each scope are remembered (the least recently seen go first). */
  capacity?: number;
  forgetMs?: number;
  address?: LimitPolicy;
  account?: LimitPolicy;
  device?: LimitPolicy;
};

type Entry = { failures: number; blockedUntil: number; lastFailure: number; stamp: string };

/** A Map kept in least-recently-used order: touching a key moves it to the end; past the cap the first goes. */
export class Lru<V> {
  readonly #map = new Map<string, V>();
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  get size(): number {
    return this.#map.size;
  }
  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value!);
  }
  delete(key: string): void {
    this.#map.delete(key);
  }
}

export const DEFAULT_POLICIES = {
  address: { free: 10, baseMs: 10_000, maxBlockMs: 15 * 60_000 },
  account: { free: 5, baseMs: 10_000, maxBlockMs: 15 * 60_000 },
  device: { free: 10, baseMs: 10_000, maxBlockMs: 15 * 60_000 },
} satisfies Record<Scope, LimitPolicy>;

/** How long `failures` failures in a row block a key: nothing for the first `free`, then base, 2 × base, 4 × base… */
export function blockMs(policy: LimitPolicy, failures: number): number {
  if (failures <= policy.free) return 0;
  return Math.min(policy.maxBlockMs, policy.baseMs * 2 ** Math.min(30, failures - policy.free - 1));
}

export class LoginLimiter {
  readonly #now: () => number;
  readonly #forgetMs: number;
  readonly #policy: Record<Scope, LimitPolicy>;
  readonly #entries: Record<Scope, Lru<Entry>>;

  constructor(opts: LimiterOptions) {
    this.#now = opts.now;
    const capacity = opts.capacity ?? 10_000;
    this.#forgetMs = opts.forgetMs ?? 60 * 60_000;
    this.#policy = { address: opts.address ?? DEFAULT_POLICIES.address, account: opts.account ?? DEFAULT_POLICIES.account, device: opts.device ?? DEFAULT_POLICIES.device };
    this.#entries = { address: new Lru(capacity), account: new Lru(capacity), device: new Lru(capacity) };
  }

  /** Keys remembered per scope (for tests and the bound on memory). */
  size(scope: Scope): number {
    return this.#entries[scope].size;
  }

  /** May this attempt go ahead? Checked before the password is (scrypt is the expensive part). */
  check(attempt: Attempt): Verdict {
    const now = this.#now();
    let verdict: Verdict = { allowed: true };
    for (const [scope, key, stamp] of this.#keys(attempt)) {
      const entry = this.#current(scope, key, stamp, now);
      if (!entry || entry.blockedUntil <= now) continue;
      const retryAfterSeconds = Math.ceil((entry.blockedUntil - now) / 1000);
      if (verdict.allowed || retryAfterSeconds > verdict.retryAfterSeconds) verdict = { allowed: false, scope, retryAfterSeconds };
    }
    return verdict;
  }

  /**
   * Checks an attempt and, when it may go ahead, counts it as a failure at once, before the password is checked:
   * a burst of parallel guesses must not all pass the check while the first ones are still hashing.
   * `succeeded` takes the count back for a right password. `lockout` is the block this attempt started, if it fails.
   */
  begin(attempt: Attempt): Verdict & { lockout?: Lockout } {
    const verdict = this.check(attempt);
    if (!verdict.allowed) return verdict;
    const lockout = this.#count(attempt);
    return lockout ? { allowed: true, lockout } : { allowed: true };
  }

  /** A right password: the account and the device start afresh; the address only gets back the one failure
   *  `begin` counted (one valid account must not let an address guess others' passwords for free). */
  succeeded(attempt: Attempt): void {
    if (attempt.account) this.#entries.account.delete(attempt.account.name);
    if (attempt.device) return this.#entries.device.delete(attempt.device);
    this.#takeBack('address', attempt.address);
  }

  /** An attempt that guessed nothing after all (its form was refused before any password was checked): every key
   *  gets back the one failure `begin` counted, and nothing more. */
  refund(attempt: Attempt): void {
    for (const [scope, key] of this.#keys(attempt)) this.#takeBack(scope, key);
  }

  #takeBack(scope: Scope, key: string): void {
    const entry = this.#entries[scope].get(key);
    if (!entry) return;
    entry.failures = Math.max(0, entry.failures - 1);
    const ms = blockMs(this.#policy[scope], entry.failures);
    entry.blockedUntil = ms > 0 ? entry.lastFailure + ms : 0;
  }

  #count(attempt: Attempt): Lockout | undefined {
    const now = this.#now();
    let worst: Lockout | undefined;
    for (const [scope, key, stamp] of this.#keys(attempt)) {
      const entry = this.#current(scope, key, stamp, now) ?? { failures: 0, blockedUntil: 0, lastFailure: now, stamp };
      entry.failures += 1;
      entry.lastFailure = now;
      const ms = blockMs(this.#policy[scope], entry.failures);
      if (ms > 0) {
        entry.blockedUntil = now + ms;
        if (!worst || Math.ceil(ms / 1000) > worst.seconds) worst = { scope, seconds: Math.ceil(ms / 1000), failures: entry.failures };
      }
      this.#entries[scope].set(key, entry);
    }
    return worst;
  }

  /** The counters an attempt is held by: its known device alone, or else its address and its account. */
  #keys(attempt: Attempt): [Scope, string, string][] {
    if (attempt.device) return [['device', attempt.device, '']];
    const keys: [Scope, string, string][] = [['address', attempt.address, '']];
    if (attempt.account) keys.push(['account', attempt.account.name, attempt.account.stamp]);
    return keys;
  }

  /** The entry, unless it has gone quiet long enough to forget or its account's password changed since. */
  #current(scope: Scope, key: string, stamp: string, now: number): Entry | undefined {
    const entry = this.#entries[scope].get(key);
    if (!entry) return undefined;
    if (entry.stamp !== stamp || (entry.blockedUntil <= now && now - entry.lastFailure >= this.#forgetMs)) {
      this.#entries[scope].delete(key);
      return undefined;
    }
    return entry;
  }
}
