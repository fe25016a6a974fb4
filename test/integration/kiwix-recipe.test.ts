// The bundled Kiwix recipe (recipes/kiwix/): abra's lint rules that can be checked from files (abra.md §3.3), the
// conventions of recipes-and-lores.md B and C.4, the compose files rendered as abra deploys them (the .env.sample
// values, abra.sh's exports and STACK_NAME), its install as an annotated tag by the node, and its entrypoint's
// library-mode contract run against the host's real kiwix-serve (Debian's kiwix-tools) — no Docker needed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MAX_STACK_NAME, recipeVersionSchema, stackNameFor } from '../../app/adapters/abra/names.ts';
import { declaredVersion, installBundledRecipes, recipeVersions } from '../../app/adapters/recipes/checkout.ts';
import { parseEnvSample, readEnvValues } from '../../app/services/env-file.ts';
import { makeTestZim } from '../support/kiwix.ts';
import { within } from '../support/poll.ts';
import { available, missingPrograms, programAt } from '../support/requirements.ts';
import { freePort, REPO_ROOT } from '../support/server.ts';

const RECIPES = path.join(REPO_ROOT, 'recipes');
const RECIPE = path.join(RECIPES, 'kiwix');
const VERSION = '1.0.0+3.8.2';
const IMAGE = 'ghcr.io/kiwix/kiwix-serve:3.8.2';
const COMPOSE_FILES = ['compose.yml', 'compose.lan.yml'];
const read = (file: string) => readFileSync(path.join(RECIPE, file), 'utf8');

type Service = {
  image?: string;
  entrypoint?: string[] | string;
  command?: string[] | string;
  healthcheck?: { test?: string[] | string; disable?: boolean; interval?: string; start_period?: string };
  configs?: (string | { source: string; target?: string })[];
  secrets?: unknown[];
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  networks?: string[] | Record<string, unknown>;
  ports?: { target: number | string; published: number | string; protocol?: string; mode?: string }[];
  deploy?: {
    replicas?: number;
    update_config?: { order?: string; failure_action?: string };
    rollback_config?: { order?: string };
    restart_policy?: { condition?: string };
    labels?: string[] | Record<string, string>;
  };
};
type Compose = {
  version?: string;
  services?: Record<string, Service>;
  configs?: Record<string, { name?: string; file?: string }>;
  secrets?: Record<string, unknown>;
  networks?: Record<string, { external?: boolean; name?: string }>;
};

const raw: Record<string, Compose> = Object.fromEntries(COMPOSE_FILES.map((f) => [f, parse(read(f)) as Compose]));
const rawApp = raw['compose.yml']!.services!.app!;
const asMap = (v: string[] | Record<string, string> | undefined): Record<string, string> =>
  !v ? {} : Array.isArray(v) ? Object.fromEntries(v.map((l) => [l.slice(0, l.indexOf('=') < 0 ? l.length : l.indexOf('=')), l.includes('=') ? l.slice(l.indexOf('=') + 1) : ''])) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
const rawLabels = asMap(rawApp.deploy?.labels);
const sampleText = read('.env.sample');
const sample = readEnvValues(sampleText);
/** `export KEY=VALUE` lines of abra.sh: abra adds them to the deploy environment. */
const abraShExports = Object.fromEntries([...read('abra.sh').matchAll(/^\s*export\s+([A-Za-z_]\w*)=(\S*)\s*$/gm)].map((m) => [m[1]!, m[2]!]));
const STACK_NAME = stackNameFor(sample.get('DOMAIN') ?? '');
const deployEnv = (extra: Record<string, string> = {}): Record<string, string> => ({ ...Object.fromEntries(sample), ...abraShExports, STACK_NAME, ...extra });

/** Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$. */
const interpolate = (text: string, env: Record<string, string>) =>
  text.replace(/\$\$|\$\{([A-Za-z_]\w*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_]\w*)/g, (m, name: string | undefined, op: string | undefined, def: string | undefined, bare: string | undefined) => {
    if (m === '$$') return '$';
    const v = env[(name ?? bare)!];
    if (op === ':-') return v ? v : (def ?? '');
    if (op === '-') return v ?? def ?? '';
    return v ?? '';
  });

/** `docker stack config` (a CLI of 23+, client side only): Docker's own merge and interpolation. */
const DOCKER = programAt(['/usr/local/bin/docker', '/usr/bin/docker'], 23);
const canRender = available('recipes/kiwix rendered by docker stack config', DOCKER ? undefined : 'no docker CLI 23+ in /usr/local/bin or /usr/bin', 'install docker-ce-cli 23 or newer (see .ci/setup-machine.sh)');
function render(files: string[], env: Record<string, string>): Compose | undefined {
  if (!DOCKER) return undefined;
  const home = mkdtempSync(path.join(tmpdir(), 'docker-cfg-'));
  try {
    const r = spawnSync(DOCKER, ['stack', 'config', ...files.flatMap((f) => ['-c', f])], {
      cwd: RECIPE,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, DOCKER_CONFIG: home, DOCKER_HOST: 'unix:///nonexistent/docker.sock', ...env },
    });
    if (r.status !== 0) throw new Error(r.stderr);
    return parse(r.stdout) as Compose;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

describe('recipes/kiwix: abra lint rules that can be checked from files', () => {
  it('R001: every compose file declares version 3.8', () => {
    for (const f of COMPOSE_FILES) expect(raw[f]!.version, f).toBe('3.8');
  });

  it('R002: app has a healthcheck, with busybox wget (the image has no curl)', () => {
    expect(rawApp.healthcheck?.disable).not.toBe(true);
    const test = rawApp.healthcheck?.test;
    expect(Array.isArray(test) ? test.slice(0, 2) : test).toEqual(['CMD', 'wget']);
    expect(JSON.stringify(test)).not.toContain('curl');
    expect(JSON.stringify(test)).toContain('http://127.0.0.1:8080/');
  });

  it('R003/R004/R005/R011: app has the pinned upstream image, a stable semver tag', () => {
    expect(rawApp.image).toBe(IMAGE);
    for (const f of COMPOSE_FILES.slice(1)) expect(raw[f]!.services?.app?.image, `${f} must not change the image`).toBeUndefined();
  });

  it('R006 (the file side of it): the declared version is a recipe version with release notes', () => {
    const version = rawLabels['coop-cloud.${STACK_NAME}.version'];
    expect(version).toBe(VERSION);
    expect(recipeVersionSchema.safeParse(version).success).toBe(true);
    expect(version!.split('+')[1]).toBe(IMAGE.split(':').at(-1)); // the image tag moves with the version
    expect(read(`release/${VERSION}`).trim().length).toBeGreaterThan(20);
  });

  it('R007: the README has the catalogue metadata block, filled in, and the one-line description', () => {
    const readme = read('README.md');
    const block = /<!-- metadata -->([\s\S]*?)<!-- endmetadata -->/.exec(readme)?.[1];
    expect(block, 'metadata block').toBeTruthy();
    const fields = Object.fromEntries([...block!.matchAll(/^\* \*\*(\w+)\*\*:\s*(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
    for (const key of ['Category', 'Status', 'Image', 'Healthcheck', 'Backups', 'Email', 'Tests', 'SSO']) expect(fields[key], key).toBeTruthy();
    expect(fields.Status).toMatch(/^[1-5]\b/);
    expect(fields.Image).toMatch(/^\[`ghcr\.io\/kiwix\/kiwix-serve`\]\([^)]+\), 4, upstream$/);
    expect(fields.Healthcheck).toBe('Yes');
    expect(fields.Backups).toMatch(/^(Yes|No)$/);
    expect(fields.Tests).toMatch(/^[0-3]$/);
    expect(readme).toMatch(/^# Kiwix\n+> .+/);
  });

  it('R008/R009/R010: .env.sample exists, the only service is app, Traefik routing is on', () => {
    expect(existsSync(path.join(RECIPE, '.env.sample'))).toBe(true);
    for (const f of COMPOSE_FILES) expect(Object.keys(raw[f]!.services ?? {}), f).toEqual(['app']);
    expect(rawLabels['traefik.enable']).toBe('true');
  });

  it('R012: every versioned config has its version exported in abra.sh', () => {
    const used = Object.values(raw['compose.yml']!.configs ?? {}).flatMap((c) => [...(c.name ?? '').matchAll(/\$\{(\w+_VERSION)\}/g)].map((m) => m[1]!));
    expect(used).toEqual(['ENTRYPOINT_VERSION']);
    for (const v of used) expect(abraShExports[v], v).toMatch(/^v\d+$/);
  });

  it('R014: the node installs it as an annotated tag (see below); R015: config names fit Docker’s 64 characters', () => {
    expect(raw['compose.yml']!.secrets).toBeUndefined();
    const longest = 'x'.repeat(MAX_STACK_NAME);
    for (const [key, c] of Object.entries(raw['compose.yml']!.configs ?? {})) {
      const name = interpolate(c.name ?? key, deployEnv({ STACK_NAME: longest }));
      expect(name.length, name).toBeLessThanOrEqual(64);
    }
  });
});

describe('recipes/kiwix: what the Kiwix recipe must be', () => {
  it('routes ${DOMAIN} through Traefik on web-secure with the LETS_ENCRYPT_ENV resolver, to port 8080, on proxy', () => {
    expect(rawLabels['traefik.http.routers.${STACK_NAME}.rule']).toBe('Host(`${DOMAIN}`)');
    expect(rawLabels['traefik.http.routers.${STACK_NAME}.entrypoints']).toBe('web-secure');
    expect(rawLabels['traefik.http.routers.${STACK_NAME}.tls.certresolver']).toBe('${LETS_ENCRYPT_ENV}');
    expect(rawLabels['traefik.http.services.${STACK_NAME}.loadbalancer.server.port']).toBe('8080');
    expect(rawApp.networks).toEqual(['proxy']);
    expect(raw['compose.yml']!.networks?.proxy?.external).toBe(true);
    expect(rawApp.ports ?? []).toEqual([]); // only the LAN overlay publishes a port
  });

  it('bind-mounts ZIM_FILES_PATH read-only at /data, and nothing else', () => {
    expect(rawApp.volumes).toEqual([{ type: 'bind', source: '${ZIM_FILES_PATH}', target: '/data', read_only: true }]);
  });

  it('starts the new copy first and rolls back a failed update by itself; restarts on failure', () => {
    expect(rawApp.deploy?.replicas).toBe(1);
    expect(rawApp.deploy?.update_config).toMatchObject({ order: 'start-first', failure_action: 'rollback' });
    expect(rawApp.deploy?.rollback_config).toBeTruthy();
    expect(rawApp.deploy?.restart_policy?.condition).toMatch(/^(on-failure|any)$/);
  });

  it('runs entrypoint.sh, shipped as the versioned swarm config, with sh', () => {
    expect(raw['compose.yml']!.configs).toEqual({ entrypoint: { name: '${STACK_NAME}_entrypoint_${ENTRYPOINT_VERSION}', file: 'entrypoint.sh' } });
    const mount = rawApp.configs?.find((c) => typeof c === 'object' && c.source === 'entrypoint') as { target: string } | undefined;
    expect(mount?.target).toMatch(/^\/[\w./-]+\.sh$/);
    expect(rawApp.entrypoint).toEqual(['/bin/sh', mount!.target]);
    expect(spawnSync('sh', ['-n', path.join(RECIPE, 'entrypoint.sh')]).status).toBe(0);
  });

  it('entrypoint.sh: library outside /data, rebuilt into a temp file and renamed, kiwix-serve watching it', () => {
    const script = read('entrypoint.sh');
    expect(script).toMatch(/^LIBRARY=\$\{LIBRARY:-\/tmp\/library\.xml\}$/m);
    expect(script).toMatch(/^ZIM_DIR=\$\{ZIM_DIR:-\/data\}$/m);
    expect(script).toContain('"$ZIM_DIR"/*.zim');
    expect(script).toMatch(/kiwix-manage "\$tmp" add "\$f"/);
    expect(script).toMatch(/mv -f "\$tmp" "\$LIBRARY"/);
    expect(script).toMatch(/kiwix-serve --library --monitorLibrary --nodatealiases --port="\$PORT" "\$LIBRARY"/);
    expect(script).not.toMatch(/\bbash\b.*\[\[|\[\[/); // busybox sh: no bash-isms
  });

  it('compose.lan.yml publishes 8080 in host mode on ${KIWIX_LAN_PORT} and stops the old copy first', () => {
    const app = raw['compose.lan.yml']!.services!.app!;
    expect(app.ports).toEqual([{ target: 8080, published: '${KIWIX_LAN_PORT:-8081}', protocol: 'tcp', mode: 'host' }]);
    expect(app.deploy?.update_config?.order).toBe('stop-first');
    expect(app.deploy?.rollback_config?.order).toBe('stop-first');
  });

  it('.env.sample: TYPE, DOMAIN, LETS_ENCRYPT_ENV, ZIM_FILES_PATH with its permission note, the LAN overlay as an option', () => {
    expect(sample.get('TYPE')).toBe('kiwix');
    expect(sample.get('DOMAIN')).toBe('kiwix.example.com');
    expect(['production', 'staging']).toContain(sample.get('LETS_ENCRYPT_ENV'));
    expect(sample.get('ZIM_FILES_PATH')).toBe('/srv/zims');
    expect(sample.get('COMPOSE_FILE')).toBe('compose.yml');
    const parsed = parseEnvSample(sampleText);
    expect(parsed.secrets).toEqual([]);
    expect(parsed.overlays).toEqual([expect.objectContaining({ file: 'compose.lan.yml', enabled: false })]);
    expect(parsed.fields.find((f) => f.key === 'ZIM_FILES_PATH')).toMatchObject({ optional: false, help: expect.stringContaining('1001') });
    expect(parsed.fields.find((f) => f.key === 'KIWIX_LAN_PORT')).toMatchObject({ optional: true, value: '8081', help: expect.stringMatching(/port/i) });
    expect(parsed.fields.find((f) => f.key === 'TIMEOUT')).toMatchObject({ optional: true });
  });

  it('every variable the compose files use without a default is set by .env.sample, abra.sh or abra', () => {
    const env = deployEnv();
    for (const f of COMPOSE_FILES) {
      const code = read(f).split('\n').filter((line) => !line.trim().startsWith('#')).join('\n');
      for (const m of code.matchAll(/\$\{(\w+)(:?[-?][^}]*)?\}/g)) if (!m[2]) expect(env[m[1]!], `${f}: \${${m[1]}}`).toBeDefined();
    }
  });

  it('abra.sh is valid bash and exports ENTRYPOINT_VERSION=v1', () => {
    const check = spawnSync('bash', ['-n', path.join(RECIPE, 'abra.sh')], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(abraShExports.ENTRYPOINT_VERSION).toBe('v1');
  });

  it('the README documents uid 1001 and the add/remove contract', () => {
    const readme = read('README.md');
    expect(readme).toContain('1001');
    expect(readme).toContain('chmod -R a+rX');
    expect(readme).toMatch(/rename it atomically/i);
    expect(readme).toMatch(/rename it away/i);
    expect(readme).toContain('.zim.part');
  });
});

describe.skipIf(!canRender)(`recipes/kiwix rendered as abra deploys it (${DOCKER ?? 'no docker CLI 23+'} stack config)`, () => {
  it('compose.yml renders with every variable filled in, the config named with abra.sh’s version', () => {
    const out = render(['compose.yml'], deployEnv())!;
    const labels = asMap(out.services!.app!.deploy?.labels);
    expect(labels[`traefik.http.routers.${STACK_NAME}.rule`]).toBe('Host(`kiwix.example.com`)');
    expect(labels[`coop-cloud.${STACK_NAME}.version`]).toBe(VERSION);
    expect(labels[`coop-cloud.${STACK_NAME}.timeout`]).toBe('300');
    expect(out.configs?.entrypoint?.name).toBe(`${STACK_NAME}_entrypoint_v1`);
    expect(out.services!.app!.volumes).toEqual([expect.objectContaining({ type: 'bind', source: '/srv/zims', target: '/data', read_only: true })]);
    expect(JSON.stringify(out)).not.toContain('${');
  });

  it('with compose.lan.yml: 8080 published in host mode on KIWIX_LAN_PORT (8081 unset), stop-first, still rolling back', () => {
    const lan = render(['compose.yml', 'compose.lan.yml'], deployEnv({ KIWIX_LAN_PORT: '18111' }))!;
    expect(lan.services!.app!.ports).toEqual([expect.objectContaining({ target: 8080, published: 18111, mode: 'host' })]);
    expect(lan.services!.app!.deploy?.update_config).toMatchObject({ order: 'stop-first', failure_action: 'rollback' });
    expect(lan.services!.app!.deploy?.rollback_config).toMatchObject({ order: 'stop-first' });
    expect(render(['compose.yml', 'compose.lan.yml'], deployEnv())!.services!.app!.ports).toEqual([expect.objectContaining({ published: 8081 })]);
  });
});

describe('recipes/kiwix as the node installs it', () => {
  let abraDir: string;
  beforeAll(() => {
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
  });
  afterAll(() => rmSync(abraDir, { recursive: true, force: true }));

  it('declaredVersion reads 1.0.0+3.8.2 from compose.yml', () => {
    expect(declaredVersion(read('compose.yml'))).toBe(VERSION);
  });

  it('installBundledRecipes makes an annotated tag 1.0.0+3.8.2 in $ABRA_DIR/recipes/kiwix holding the whole tree', async () => {
    const logs: string[] = [];
    await installBundledRecipes(RECIPES, abraDir, (m) => logs.push(m));
    const repo = path.join(abraDir, 'recipes', 'kiwix');
    expect(await recipeVersions(abraDir, 'kiwix')).toEqual([VERSION]);
    const type = await execa('git', ['-C', repo, 'for-each-ref', '--format=%(objecttype)', `refs/tags/${VERSION}`]);
    expect(type.stdout.trim()).toBe('tag');
    const files = (await execa('git', ['-C', repo, 'ls-tree', '-r', '--name-only', VERSION])).stdout.split('\n').sort();
    expect(files).toEqual(['.env.sample', 'README.md', 'abra.sh', 'compose.lan.yml', 'compose.yml', 'entrypoint.sh', `release/${VERSION}`]);
    expect(logs.join('\n')).toContain(`kiwix ${VERSION}`);
    // A second start adds nothing.
    await installBundledRecipes(RECIPES, abraDir, (m) => logs.push(`again: ${m}`));
    expect(logs.filter((l) => l.startsWith('again: ') && l.includes('kiwix'))).toEqual([]);
  });
});

// ---- the entrypoint against the host's real kiwix-serve 3.3.0 (as a process, no container) ----------------------
const KIWIX_THERE = available(
  'the entrypoint run with the real kiwix-serve',
  missingPrograms(['/usr/bin/kiwix-serve', '/usr/bin/kiwix-manage', '/usr/bin/zimwriterfs']),
  'apt-get install kiwix-tools zim-tools (see .ci/setup-machine.sh)',
);

// Polls every 3 s, kiwix-serve notices a new library within a second or so: seconds per step on a busy machine.
describe.skipIf(!KIWIX_THERE)('recipes/kiwix/entrypoint.sh with the real kiwix-serve (library mode contract)', { timeout: 45_000 }, () => {
  let work: string;
  let zims: string;
  let port: number;
  let child: ChildProcess;
  let output = '';
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(3000) });
    return { status: r.status, text: await r.text() };
  };
  const books = async () => [...(await get('/catalog/v2/entries')).text.matchAll(/<entry>/g)].length;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-kiwix-ep-'));
    zims = path.join(work, 'zims');
    mkdirSync(zims);
    port = await freePort();
    child = spawn('sh', [path.join(RECIPE, 'entrypoint.sh')], {
      env: { PATH: process.env.PATH, ZIM_DIR: zims, LIBRARY: path.join(work, 'library.xml'), PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  });
  afterAll(async () => {
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('serves an empty library with no ZIM file, and keeps running', async () => {
    await within('the OPDS root', 15_000, async () => (await get('/catalog/v2/root.xml')).status === 200, { everyMs: 200 });
    expect(await books()).toBe(0);
    await new Promise((r) => setTimeout(r, 3500)); // one poll later: still there
    expect(child.exitCode).toBeNull();
    expect((await get('/catalog/v2/root.xml')).status).toBe(200);
  });

  it('serves a ZIM renamed in from *.zim.part within seconds, ignores the .part, and drops it when renamed away', async () => {
    const made = await makeTestZim(path.join(work, 'made'), { name: 'ep_test_2026-01', articleText: 'Seven lanterns hung over the harbour.' });
    const part = path.join(zims, 'ep_test_2026-01.zim.part');
    renameSync(made.path, part);
    await new Promise((r) => setTimeout(r, 4000));
    expect(await books(), 'a .part file is not served').toBe(0);

    renameSync(part, path.join(zims, 'ep_test_2026-01.zim'));
    const served = await within('the article', 15_000, async () => (await get(made.urlPath)).text.includes(made.articleText), { everyMs: 200 });
    expect(served.ms).toBeLessThan(10_000);
    // --nodatealiases: the book is also served without its date.
    expect((await get('/ep_test/article.html')).text).toContain(made.articleText);
    expect(await books()).toBe(1);

    renameSync(path.join(zims, 'ep_test_2026-01.zim'), path.join(zims, 'ep_test_2026-01.zim.old'));
    await within('the book to leave the catalogue', 15_000, async () => (await books()) === 0, { everyMs: 200 });
    expect((await get(made.urlPath)).status).toBe(404);
    expect(child.exitCode).toBeNull();
    expect(output).toContain('library');
  });

  it('leaves out a file that is not a ZIM, and keeps serving', async () => {
    writeFileSync(path.join(zims, 'broken.zim'), 'not a zim');
    await within('the skip to be logged', 15_000, async () => output.includes('skipped'), { everyMs: 200 });
    expect((await get('/catalog/v2/root.xml')).status).toBe(200);
    expect(await books()).toBe(0);
  });

  it('stops on SIGTERM, taking kiwix-serve with it', async () => {
    const gone = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await gone).toBe(0);
    await within('the port to close', 5000, async () => !(await get('/').then(() => true, () => false)), { everyMs: 200 });
  });
});
