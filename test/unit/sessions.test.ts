// Sessions kept in memory between page loads: this process's writes take effect at once, another process's within
// the recheck time, and the fixed end always holds. Real SQLite files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sessionService } from '../../app/services/sessions.ts';
import { createStore, type Store } from '../../app/store/index.ts';

const LIFETIME = 60 * 60_000;
let dir: string;
let store: Store;
let now: number;
let sessions: ReturnType<typeof sessionService>;
const client = { ip: '127.0.0.1', userAgent: 'test' };

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lores-sessions-'));
  store = createStore(dir);
  now = Date.parse('2026-11-27T12:00:00Z');
  sessions = sessionService(store, { lifetimeMs: LIFETIME, now: () => now });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const newUser = (username: string) => store.users.create({ username, role: 'steward', passwordHash: 'x' }, now);

describe('session lookups', () => {
  it('resolves a token to the same session until something changes', () => {
    const { token, session } = sessions.start(newUser('ada'), client);
    const first = sessions.resolve(token);
    expect(first).toEqual(session);
    expect(sessions.resolve(token)).toBe(first);
    expect(sessions.resolve('not-a-token')).toBeUndefined();
  });

  it('ends at once when this process logs it out, ends all of a user’s, or disables the user', () => {
    const ada = newUser('ada');
    const one = sessions.start(ada, client);
    const two = sessions.start(ada, client);
    const three = sessions.start(newUser('bob'), client);
    for (const s of [one, two, three]) expect(sessions.resolve(s.token)).toBeDefined();
    sessions.end(one.session.idHash);
    expect(sessions.resolve(one.token)).toBeUndefined();
    expect(sessions.resolve(two.token)).toBeDefined();
    sessions.endAllFor(ada.id);
    expect(sessions.resolve(two.token)).toBeUndefined();
    store.users.setDisabled(three.session.user.id, true, now);
    expect(sessions.resolve(three.token)).toBeUndefined();
  });

  it('ends at its fixed time even while kept', () => {
    const { token } = sessions.start(newUser('ada'), client);
    expect(sessions.resolve(token)).toBeDefined();
    now += LIFETIME - 1;
    expect(sessions.resolve(token)).toBeDefined();
    now += 1;
    expect(sessions.resolve(token)).toBeUndefined();
  });

  it('sees another process’s change (the CLI’s password reset) within a second', () => {
    const ada = newUser('ada');
    const { token } = sessions.start(ada, client);
    expect(sessions.resolve(token)).toBeDefined();
    const cli = createStore(dir); // a second connection, as the CLI opens
    try {
      cli.sessions.removeForUser(ada.id);
    } finally {
      cli.close();
    }
    now += 999;
    expect(sessions.resolve(token)).toBeDefined(); // still the copy this process read
    now += 1;
    expect(sessions.resolve(token)).toBeUndefined();
  });
});
