// Pre-flight: what a deploy asks of the host (binds, ports, images) from compose files, and what the node finds
// wrong before abra runs: missing folders under its roots, ports another stack holds, images it cannot have.
import { mkdtempSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServiceState } from '../../app/adapters/docker/swarm-mapping.ts';
import { ImageLookupError } from '../../app/adapters/docker/platforms.ts';
import { SettingsRefused } from '../../app/services/env/form.ts';
import { deployPlanIn, folderFindings, imageFindings, portFindings, preflightService, PreflightRefused, type ImageLookup } from '../../app/services/preflight.ts';

const compose = `version: "3.8"
services:
  app:
    image: ghcr.io/kiwix/kiwix-serve:\${KIWIX_VERSION:-3.8.2}
    volumes:
      - type: bind
        source: \${ZIM_FILES_PATH}
        target: /data
      - /etc/localtime:/etc/localtime:ro
      - data:/var/lib/x
    ports:
      - target: 8080
        published: \${KIWIX_LAN_PORT:-8081}
        mode: host
      - "9000:9000/udp"
      - "7000:7000"
  db:
    image: postgres:16
volumes:
  data:
`;
const env = new Map([['ZIM_FILES_PATH', '/zims/wiki']]);

describe('pre-flight', () => {
  it('reads binds, published TCP ports and images, with the setting each comes from', () => {
    const plan = deployPlanIn([{ file: 'compose.yml', text: compose }, { file: 'compose.x.yml', text: 'services:\n  db:\n    image: postgres:17\n' }], env);
    expect(plan.binds).toEqual([{ service: 'app', source: '/zims/wiki', key: 'ZIM_FILES_PATH' }, { service: 'app', source: '/etc/localtime' }]);
    expect(plan.ports).toEqual([{ service: 'app', published: 8081, key: 'KIWIX_LAN_PORT' }, { service: 'app', published: 7000 }]);
    expect(plan.images).toEqual([{ service: 'app', image: 'ghcr.io/kiwix/kiwix-serve:3.8.2' }, { service: 'db', image: 'postgres:17' }]);
  });

  it('finds missing folders under the node’s roots only, offering to create them', () => {
    const plan = deployPlanIn([{ file: 'compose.yml', text: compose }], env);
    const states = new Map([['/zims/wiki', 'missing' as const]]);
    expect(folderFindings(plan, ['/zims'], (p) => states.get(p) ?? 'folder')).toEqual([{ key: 'ZIM_FILES_PATH', problem: 'The folder /zims/wiki does not exist on this server.', createFolder: '/zims/wiki' }]);
    expect(folderFindings(plan, ['/zims'], () => 'not-a-folder')[0]?.problem).toMatch(/is a file, not a folder/);
    expect(folderFindings(plan, ['/zims'], () => 'folder')).toEqual([]);
    expect(folderFindings(plan, ['/elsewhere'], () => 'missing')).toEqual([]); // the node cannot see other host folders
  });

  it('finds ports another stack already publishes, not the app’s own', () => {
    const plan = deployPlanIn([{ file: 'compose.yml', text: compose }], env);
    const holder = (stack: string, published: number) => ({ stack, name: `${stack}_app`, ports: [{ published, target: 80, mode: 'host' }] }) as ServiceState;
    expect(portFindings(plan, 'wiki', [holder('library', 8081), holder('wiki', 7000)])).toEqual([{ key: 'KIWIX_LAN_PORT', problem: 'Port 8081 on this server is already used by library. Choose another port.' }]);
    expect(portFindings(plan, 'wiki', [])).toEqual([]);
  });

  it('passes an image present here even offline; refuses one neither here nor in a registry that answers', async () => {
    const plan = deployPlanIn([{ file: 'compose.yml', text: 'services:\n  a:\n    image: here:1\n  b:\n    image: gone:1\n  c:\n    image: far:1\n' }], new Map());
    const asked: string[] = [];
    const lookup: ImageLookup = {
      present: async (image) => image === 'here:1',
      published: async (image) => {
        asked.push(image);
        if (image === 'gone:1') throw new ImageLookupError('not-found', 'not found in the registry (manifest unknown)');
        throw new ImageLookupError('unreachable', 'registry unreachable', 'dial tcp: no route to host');
      },
    };
    const found = await imageFindings(plan, lookup);
    expect(asked).toEqual(['gone:1', 'far:1']);
    expect(found.map((f) => f.problem)).toEqual([
      'The image gone:1 is not on this server, and its registry does not have it (not found in the registry (manifest unknown)). Choose another version, or load the image onto the server.',
      'The image far:1 is not on this server, and the node cannot download it now (registry unreachable). Connect the node to the internet, or load the image onto the server, then try again.',
    ]);
    expect(await imageFindings(plan, { present: async () => true, published: async () => expect.unreachable() })).toEqual([]);
  });

  it('refuses field by field: a setting’s finding beside it, the rest together', () => {
    const refused = new PreflightRefused([{ key: 'ZIM_FILES_PATH', problem: 'A.' }, { problem: 'B.' }, { problem: 'C.' }]);
    expect(refused).toBeInstanceOf(SettingsRefused);
    expect(refused.fields).toEqual({ 'env.ZIM_FILES_PATH': 'A.', preflight: 'B. C.' });
    expect(refused.message).toBe('Before deploying, the node found: A. B. C.');
  });
});

describe('creating a folder under the node’s root', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-'));
  const root = path.join(dir, 'zims');
  mkdirSync(root);
  mkdirSync(path.join(dir, 'outside'));
  symlinkSync(path.join(dir, 'outside'), path.join(root, 'escape'));
  writeFileSync(path.join(root, 'file'), '');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const preflight = preflightService({ abraDir: dir, roots: { zimRoot: root }, services: () => [], images: { present: async () => true, published: async () => {} } });

  it('creates it, readable by the app’s user (0755)', () => {
    const made = preflight.createFolder('kiwix', 'ZIM_FILES_PATH', path.join(root, 'wiki', 'en'));
    expect(made).toBe(path.join(root, 'wiki', 'en'));
    expect(statSync(made).mode & 0o777).toBe(0o755);
    expect(preflight.createFolder('kiwix', 'ZIM_FILES_PATH', root)).toBe(root);
  });

  it('refuses anywhere else: outside the root, through a link, with "..", a file, another setting or recipe', () => {
    expect(() => preflight.createFolder('kiwix', 'ZIM_FILES_PATH', path.join(dir, 'outside', 'x'))).toThrow(SettingsRefused);
    expect(() => preflight.createFolder('kiwix', 'ZIM_FILES_PATH', path.join(root, 'escape', 'x'))).toThrow(/leads elsewhere through a link/);
    expect(() => preflight.createFolder('kiwix', 'ZIM_FILES_PATH', `${root}/../outside/y`)).toThrow(/without “\.\.”/);
    expect(() => preflight.createFolder('kiwix', 'ZIM_FILES_PATH', path.join(root, 'file'))).toThrow(/is a file, not a folder/);
    expect(() => preflight.createFolder('kiwix', 'DOMAIN', path.join(root, 'z'))).toThrow(/creates folders only for settings/);
    expect(() => preflight.createFolder('wiki', 'ZIM_FILES_PATH', path.join(root, 'z'))).toThrow(/creates folders only for settings/);
    expect(statSync(path.join(dir, 'outside')).isDirectory()).toBe(true);
    expect(() => statSync(path.join(dir, 'outside', 'x'))).toThrow();
  });
});
