// The config repository's optional remote: the node pushes its history to an empty remote, takes the remote's new
// commits only after the same checks as a push, and reports diverged histories. The remote is a bare repository on
// this machine (an absolute path: the same git transport code as ssh, without an ssh server).
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn, testNode, type TestNode } from '../support/app.ts';

describe('config repository remote', () => {
  let node: TestNode;
  let work: string;
  let remote: string;
  const env = () => ({ HOME: work, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'ops', GIT_AUTHOR_EMAIL: 'ops@forge.example', GIT_COMMITTER_NAME: 'ops', GIT_COMMITTER_EMAIL: 'ops@forge.example' });
  const git = (cwd: string, args: string[]) => execa('git', args, { cwd, env: env(), reject: false });
  const serverDir = () => path.join(work, 'abra', 'servers', 'default');

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-remote-'));
    mkdirSync(serverDir(), { recursive: true });
    writeFileSync(path.join(serverDir(), 'a.lores.test.env'), 'TYPE=lores-test-app:1.0.0+1.0\nDOMAIN=a.lores.test\n');
    node = await testNode({ ABRA_DIR: path.join(work, 'abra'), NODE_DOMAIN: 'lores.test' });
    await node.services.configRepo.init();
    remote = path.join(work, 'remote.git');
    await git(work, ['init', '-q', '--bare', '-b', 'main', remote]);
  });

  afterAll(() => {
    node?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('is set by an admin, pushes the node’s history to an empty remote, and takes checked changes from it', async () => {
    const { agent, csrf } = await loggedIn(node);
    for (const url of ['not a url; rm -rf /', 'https://169.254.169.254/latest/meta-data/', 'ext::sh -c touch% /tmp/pwned', '--upload-pack=touch /tmp/pwned']) {
      await agent.post('/settings/config-repo').type('form').send({ _csrf: csrf, url }).expect(400);
    }
    await agent.post('/settings/config-repo').type('form').send({ _csrf: csrf, url: remote, deploy_key: 'not a key' }).expect(400);
    expect(node.services.configRemote.url()).toBeUndefined();
    await agent.post('/settings/config-repo').type('form').send({ _csrf: csrf, url: remote, deploy_key: '' }).expect(303);
    await agent.post('/settings/config-repo/sync').type('form').send({ _csrf: csrf }).expect(303);
    expect(node.services.configRemote.status()?.outcome).toBe('pushed');
    expect((await git(work, ['--git-dir', remote, 'rev-parse', 'main'])).stdout.trim()).toBe(await node.services.configRepo.head());

    // An operator pushes straight to the remote; the node takes it on its next round.
    const copy = path.join(work, 'copy');
    await git(work, ['clone', '-q', remote, copy]);
    writeFileSync(path.join(copy, 'b.lores.test.env'), 'TYPE=lores-test-app:1.1.0+1.1\nDOMAIN=b.lores.test\n');
    await git(copy, ['add', '-A']);
    await git(copy, ['commit', '-qm', 'Add b from the forge']);
    expect((await git(copy, ['push', '-q', 'origin', 'main'])).exitCode).toBe(0);
    expect((await node.services.configRemote.sync()).outcome).toBe('pulled');
    expect(readFileSync(path.join(serverDir(), 'b.lores.test.env'), 'utf8')).toContain('TYPE=lores-test-app:1.1.0+1.1');
    const page = await agent.get('/settings/config-repo').expect(200);
    expect(page.text).toContain('pulled');
  });

  it('refuses the remote’s commits that break the rules, and reports diverged histories without forcing', async () => {
    const copy = path.join(work, 'copy');
    writeFileSync(path.join(copy, 'b.lores.test.env'), 'TYPE=lores-test-app:1.1.0+1.1\nDOMAIN=b.lores.test\nMAIL_PASSWORD=hunter2hunter2\n');
    await git(copy, ['commit', '-qam', 'A password on the forge']);
    await git(copy, ['push', '-q', 'origin', 'main']);
    const before = await node.services.configRepo.head();
    const refused = await node.services.configRemote.sync();
    expect(refused.outcome).toBe('refused');
    expect(refused.message).toMatch(/MAIL_PASSWORD holds a secret-looking value/);
    expect(await node.services.configRepo.head()).toBe(before);
    expect(readFileSync(path.join(serverDir(), 'b.lores.test.env'), 'utf8')).not.toContain('hunter2');

    writeFileSync(path.join(serverDir(), 'a.lores.test.env'), 'TYPE=lores-test-app:1.0.0+1.0\nDOMAIN=a.lores.test\nGREETING=page\n');
    await node.services.configRepo.record({ actor: 'sam', domain: 'a.lores.test', message: 'A page change' });
    expect((await node.services.configRemote.sync()).outcome).toBe('diverged');
  });
});
