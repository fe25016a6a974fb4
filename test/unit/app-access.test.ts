// Who may change which app: managed, adopted, read-only (unlabelled stacks, Traefik), the node itself, and apps whose
// deployed version reaches the host. Pure rules; the routes and services that apply them are tested in integration.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { managementOf, refusal, type AppAction } from '../../app/services/app-access.ts';
import { confinedPathProblems, confinedPaths } from '../../app/services/host-paths.ts';
import { metadataProblem, selfSettingProblems } from '../../app/services/node-self.ts';

const installed = (stack: string, recipe: string) => ({ domain: `${stack}.org`, stack, recipe, version: '1.0.0+1', envPath: '/x' });
const none = { adopted: new Set<string>() };
const ACTIONS: AppAction[] = ['stop', 'start', 'restart', 'deploy', 'config', 'upgrade', 'rollback', 'undeploy', 'remove'];

describe('management', () => {
  it('installed apps are managed; stacks without an env file, and Traefik even with one, are read-only until adopted', () => {
    expect(managementOf({ stack: 'wiki', installed: installed('wiki', 'kiwix') }, none)).toBe('managed');
    expect(managementOf({ stack: 'other', recipe: 'kiwix' }, none)).toBe('read-only');
    expect(managementOf({ stack: 'traefik' }, none)).toBe('read-only');
    expect(managementOf({ stack: 'proxy_example_org', installed: installed('proxy_example_org', 'traefik') }, none)).toBe('read-only');
    expect(managementOf({ stack: 'other', recipe: 'kiwix' }, { adopted: new Set(['other']) })).toBe('adopted');
    expect(managementOf({ stack: 'node', installed: installed('node', 'lores-node') }, { adopted: new Set(['node']), selfStack: 'node' })).toBe('self');
  });
});

describe('refusals', () => {
  const app = { stack: 'wiki', domain: 'wiki.org' };
  it('a guest may do nothing; a steward nothing on read-only apps, the node itself, or an app that reaches the host', () => {
    for (const action of ACTIONS) {
      expect(refusal('guest', app, 'managed', action, [])?.status).toBe(403);
      expect(refusal('steward', app, 'managed', action, [])).toBeUndefined();
      expect(refusal('steward', app, 'adopted', action, [])).toBeUndefined();
      expect(refusal('steward', app, 'read-only', action, [])?.message).toContain('read-only');
      expect(refusal('steward', app, 'self', action, [])?.status).toBe(403);
      expect(refusal('steward', app, 'managed', action, ['app: mounts the Docker socket (/var/run/docker.sock)'])?.message).toContain('Docker socket');
      expect(refusal('admin', app, 'managed', action, ['app: mounts the Docker socket (/var/run/docker.sock)'])).toBeUndefined();
    }
    expect(refusal('admin', { stack: 'traefik' }, 'read-only', 'stop', [])?.message).toContain('Traefik');
    expect(refusal('admin', app, 'read-only', 'stop', [])?.message).toContain('adopt');
  });
  it('an admin may configure, upgrade and roll back the node itself, nothing else from its page', () => {
    for (const action of ACTIONS) expect(refusal('admin', app, 'self', action, []) === undefined, action).toBe(['config', 'upgrade', 'rollback'].includes(action));
  });
});

describe('confined host paths', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lores-confined-'));
  const zimRoot = path.join(dir, 'zims');
  mkdirSync(path.join(zimRoot, 'wiki'), { recursive: true });
  symlinkSync('/etc', path.join(zimRoot, 'etc-link'));
  symlinkSync(path.join(zimRoot, 'wiki'), path.join(dir, 'wiki-link'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const check = (value: string, recipe = 'kiwix') => confinedPathProblems(recipe, new Map([['ZIM_FILES_PATH', value]]), { zimRoot }).map((p) => p.problem);

  it('Kiwix’s ZIM_FILES_PATH: under ZIM_ROOT, existing or not yet; never outside, through .., or through a link out', () => {
    expect(confinedPaths('kiwix', { zimRoot })).toEqual({ ZIM_FILES_PATH: zimRoot });
    expect(check(zimRoot)).toEqual([]);
    expect(check(`${zimRoot}/wiki`)).toEqual([]);
    expect(check(`${zimRoot}/new/folder`)).toEqual([]);
    expect(check('/')[0]).toContain(`ZIM_FILES_PATH must be a folder under ${zimRoot}`);
    expect(check(`${zimRoot}x`)[0]).toContain('is not');
    expect(check(`${zimRoot}/../zims/wiki`)[0]).toContain('without “..”');
    expect(check('zims/wiki')[0]).toContain('absolute');
    expect(check(`${zimRoot}/etc-link`)[0]).toContain('through a link');
    expect(check(`${zimRoot}/etc-link/ssl`)[0]).toContain('through a link');
    // Other recipes' settings of the same name are not this rule's business.
    expect(check('/', 'lores-test-app')).toEqual([]);
  });
});

describe('the node’s own settings', () => {
  it('refuses link-local and metadata addresses in any spelling the URL parser normalises', () => {
    for (const url of ['http://169.254.169.254/latest', 'http://2852039166/', 'http://0xA9FEA9FE/', 'http://[fe80::1]/', 'http://[::ffff:169.254.169.254]/', 'http://metadata.google.internal./', 'http://100.100.100.200/', 'http://[fd00:ec2::254]/']) {
      expect(metadataProblem(url), url).toContain('link-local or cloud metadata');
    }
    for (const url of ['https://recipes.coopcloud.tech/recipes.json', 'http://10.0.0.5/recipes.json', 'http://mirror.lan/', '']) expect(metadataProblem(url), url).toBeUndefined();
  });

  it('uses the start-up rules, and the override lets link-local through only', () => {
    const problems = (o: Record<string, string>, allowLinkLocal = false) => selfSettingProblems(new Map(Object.entries(o)), { allowLinkLocal }).map((p) => p.key);
    expect(problems({ NODE_DOMAIN: 'lores.test', SESSION_HOURS: '24', CATALOGUE_URL: '', ZIM_ROOT: '/srv/zims', LAN_PORT: '8080', LOG_LEVEL: 'info' })).toEqual([]);
    expect(problems({ NODE_DOMAIN: 'not a domain', SESSION_HOURS: '0', ZIM_ROOT: 'rel', LAN_PORT: '0', LOG_LEVEL: 'loud', KIWIX_CATALOGUE_URL: 'file:///etc/passwd' })).toEqual([
      'NODE_DOMAIN',
      'SESSION_HOURS',
      'ZIM_ROOT',
      'LAN_PORT',
      'LOG_LEVEL',
      'KIWIX_CATALOGUE_URL',
    ]);
    expect(problems({ CATALOGUE_URL: 'http://169.254.169.254/' })).toEqual(['CATALOGUE_URL']);
    expect(problems({ CATALOGUE_URL: 'http://169.254.169.254/' }, true)).toEqual([]);
    expect(problems({ CATALOGUE_URL: 'ftp://169.254.169.254/' }, true)).toEqual(['CATALOGUE_URL']);
  });
});
