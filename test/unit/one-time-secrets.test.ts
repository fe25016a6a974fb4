// Generated secrets are shown once, to the person who ran the install, within 30 minutes; never to anyone else.
import { describe, expect, it } from 'vitest';
import { oneTimeSecrets } from '../../app/services/one-time-secrets.ts';

describe('one-time secrets', () => {
  it('gives the values once, to their owner only, and keeps only names and values', () => {
    let now = 1_000;
    const secrets = oneTimeSecrets({ now: () => now });
    secrets.keep(7, 'sam', [{ name: 'db_password', value: 'v1', ...{ 'generated name': 'x_db_password_v1' } }]);
    expect(secrets.has(7)).toBe(true);
    expect(secrets.take(7, 'gil')).toBeUndefined();
    expect(secrets.has(7)).toBe(true);
    now += 60_000;
    expect(secrets.take(7, 'sam')).toEqual([{ name: 'db_password', value: 'v1' }]);
    expect(secrets.take(7, 'sam')).toBeUndefined();
    expect(secrets.has(7)).toBe(false);
  });

  it('forgets values nobody opened in time', () => {
    let now = 0;
    const secrets = oneTimeSecrets({ now: () => now });
    secrets.keep(1, 'sam', [{ name: 'a', value: 'b' }]);
    now = 30 * 60_000 + 1;
    expect(secrets.take(1, 'sam')).toBeUndefined();
    expect(oneTimeSecrets({ now: () => 0 }).take(99, 'sam')).toBeUndefined();
  });
});
