import { describe, expect, it } from 'vitest';
import { safeNextPath } from '../../app/http/forms.ts';
import { domainSchema, usernameSchema } from '../../app/validation.ts';

describe('domains', () => {
  it.each(['node.example.org', 'kiwix.lores.local', 'a-b.c1.example.coop', 'XN--80AK6AA92E.com'])('accepts %s', (d) => {
    expect(domainSchema.safeParse(d).success).toBe(true);
  });
  it.each(['', 'localhost', 'has space.org', '-lead.org', 'trail-.org', 'a..b', 'x.org\nEVIL=1', "x.org'", 'x.org"', '1.2.3.4', `${'a'.repeat(64)}.org`])(
    'rejects %j',
    (d) => expect(domainSchema.safeParse(d).success).toBe(false),
  );
});

describe('usernames', () => {
  it('lower-cases and accepts ordinary names', () => expect(usernameSchema.parse(' Sam.Lee ')).toBe('sam.lee'));
  it.each(['a', '1abc', '../x', 'a b', 'x'.repeat(33), 'ä'])('rejects %j', (u) => expect(usernameSchema.safeParse(u).success).toBe(false));
});

describe('after-login redirects', () => {
  it.each([
    ['/users', '/users'],
    ['/audit?before=5', '/audit?before=5'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['https://evil.example', '/'],
    ['javascript:alert(1)', '/'],
    [undefined, '/'],
  ])('%j → %s', (input, expected) => expect(safeNextPath(input)).toBe(expected));
});
