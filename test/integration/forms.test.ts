// Every form that takes typed input, refused (#21 "Forms keep what was typed", #16 "Errors beside the field"): the
// same page comes back with the refusal's status, what was typed kept (never a password), the note beside its field
// (aria-invalid, aria-describedby), not the "Please check your input … Back to the start" page; and nothing changed.
// Forms that need an app on the swarm are in forms-apps.test.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_SCHEDULE } from '../../app/services/backups/schedule.ts';
import { ADMIN_PASSWORD, addUser, csrfFrom, loggedIn, testNode, type TestNode } from '../support/app.ts';
import { noteBeside, shownValue } from '../support/forms.ts';

type Agent = ReturnType<typeof supertest.agent>;

/** A refused form: where it is posted, what is typed, and what must come back. */
type FormCase = {
  name: string;
  /** Who posts: the admin (default), or nobody logged in. */
  as?: 'admin' | 'anonymous';
  /** The page the form is on (its CSRF token is read from it). */
  page: string | (() => string);
  post: string | (() => string);
  form: Record<string, string>;
  status: number;
  /** Values the page must show again as typed ([field, value, formId?]). */
  kept: [string, string, string?][];
  /** Notes beside fields ([field, part of the note, formId?], `{sam}` in a formId: sam's id); a case without any has a note above the form. */
  beside: [string, RegExp, string?][];
  /** Fields typed as secrets: they come back empty. */
  secret?: string[];
  /** A note above the form (role=alert) when the refusal is about no one field. */
  above?: RegExp;
  /** What the form needs first (the node's backup schedule form shows once there is a repository). */
  prepare?: () => Promise<unknown>;
};

describe('forms refused: shown again as typed, each note beside its field, nothing changed', () => {
  let node: TestNode;
  let admin: { agent: Agent; csrf: string };
  let samId = 0;

  beforeAll(async () => {
    node = await testNode();
    await addUser(node, 'sam', 'steward');
    samId = node.services.people.list().find((u) => u.username === 'sam')!.id;
    admin = (await loggedIn(node)) as { agent: Agent; csrf: string };
  });
  afterAll(() => node?.close());

  /** All the state these forms could change, and every audit row that is not a refusal. */
  function state(): string {
    const s = node.services;
    const rows = s.store.audit.page({ limit: 1000 }).filter((r) => r.outcome !== 'denied');
    return JSON.stringify({
      users: s.people.list(),
      credentials: s.people.list().map((u) => s.store.users.credentials(u.username)?.passwordHash),
      settings: s.settings.current(),
      tokens: s.accessTokens.list(),
      schedule: s.backupSchedule.of(NODE_SCHEDULE),
      remote: s.configRemote.url() ?? null,
      repository: s.backupRepo.location() ?? null,
      peers: s.region.pairing.requests(),
      audit: rows.map((r) => r.id),
    });
  }

  const cases: FormCase[] = [
    {
      name: 'login: a wrong password keeps the username',
      as: 'anonymous',
      page: '/login',
      post: '/login',
      form: { username: 'sam', password: 'not the password' },
      status: 401,
      kept: [['username', 'sam']],
      beside: [],
      secret: ['password'],
      above: /Wrong username or password/,
    },
    {
      name: 'own password: the repetition differs',
      page: '/account',
      post: '/account/password',
      form: { current: ADMIN_PASSWORD, password: 'a new good password', confirm: 'another one entirely' },
      status: 400,
      kept: [],
      beside: [['confirm', /does not match the new password/]],
      secret: ['current', 'password', 'confirm'],
    },
    {
      name: 'own password: the current one is wrong',
      page: '/account',
      post: '/account/password',
      form: { current: 'not my password', password: 'a new good password', confirm: 'a new good password' },
      status: 400,
      kept: [],
      beside: [['current', /current password is not right/]],
      secret: ['current', 'password', 'confirm'],
    },
    {
      name: 'people: a duplicate username',
      page: '/users',
      post: '/users',
      form: { username: 'sam', role: 'guest', password: 'a good password 1' },
      status: 400,
      kept: [['username', 'sam', 'add'], ['role', 'guest', 'add']],
      beside: [['username', /username “sam” is taken/, 'add']],
      secret: ['password'],
    },
    {
      name: 'people: a password too short for a new person',
      page: '/users',
      post: '/users',
      form: { username: 'robin', role: 'admin', password: 'short' },
      status: 400,
      kept: [['username', 'robin', 'add'], ['role', 'admin', 'add']],
      beside: [['password', /at least 10 characters/, 'add']],
      secret: ['password'],
    },
    {
      name: 'people: a role that does not exist',
      page: '/users',
      post: () => `/users/${samId}/role`,
      form: { role: 'root' },
      status: 400,
      kept: [],
      beside: [['role', /must be admin, steward or guest/, 'role-{sam}']],
    },
    {
      name: 'people: a reset password too short',
      page: '/users',
      post: () => `/users/${samId}/password`,
      form: { password: 'short' },
      status: 400,
      kept: [],
      beside: [['password', /at least 10 characters/, 'password-{sam}']],
      secret: ['password'],
    },
    {
      name: 'access tokens: an empty name',
      page: '/users',
      post: '/tokens',
      form: { user: '1', label: '   ' },
      status: 400,
      kept: [['label', '   ', 'token']],
      beside: [['label', /token’s name/, 'token']],
    },
    {
      name: 'settings: the node domain is not a domain',
      page: '/settings',
      post: '/settings',
      form: { nodeDomain: 'not a domain!', downloadLimitKBps: '250', auditRetentionDays: '90' },
      status: 400,
      kept: [['nodeDomain', 'not a domain!', 'settings'], ['downloadLimitKBps', '250', 'settings'], ['auditRetentionDays', '90', 'settings']],
      beside: [['nodeDomain', /must be a domain name/, 'settings']],
    },
    {
      name: 'settings: a download limit that is not a number',
      page: '/settings',
      post: '/settings',
      form: { nodeDomain: 'good.example.org', downloadLimitKBps: 'fast', auditRetentionDays: '90' },
      status: 400,
      kept: [['nodeDomain', 'good.example.org', 'settings'], ['downloadLimitKBps', 'fast', 'settings']],
      beside: [['downloadLimitKBps', /download limit/, 'settings']],
    },
    {
      name: 'settings: an audit retention of zero days',
      page: '/settings',
      post: '/settings',
      form: { nodeDomain: 'good.example.org', downloadLimitKBps: '0', auditRetentionDays: '0' },
      status: 400,
      kept: [['auditRetentionDays', '0', 'settings']],
      beside: [['auditRetentionDays', /audit log retention/, 'settings']],
    },
    {
      name: 'config repository remote: a URL git cannot use',
      page: '/settings/config-repo',
      post: '/settings/config-repo',
      form: { url: 'ftp://git.example.org/servers.git', deploy_key: '' },
      status: 400,
      kept: [['url', 'ftp://git.example.org/servers.git']],
      beside: [['url', /ssh:\/\//]],
    },
    {
      name: 'backup repository: a password too short for an existing repository',
      page: '/settings',
      post: '/settings/backups',
      form: { repository: '/srv/backups/lores-forms-test', password: 'short' },
      status: 400,
      kept: [['repository', '/srv/backups/lores-forms-test', 'backup']],
      beside: [['password', /at least 12 characters/, 'backup']],
      secret: ['password'],
    },
    {
      name: 'backup schedule (the node): a retention that is not a number',
      page: '/node/backups',
      post: '/node/backups/schedule',
      form: { hour: '4', keepDaily: 'lots', keepWeekly: '4', keepMonthly: '6' },
      prepare: () => node.services.backupRepo.setUp({ repository: mkdtempSync(path.join(tmpdir(), 'lores-forms-restic-')) }, 'admin'),
      status: 400,
      kept: [['hour', '4'], ['keepDaily', 'lots'], ['keepWeekly', '4']],
      beside: [['keepDaily', /Daily snapshots to keep/]],
    },
    {
      name: 'region: a pairing link that is not one',
      page: '/region',
      post: '/region/pair-link',
      form: { link: 'http://10.0.0.9:3000/not-a-link' },
      status: 400,
      kept: [['link', 'http://10.0.0.9:3000/not-a-link', 'link']],
      beside: [['link', /./, 'link']],
    },
  ];

  it.each(cases)('$name', async (c) => {
    await c.prepare?.();
    const agent = c.as === 'anonymous' ? supertest.agent(node.app) : admin.agent;
    const page = await agent.get(typeof c.page === 'string' ? c.page : c.page()).expect(200);
    const before = state();
    const res = await agent.post(typeof c.post === 'string' ? c.post : c.post()).type('form').send({ _csrf: csrfFrom(page.text), ...c.form });

    expect(res.status, res.text.slice(0, 2000)).toBe(c.status);
    expect(res.text).not.toContain('Back to the start');
    expect(res.text).toMatch(/role="alert"/);
    const row = (formId?: string) => formId?.replace('{sam}', String(samId)); // per-row forms are named by the person's id
    for (const [field, value, formId] of c.kept) expect(shownValue(res.text, field, row(formId)), `${field} kept`).toBe(value);
    for (const [field, note, formId] of c.beside) expect(noteBeside(res.text, field, row(formId)), `note beside ${field}`).toMatch(note);
    for (const field of c.secret ?? []) expect(shownValue(res.text, field), `${field} never sent back`).toBeUndefined();
    if (c.above) expect(/class="alert error" role="alert">([^<]*)</.exec(res.text)?.[1]).toMatch(c.above);
    // The refused form can be sent again from the page that came back.
    expect(csrfFrom(res.text)).toBeTruthy();
    expect(state()).toBe(before);
  });

  it('setup: passwords that differ keep the token, never the passwords; a wrong token is said beside it', async () => {
    const fresh = await testNode();
    try {
      fresh.services.store.users.remove(fresh.services.people.list()[0]!.id);
      const { setupToken } = await fresh.services.people.bootstrap(undefined);
      const agent = supertest.agent(fresh.app);
      const csrf = csrfFrom((await agent.get('/setup').expect(200)).text);
      const mismatch = await agent.post('/setup').type('form').send({ _csrf: csrf, token: setupToken, password: 'a good password', confirm: 'another' });
      expect(mismatch.status).toBe(400);
      expect(mismatch.text).toContain('<h1>Set up this node</h1>');
      expect(shownValue(mismatch.text, 'token')).toBe(setupToken);
      expect(shownValue(mismatch.text, 'password')).toBeUndefined();
      expect(shownValue(mismatch.text, 'confirm')).toBeUndefined();
      expect(noteBeside(mismatch.text, 'confirm')).toMatch(/does not match the password/);
      const wrong = await agent.post('/setup').type('form').send({ _csrf: csrf, token: 'guess', password: 'a good password', confirm: 'a good password' });
      expect(wrong.status).toBe(403);
      expect(shownValue(wrong.text, 'token')).toBe('guess');
      expect(noteBeside(wrong.text, 'token')).toMatch(/setup token is wrong/);
      expect(fresh.services.people.needsSetup()).toBe(true);
    } finally {
      fresh.close();
    }
  });

  it('a domain typed as a URL is cleaned up, not refused: https://Kiwix.Library.test/ is kiwix.library.test', async () => {
    const csrf = csrfFrom((await admin.agent.get('/settings').expect(200)).text);
    await admin.agent.post('/settings').type('form').send({ _csrf: csrf, nodeDomain: 'https://Kiwix.Library.test/', downloadLimitKBps: '0', auditRetentionDays: '365' }).expect(303);
    expect(node.services.settings.current().nodeDomain).toBe('kiwix.library.test');
  });
});
