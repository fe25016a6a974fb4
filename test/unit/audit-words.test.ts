// The audit log read by a person: actions as sentences, details as a short line (the raw JSON stays on the page).
import { describe, expect, it } from 'vitest';
import { auditAction, auditDetail } from '../../app/http/audit-words.ts';

describe('the audit log in words', () => {
  it('names actions as what was done, to what', () => {
    expect(auditAction('job.deploy', 'kiwix.example.org')).toBe('Deployed kiwix.example.org');
    expect(auditAction('app.config', 'kiwix.example.org')).toBe('Changed settings of kiwix.example.org');
    expect(auditAction('user.password-reset', 'sam')).toBe('Reset the password of sam');
    expect(auditAction('login')).toBe('Logged in');
    expect(auditAction('job.something-new', 'x')).toBe('Ran “something-new” on x');
    expect(auditAction('brand.new-thing')).toBe('brand new thing');
  });

  it('says details in a short line instead of JSON', () => {
    expect(auditDetail(JSON.stringify({ changed: ['GREETING', '-CITY', '+compose.lan.yml'] }))).toBe('changed: GREETING, -CITY, +compose.lan.yml');
    expect(auditDetail(JSON.stringify({ changed: [] }))).toBe('nothing changed');
    expect(auditDetail(JSON.stringify({ from: 'a.org', to: 'b.org' }))).toBe('from a.org to b.org');
    expect(auditDetail(JSON.stringify({ fileName: 'x.zim', unregisteredFirst: true }))).toBe('file name: x.zim; unregistered first: yes');
    expect(auditDetail(JSON.stringify({ error: 'the server answered 503' }))).toBe('error: the server answered 503');
    expect(auditDetail('plain text')).toBe('plain text');
    expect(auditDetail(null)).toBe('');
    expect(auditDetail(JSON.stringify({ long: 'x'.repeat(500) })).length).toBe(160);
  });
});
