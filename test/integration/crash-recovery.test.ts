// Kill -9 the real node while idle, start it again on the same data directory: sessions, settings and the audit log survive.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startNode, type NodeProcess } from '../support/server.ts';
import { cookieFrom, csrfFrom } from '../support/http-login.ts';

const PASSWORD = 'crash test password';
const DB_FILE = 'lores-node.sqlite';

/** The action of each row of the audit page, top (newest) first: its "What" cell says it in words, its raw name in data-action. */
function auditActions(html: string): string[] {
  const actions: string[] = [];
  for (const row of html.matchAll(/<tr class="outcome-[a-z]+">([\s\S]*?)<\/tr>/g)) {
    const action = /<td class="audit-what" data-action="([^"]+)">/.exec(row[1] ?? '')?.[1];
    if (action !== undefined) actions.push(action);
  }
  return actions;
}

describe('crash recovery', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'lores-crash-'));
  const dataDir = path.join(tmp, 'data');
  const passwordFile = path.join(tmp, 'admin-password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const nodes: NodeProcess[] = [];

  afterAll(async () => {
    for (const node of nodes) await node.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps sessions, settings and the audit log across a SIGKILL and restart', async () => {
    const first = await startNode({ dataDir, adminPasswordFile: passwordFile });
    nodes.push(first);
    expect(first.setupToken()).toBeUndefined();
    expect(first.output()).toContain('created the first admin');

    // Log in as a browser would: the pre-login CSRF cookie and the form's hidden token.
    const loginPage = await fetch(`${first.url}/login`, { redirect: 'manual' });
    expect(loginPage.status).toBe(200);
    const preloginCookie = cookieFrom(loginPage, 'lores_csrf');
    expect(preloginCookie).toBeTruthy();
    const loginCsrf = csrfFrom(await loginPage.text());

    const login = await fetch(`${first.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `lores_csrf=${preloginCookie}` },
      body: new URLSearchParams({ _csrf: loginCsrf, username: 'admin', password: PASSWORD, next: '/' }),
    });
    expect(login.status).toBe(303);
    const session = cookieFrom(login, 'lores_session');
    expect(session).toBeTruthy();
    const cookie = `lores_session=${session}`;

    // A state change that writes a setting and an audit row, with the session's CSRF token.
    const settingsPage = await fetch(`${first.url}/settings`, { headers: { cookie }, redirect: 'manual' });
    expect(settingsPage.status).toBe(200);
    const csrf = csrfFrom(await settingsPage.text());
    const save = await fetch(`${first.url}/settings`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ _csrf: csrf, nodeDomain: 'node.example.org' }),
    });
    expect(save.status).toBe(303);
    expect(save.headers.get('location')).toBe('/settings?saved=1');
    await save.arrayBuffer();

    // Crash while idle: no shutdown handler runs, the WAL is not checkpointed.
    await first.kill('SIGKILL');
    expect(existsSync(path.join(dataDir, DB_FILE))).toBe(true);
    expect(existsSync(path.join(dataDir, `${DB_FILE}-wal`))).toBe(true);

    const second = await startNode({ dataDir, adminPasswordFile: passwordFile });
    nodes.push(second);
    expect(second.port).toBeGreaterThan(0);
    expect(second.output()).not.toContain('created the first admin');

    // The old session cookie still works.
    const account = await fetch(`${second.url}/account`, { headers: { cookie }, redirect: 'manual' });
    expect(account.status).toBe(200);
    const accountHtml = await account.text();
    expect(accountHtml).toMatch(/<dt>Username<\/dt><dd>admin<\/dd>/);
    expect(accountHtml).toMatch(/<dt>Role<\/dt><dd>admin<\/dd>/);

    // The setting survived.
    const settingsAfter = await fetch(`${second.url}/settings`, { headers: { cookie }, redirect: 'manual' });
    expect(settingsAfter.status).toBe(200);
    expect(await settingsAfter.text()).toContain('value="node.example.org"');

    // The audit log has the rows written before the crash.
    const audit = await fetch(`${second.url}/audit`, { headers: { cookie }, redirect: 'manual' });
    expect(audit.status).toBe(200);
    const auditHtml = await audit.text();
    const actions = auditActions(auditHtml);
    expect(actions).toContain('login');
    expect(actions).toContain('settings.node-domain');
    expect(actions.indexOf('settings.node-domain')).toBeLessThan(actions.indexOf('login')); // newest first
    expect(auditHtml).toContain('node.example.org');

    await second.stop();

    // WAL is a property of the database file, so it is still set after a clean close.
    const db = new Database(path.join(dataDir, DB_FILE), { fileMustExist: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });
});
