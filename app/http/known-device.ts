// The "known device" mark: a browser that has logged in as an account before carries a value signed for that
// account, so the login limiter holds it by its own counter and strangers' guesses cannot lock it out.
// The signing key is derived from the account's password hash: nothing more to store, and a password change
// (an admin's reset, the command line's) forgets every device of that account.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const KNOWN_DEVICE_MS = 90 * 24 * 3600_000;

const keyFor = (passwordHash: string) => createHash('sha256').update(`lores-known-device\0${passwordHash}`).digest();
const mac = (passwordHash: string, payload: string) => createHmac('sha256', keyFor(passwordHash)).update(payload).digest('base64url');

/** A new mark for user `userId`: `<user id>.<issued, ms>.<nonce>.<hmac>`. */
export function issueKnownDevice(userId: number, passwordHash: string, now: number): string {
  const payload = `${userId}.${now}.${randomBytes(12).toString('base64url')}`;
  return `${payload}.${mac(passwordHash, payload)}`;
}

/** The device's id (user id and nonce) when `value` is a mark this account issued and it has not expired. */
export function verifyKnownDevice(value: string, user: { id: number; passwordHash: string }, now: number): string | undefined {
  const parts = value.split('.');
  if (parts.length !== 4) return undefined;
  const [id, issued, nonce, given] = parts as [string, string, string, string];
  if (id !== String(user.id) || !/^\d{1,15}$/.test(issued) || now - Number(issued) > KNOWN_DEVICE_MS) return undefined;
  const expected = Buffer.from(mac(user.passwordHash, `${id}.${issued}.${nonce}`));
  const actual = Buffer.from(given);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  return `${id}.${nonce}`;
}

/** Changes whenever the account's password does: the limiter starts the account afresh after a reset. */
export const passwordStamp = (passwordHash: string) => createHash('sha256').update(passwordHash).digest('base64url').slice(0, 16);
