// Through the routes: refused requests with absurd path parameters leave short, clean audit rows; the audit log's
// retention is an admin setting, applied at start, when it changes, and daily.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_TARGET_MAX } from '../../app/services/audit.ts';
import { createStore } from '../../app/store/index.ts';
import { addUser, loggedIn, testNode, type TestNode } from '../support/app.ts';

const DAY = 24 * 60 * 60 * 1000;

describe('audit rows stay bounded', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await testNode();
    await addUser(node, 'sam', 'steward');
  });
  afterAll(() => node?.close());

  it('records a 5,000-character or control-character path parameter as a short clean sample', async () => {
    const { agent, csrf } = await loggedIn(node, 'sam', 'steward password 1');
    const long = 'a'.repeat(5000);
    const raw = 'x\r\nFAKE ROW\u001b[2J\u0000';
    const forged = encodeURIComponent(raw);
    for (const url of [`/apps/${long}/deploy`, `/apps/${forged}/deploy`, `/apps/${long}/stop`, `/install/${long}`]) {
      const res = await agent.post(url).type('form').send({ _csrf: csrf });
      expect(res.status, url.slice(0, 40)).toBe(400);
    }
    const rows = node.services.store.audit.page({ limit: 10, action: 'job.' });
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.outcome).toBe('denied');
      expect(row.target!.length).toBeLessThanOrEqual(AUDIT_TARGET_MAX);
      expect(row.target).toMatch(/^\(invalid, \d+ chars\) /);
      expect(row.target).not.toMatch(/\p{Cc}/u);
    }
    expect(rows.map((r) => r.target)).toContain(`(invalid, ${raw.length} chars) x  FAKE ROW[2J`);
  });
});

describe('audit log retention', () => {
  let dataDir: string;
  let node: TestNode;
  const now = Date.now();
  beforeAll(async () => {
    // A node whose audit log already holds rows from two years, one year and a day ago.
    dataDir = mkdtempSync(path.join(tmpdir(), 'lores-audit-'));
    const store = createStore(dataDir);
    for (const ageDays of [730, 366, 1]) store.audit.append({ actor: 'old', ip: null, action: 'login', outcome: 'ok' }, now - ageDays * DAY);
    store.close();
    node = await testNode({ DATA_DIR: dataDir }, { full: true });
  });
  afterAll(() => {
    node?.services.auditRetention.stop();
    node?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const logins = () => node.services.store.audit.page({ limit: 100, action: 'login' }).filter((r) => r.actor === 'old');

  it('prunes past the default 365 days when the node starts, and audits it', () => {
    expect(logins()).toHaveLength(1);
    const prune = node.services.store.audit.page({ limit: 10, action: 'audit.prune' });
    expect(prune).toHaveLength(1);
    expect(JSON.parse(prune[0]!.detail!)).toMatchObject({ removed: 2, days: 365 });
  });

  it('lets an admin change the retention on the Settings page; a bad value changes nothing; a shorter one applies at once', async () => {
    const { agent, csrf } = await loggedIn(node);
    const page = await agent.get('/settings').expect(200);
    expect(page.text).toContain('name="auditRetentionDays" value="365"');
    const nodeDomain = node.services.settings.current().nodeDomain || 'node.example.org';
    for (const bad of ['0', '-5', 'ten', '1.5', '99999999']) {
      const res = await agent.post('/settings').type('form').send({ _csrf: csrf, nodeDomain, auditRetentionDays: bad });
      expect(res.status, bad).toBe(400);
    }
    expect(node.services.settings.current().auditRetentionDays).toBe(365);
    expect(logins()).toHaveLength(1);
    // The clock the node reads moves on two days (a new login: sessions last hours): the day-old row is now past a
    // one-day retention.
    node.clock.advance(2 * DAY);
    const again = await loggedIn(node);
    await again.agent.post('/settings').type('form').send({ _csrf: again.csrf, nodeDomain, auditRetentionDays: '1' }).expect(303);
    expect(node.services.settings.current().auditRetentionDays).toBe(1);
    expect(logins()).toHaveLength(0);
    const change = node.services.store.audit.page({ limit: 10, action: 'settings.audit-retention' });
    expect(change.map((r) => [r.actor, JSON.parse(r.detail!)])).toEqual([['admin', { from: 365, to: 1 }]]);
    expect((await again.agent.get('/settings').expect(200)).text).toContain('name="auditRetentionDays" value="1"');
  });
});
