// The login limiter: per address and per account, exponential back-off, known devices, bounded memory.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES, LoginLimiter, Lru, blockMs, type Attempt } from '../../app/services/login-limiter.ts';
import { issueKnownDevice, passwordStamp, verifyKnownDevice, KNOWN_DEVICE_MS } from '../../app/http/known-device.ts';

function clock() {
  const c = { t: 1_000_000, now: () => c.t, advance: (ms: number) => (c.t += ms) };
  return c;
}

const admin = (address: string, extra: Partial<Attempt> = {}): Attempt => ({ address, account: { name: 'admin', stamp: 's1' }, ...extra });

/** A wrong password: begin (which counts it) and no `succeeded`. Returns the verdict. */
const fail = (l: LoginLimiter, a: Attempt) => l.begin(a);

describe('login limiter', () => {
  it('holds an account, from any address, with a back-off that doubles each time', () => {
    const c = clock();
    const limiter = new LoginLimiter({ now: c.now });
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      const address = `203.0.113.${i}`; // a new address each time: only the account can hold it
      const verdict = limiter.check(admin(address));
      if (!verdict.allowed) {
        expect(verdict.scope).toBe('account');
        waits.push(verdict.retryAfterSeconds);
        c.advance(verdict.retryAfterSeconds * 1000);
      }
      expect(fail(limiter, admin(address)).allowed).toBe(true);
    }
    // 5 free failures, then 10 s, 20 s, 40 s … up to 15 minutes
    expect(waits).toEqual([10, 20, 40, 80, 160, 320]);
    expect(blockMs(DEFAULT_POLICIES.account, 30)).toBe(15 * 60_000);
  });

  it('holds an address over every account it tries, unknown names included', () => {
    const c = clock();
    const limiter = new LoginLimiter({ now: c.now });
    for (let i = 0; i < 11; i++) expect(fail(limiter, { address: '198.51.100.7', account: i % 2 ? { name: `user${i}`, stamp: 'x' } : undefined }).allowed).toBe(true);
    const verdict = limiter.check({ address: '198.51.100.7' });
    expect(verdict).toEqual({ allowed: false, scope: 'address', retryAfterSeconds: 10 });
    expect(limiter.check({ address: '198.51.100.8' }).allowed).toBe(true);
  });

  it('does not hold a known device by the account or the address others have used up', () => {
    const c = clock();
    const limiter = new LoginLimiter({ now: c.now });
    for (let i = 0; i < 20; i++) fail(limiter, admin('192.0.2.1'));
    expect(limiter.check(admin('192.0.2.1')).allowed).toBe(false);
    const fromKnownBrowser = admin('192.0.2.1', { device: '1.nonce' });
    expect(limiter.begin(fromKnownBrowser).allowed).toBe(true);
    limiter.succeeded(fromKnownBrowser);
    // …but a known device that guesses is held by its own counter
    for (let i = 0; i < 11; i++) fail(limiter, fromKnownBrowser);
    expect(limiter.check(fromKnownBrowser)).toMatchObject({ allowed: false, scope: 'device' });
  });

  it('counts an attempt before the password is checked, so a burst of parallel guesses is held too', () => {
    const limiter = new LoginLimiter({ now: clock().now });
    const verdicts = Array.from({ length: 20 }, () => limiter.begin(admin('192.0.2.2')).allowed);
    expect(verdicts.filter(Boolean)).toHaveLength(6);
  });

  it('a refund takes back only the one count of an attempt that guessed nothing: it never clears the wrong ones', () => {
    const limiter = new LoginLimiter({ now: clock().now });
    for (let i = 0; i < 5; i++) fail(limiter, admin('192.0.2.4'));
    // Malformed forms in between (each begun, then refunded) neither count nor wipe the five wrong guesses.
    for (let i = 0; i < 10; i++) {
      expect(limiter.begin(admin('192.0.2.4')).allowed).toBe(true);
      limiter.refund(admin('192.0.2.4'));
    }
    expect(limiter.check(admin('192.0.2.4')).allowed).toBe(true);
    fail(limiter, admin('192.0.2.4')); // the sixth wrong guess: held
    expect(limiter.check(admin('192.0.2.5'))).toMatchObject({ allowed: false, scope: 'account', retryAfterSeconds: 10 });
    // A known device's counter is given back the same way.
    const device = admin('192.0.2.4', { device: '2.nonce' });
    for (let i = 0; i < 10; i++) fail(limiter, device);
    limiter.begin(device);
    limiter.refund(device);
    expect(limiter.check(device).allowed).toBe(true);
    fail(limiter, device);
    expect(limiter.check(device)).toMatchObject({ allowed: false, scope: 'device' });
  });

  it('a right password gives back its count: the account starts afresh, the address keeps the wrong ones', () => {
    const limiter = new LoginLimiter({ now: clock().now });
    for (let i = 0; i < 4; i++) fail(limiter, admin('192.0.2.3'));
    const right = admin('192.0.2.3');
    expect(limiter.begin(right).allowed).toBe(true);
    limiter.succeeded(right);
    for (let i = 0; i < 5; i++) fail(limiter, admin('192.0.2.3'));
    expect(limiter.check(admin('192.0.2.3')).allowed).toBe(true); // 5 account failures: still free
    for (let i = 0; i < 2; i++) fail(limiter, { address: '192.0.2.3' });
    expect(limiter.check({ address: '192.0.2.3' })).toMatchObject({ allowed: false, scope: 'address' }); // 4 + 5 + 2 = 11
  });

  it('starts an account afresh when its password changes (the command-line reset)', () => {
    const limiter = new LoginLimiter({ now: clock().now });
    for (let i = 0; i < 8; i++) fail(limiter, admin(`198.51.100.${i}`));
    expect(limiter.check(admin('198.51.100.99')).allowed).toBe(false);
    expect(limiter.check({ address: '198.51.100.99', account: { name: 'admin', stamp: 's2' } }).allowed).toBe(true);
  });

  it('reports the lockout a failure starts, for the audit log', () => {
    const limiter = new LoginLimiter({ now: clock().now });
    const verdicts = Array.from({ length: 6 }, () => limiter.begin(admin('192.0.2.4')));
    expect(verdicts.slice(0, 5).every((v) => v.allowed && !v.lockout)).toBe(true);
    expect(verdicts[5]).toEqual({ allowed: true, lockout: { scope: 'account', seconds: 10, failures: 6 } });
  });

  it('forgets a quiet key after an hour', () => {
    const c = clock();
    const limiter = new LoginLimiter({ now: c.now });
    for (let i = 0; i < 7; i++) fail(limiter, admin('192.0.2.5'));
    c.advance(61 * 60_000);
    expect(limiter.check(admin('192.0.2.5')).allowed).toBe(true);
    expect(fail(limiter, admin('192.0.2.5'))).toEqual({ allowed: true }); // counted from 0 again
  });

  it('keeps its memory bounded: 100,000 addresses leave it at its cap, each insert O(1)', () => {
    const cap = 10_000;
    const limiter = new LoginLimiter({ now: clock().now, capacity: cap });
    const batches: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const t0 = performance.now();
      for (let i = 0; i < 10_000; i++) {
        const n = batch * 10_000 + i;
        limiter.begin({ address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` });
      }
      batches.push(performance.now() - t0);
      expect(limiter.size('address')).toBe(Math.min(cap, (batch + 1) * 10_000));
    }
    expect(limiter.size('address')).toBe(cap);
    console.log(`login limiter: µs per attempt for each 10k of 100k new addresses (cap ${cap}): ${batches.map((ms) => ((ms * 1000) / 10_000).toFixed(2)).join(', ')}`);
  }, 30_000); // 100k inserts: seconds on a loaded 2-core machine

  it('Lru drops the least recently used key first', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c'), lru.size]).toEqual([1, undefined, 3, 2]);
  });
});

describe('known device mark', () => {
  const user = { id: 7, passwordHash: 'scrypt$a$b' };
  it('is valid for the account it was issued for, until it expires or the password changes', () => {
    const now = 5_000_000;
    const mark = issueKnownDevice(7, user.passwordHash, now);
    expect(verifyKnownDevice(mark, user, now + 1000)).toMatch(/^7\./);
    expect(verifyKnownDevice(mark, { id: 8, passwordHash: user.passwordHash }, now)).toBeUndefined();
    expect(verifyKnownDevice(mark, { id: 7, passwordHash: 'scrypt$new$hash' }, now)).toBeUndefined();
    expect(verifyKnownDevice(mark, user, now + KNOWN_DEVICE_MS + 1)).toBeUndefined();
    const [id, issued, nonce] = mark.split('.');
    expect(verifyKnownDevice(`${id}.${issued}.${nonce}.${'A'.repeat(43)}`, user, now)).toBeUndefined();
    expect(verifyKnownDevice('garbage', user, now)).toBeUndefined();
    expect(passwordStamp('a')).not.toBe(passwordStamp('b'));
  });
});
