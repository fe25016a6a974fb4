// Access tokens on the People page: an admin makes one (shown once, stored hashed) and revokes it; git clones with it.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, csrfFrom, loggedIn, testNode, type TestNode } from '../support/app.ts';

describe('access tokens for the config repository', () => {
  let node: TestNode;
  let server: Server;
  let base: string;
  let work: string;
  const git = (args: string[]) => execa('git', args, { cwd: work, env: { HOME: work, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' }, reject: false });
  const url = (user: string, token: string) => `${base.replace('://', `://${user}:${token}@`)}/git/servers.git`;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-tokens-'));
    node = await testNode({ ABRA_DIR: path.join(work, 'abra'), NODE_DOMAIN: 'node.lores.test' });
    await node.services.configRepo.init();
    server = createServer(node.app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await addUser(node, 'sam', 'steward');
  });

  afterAll(() => {
    server?.close();
    node?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('lets an admin make a token on the People page, shows it once, keeps only its hash, and git clones with it', async () => {
    const { agent, csrf } = await loggedIn(node);
    const sam = node.services.people.list().find((p) => p.username === 'sam')!;
    const made = await agent.post('/tokens').type('form').send({ _csrf: csrf, user: String(sam.id), label: 'sam’s laptop' }).expect(201);
    const token = /id="new-token" readonly value="(lores_[A-Za-z0-9_-]+)"/.exec(made.text)?.[1];
    expect(token).toBeTruthy();
    const people = await agent.get('/users').expect(200);
    expect(people.text).toContain('sam’s laptop');
    expect(people.text).not.toContain(token);
    // The database files (with the WAL) never hold the token; the store finds it by its hash.
    const dbFiles = readdirSync(node.dataDir).filter((f) => statSync(path.join(node.dataDir, f)).isFile());
    expect(dbFiles.length).toBeGreaterThan(0);
    for (const f of dbFiles) expect(readFileSync(path.join(node.dataDir, f)).includes(Buffer.from(token!)), f).toBe(false);
    expect(node.services.store.accessTokens.byHash(createHash('sha256').update(token!).digest('hex'))?.label).toBe('sam’s laptop');

    expect((await git(['clone', '-q', url('sam', token!), 'copy'])).exitCode).toBe(0);
    expect(readFileSync(path.join(work, 'copy', 'lores.toml'), 'utf8')).toContain('domain = "node.lores.test"');

    const row = node.services.accessTokens.list().find((t) => t.label === 'sam’s laptop')!;
    await agent.post(`/tokens/${row.id}/revoke`).type('form').send({ _csrf: csrf }).expect(303);
    const refused = await git(['ls-remote', url('sam', token!)]);
    expect(refused.exitCode).not.toBe(0);
    const audit = node.services.store.audit.page({ limit: 50 }).map((e) => `${e.action} ${e.outcome}`);
    expect(audit).toEqual(expect.arrayContaining(['access-token.create ok', 'access-token.revoke ok', 'config-repo.pull ok', 'config-repo.auth denied']));
  });

  it('keeps lores.toml in step with the Settings page (page → repository), committed by the admin who changed it', async () => {
    const { agent, csrf } = await loggedIn(node);
    await agent.post('/settings').type('form').send({ _csrf: csrf, nodeDomain: 'library.lores.test' }).expect(303);
    const gitDir = node.services.configRepo.gitDir;
    expect((await execa('git', ['--git-dir', gitDir, 'show', 'main:lores.toml'])).stdout).toContain('domain = "library.lores.test"');
    expect((await execa('git', ['--git-dir', gitDir, 'log', '-1', '--format=%an <%ae>|%s', 'main'])).stdout).toBe('admin <admin@library.lores.test>|Set the node’s domain to library.lores.test');
  });

  it('lets only admins make or revoke tokens', async () => {
    const { agent } = await loggedIn(node, 'sam', 'steward password 1');
    const page = await agent.get('/account').expect(200);
    const res = await agent.post('/tokens').type('form').send({ _csrf: csrfFrom(page.text), user: '1', label: 'mine' });
    expect(res.status).toBe(403);
    expect(node.services.accessTokens.list().some((t) => t.label === 'mine')).toBe(false);
  });
});
