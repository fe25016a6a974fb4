// The pieces of a refused form: which field each zod issue belongs to, what is sent back to the browser (never a
// secret), and a domain pasted as a URL.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keptValues } from '../../app/http/forms.ts';
import { FieldErrors, UserFacingError, asFieldError, fieldError } from '../../app/errors.ts';
import { cleanDomainInput, domainSchema, parseOrRefuse, passwordSchema } from '../../app/validation.ts';

describe('form refusals', () => {
  it('names the fields of an object schema, each note starting with its label; a bare value stays a plain refusal', () => {
    const schema = z.object({ username: z.string().min(2, 'is too short'), password: passwordSchema, langs: z.array(z.string().regex(/^[a-z]{3}$/, 'must be codes')) });
    const err = (() => {
      try {
        parseOrRefuse(schema, { username: 'a', password: 'short', langs: ['eng', 'English'] }, { username: 'Username', password: 'Password', langs: 'Languages' });
      } catch (e) {
        return e;
      }
    })() as FieldErrors;
    expect(err).toBeInstanceOf(FieldErrors);
    expect(err.status).toBe(400);
    expect(err.fields).toEqual({ username: 'Username is too short', password: 'Password must be at least 10 characters', langs: 'Languages must be codes' });
    expect(err.message).toBe('Username is too short; Password must be at least 10 characters; Languages must be codes');
    let bare: unknown;
    try {
      parseOrRefuse(domainSchema, 'not a domain', { value: 'The domain' });
    } catch (e) {
      bare = e;
    }
    expect(bare).toBeInstanceOf(UserFacingError);
    expect(bare).not.toBeInstanceOf(FieldErrors);
  });

  it('turns a plain refusal into one about a field, keeping its status and words; leaves others alone', () => {
    const taken = asFieldError(new UserFacingError('The username “sam” is taken.', 409), 'username') as FieldErrors;
    expect(taken).toBeInstanceOf(FieldErrors);
    expect(taken.fields).toEqual({ username: 'The username “sam” is taken.' });
    expect(taken.status).toBe(409);
    const already = fieldError('confirm', 'Type it exactly.');
    expect(asFieldError(already, 'other')).toBe(already);
    const crash = new Error('disk on fire');
    expect(asFieldError(crash, 'x')).toBe(crash);
  });

  it('sends back what was typed, never passwords, keys, tokens or the CSRF token', () => {
    const body = { username: 'sam', password: 'hunter22hunter', confirm: 'hunter22hunter', current: 'old one', _csrf: 'tok', deploy_key: '-----BEGIN', s3Secret: 's', s3KeyId: 'k', 'env.CITY': 'Bern', keepDaily: '7', tags: ['a', 'b'] };
    expect(keptValues(body, ['confirm'])).toEqual({ username: 'sam', 'env.CITY': 'Bern', keepDaily: '7' });
  });

  it('takes a domain pasted as a URL as the domain: no scheme, no trailing slash, lower case', () => {
    expect(cleanDomainInput('  https://Kiwix.Library.test/ ')).toBe('kiwix.library.test');
    expect(cleanDomainInput('http://node.example.org//')).toBe('node.example.org');
    expect(domainSchema.parse('HTTPS://Wiki.Example.Org/')).toBe('wiki.example.org');
    expect(domainSchema.safeParse('https://kiwix.library.test/path').success).toBe(false);
    expect(domainSchema.safeParse('kiwix library').success).toBe(false);
  });
});
