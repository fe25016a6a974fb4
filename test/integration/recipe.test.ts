// The node's own recipe (recipe/): abra's lint rules that can be checked from files (abra.md §3.3), the
// conventions the node's recipe must follow (issue 4, recipes-and-lores.md B), and the compose files
// rendered as abra deploys them: the .env.sample values plus STACK_NAME. No Docker daemon needed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MAX_STACK_NAME, recipeVersionSchema, stackNameFor } from '../../app/adapters/abra/names.ts';
import { parseEnvSample, readEnvValues } from '../../app/services/env-file.ts';
import { REPO_ROOT } from '../support/server.ts';

const RECIPE = path.join(REPO_ROOT, 'recipe');
const COMPOSE_FILES = ['compose.yml', 'compose.lan.yml', 'compose.zims.yml', 'compose.backups.yml', 'compose.mdns.yml'];
const PKG = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const read = (file: string) => readFileSync(path.join(RECIPE, file), 'utf8');

type Service = {
  image?: string;
  healthcheck?: { test?: string[] | string; disable?: boolean; interval?: string; start_period?: string };
  environment?: string[] | Record<string, string>;
  secrets?: (string | { source: string; target?: string })[];
  volumes?: string[];
  networks?: string[] | Record<string, unknown>;
  ports?: { target: number | string; published: number | string; protocol?: string; mode?: string }[];
  deploy?: {
    replicas?: number;
    placement?: { constraints?: string[] };
    update_config?: { order?: string; failure_action?: string };
    rollback_config?: { order?: string };
    labels?: string[] | Record<string, string>;
  };
};
type Compose = {
  version?: string;
  services?: Record<string, Service>;
  secrets?: Record<string, { external?: boolean; name?: string }>;
  configs?: Record<string, { name?: string; file?: string }>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { external?: boolean; name?: string }>;
};

const raw: Record<string, Compose> = Object.fromEntries(COMPOSE_FILES.map((f) => [f, parse(read(f)) as Compose]));
const sampleText = read('.env.sample');
const sample = readEnvValues(sampleText);
const STACK_NAME = stackNameFor(sample.get('DOMAIN') ?? '');
/** The environment abra deploys with: the app's env file (here the sample as it comes) plus STACK_NAME. */
const deployEnv = (extra: Record<string, string> = {}): Record<string, string> => ({ ...Object.fromEntries(sample), STACK_NAME, ...extra });

/** Compose lists (`- KEY=value`) or maps, as a map. */
function asMap(v: string[] | Record<string, string> | undefined): Record<string, string> {
  if (!v) return {};
  if (!Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  return Object.fromEntries(v.map((item) => [item.slice(0, item.indexOf('=') < 0 ? item.length : item.indexOf('=')), item.includes('=') ? item.slice(item.indexOf('=') + 1) : '']));
}
const rawApp = raw['compose.yml']!.services!.app!;
const rawLabels = asMap(rawApp.deploy?.labels);

/** Every service across the compose files, merged by name (later files add to earlier ones). */
function mergedServices(): Record<string, Service> {
  const out: Record<string, Service> = {};
  for (const f of COMPOSE_FILES) for (const [name, s] of Object.entries(raw[f]!.services ?? {})) out[name] = { ...out[name], ...s };
  return out;
}

// ---- rendering: `docker stack config` (CLI 23+, client side only), else the same interpolation done here
function dockerCli(): string | undefined {
  for (const bin of ['/usr/local/bin/docker', '/usr/bin/docker']) {
    if (!existsSync(bin)) continue;
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    const major = Number(/version (\d+)\./.exec(v.stdout ?? '')?.[1] ?? 0);
    if (major >= 23) return bin;
  }
  return undefined;
}
const DOCKER = dockerCli();

/** Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR and $$. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)/g, (m, name: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (m === '$$') return '$';
    const key = (name ?? bare)!;
    const value = env[key];
    const unset = value === undefined || (op?.startsWith(':') === true && value === '');
    if (op?.endsWith('-')) return unset ? (arg ?? '') : value!;
    if (op?.endsWith('?') && unset) throw new Error(`${key}: ${arg}`);
    return value ?? '';
  });
}

function renderHere(files: string[], env: Record<string, string>): Compose {
  const docs = files.map((f) => parse(interpolate(read(f), env)) as Compose);
  const out: Compose = { version: docs[0]?.version, services: {}, secrets: {}, volumes: {}, networks: {}, configs: {} };
  for (const d of docs) {
    for (const [name, s] of Object.entries(d.services ?? {})) {
      const prev = out.services![name] ?? {};
      const merged: Service = { ...prev, ...s };
      if (prev.ports || s.ports) merged.ports = [...(prev.ports ?? []), ...(s.ports ?? [])].map((p) => ({ ...p, target: Number(p.target), published: Number(p.published) }));
      // As docker merges overlays: environment and labels key by key, the rest of deploy field by field.
      if (prev.deploy || s.deploy) merged.deploy = { ...prev.deploy, ...s.deploy, labels: { ...asMap(prev.deploy?.labels), ...asMap(s.deploy?.labels) } };
      if (prev.environment || s.environment) merged.environment = { ...asMap(prev.environment), ...asMap(s.environment) };
      out.services![name] = merged;
    }
    for (const k of ['secrets', 'volumes', 'networks', 'configs'] as const) Object.assign(out[k]!, d[k] ?? {});
  }
  return out;
}

function render(files: string[], env: Record<string, string>): Compose {
  if (!DOCKER) return renderHere(files, env);
  // No daemon is contacted: DOCKER_HOST points nowhere, and only the given variables are set.
  const home = mkdtempSync(path.join(tmpdir(), 'docker-cfg-'));
  const stdout = execFileSync(DOCKER, ['stack', 'config', ...files.flatMap((f) => ['-c', f])], {
    cwd: RECIPE,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, DOCKER_CONFIG: home, DOCKER_HOST: 'unix:///nonexistent/docker.sock', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parse(stdout) as Compose;
}

describe('recipe/: abra lint rules that can be checked from files', () => {
  it('R001: every compose file declares version 3.8', () => {
    for (const f of COMPOSE_FILES) expect(raw[f]!.version, f).toBe('3.8');
  });

  it('R002: every service has a healthcheck', () => {
    for (const [name, s] of Object.entries(mergedServices())) {
      expect(s.healthcheck?.test, name).toBeTruthy();
      expect(s.healthcheck?.disable, name).not.toBe(true);
    }
  });

  const images = () => Object.entries(mergedServices()).filter(([, s]) => s.image);
  const tagOf = (image: string) => {
    const last = image.split('/').at(-1)!;
    return last.includes(':') ? last.slice(last.indexOf(':') + 1).split('@')[0]! : '';
  };

  it('R003: every image has a tag', () => {
    for (const [name, s] of images()) expect(tagOf(s.image!), `${name}: ${s.image}`).not.toBe('');
  });

  it('R004: no unstable tags', () => {
    for (const [name, s] of images()) expect(['latest', 'master', 'main', 'develop', 'dev', 'edge', 'nightly'], name).not.toContain(tagOf(s.image!));
  });

  it('R005: tags look like semantic versions', () => {
    for (const [name, s] of images()) expect(tagOf(s.image!), name).toMatch(/^v?\d+\.\d+\.\d+([-+.][0-9A-Za-z.-]+)?$/);
  });

  it('R006 (the file side of it): the version the recipe declares is a recipe version with release notes', () => {
    // Whether the catalogue has it published is not in the files; the version and its notes are.
    const version = rawLabels['coop-cloud.${STACK_NAME}.version'];
    expect(recipeVersionSchema.safeParse(version).success, String(version)).toBe(true);
    expect(existsSync(path.join(RECIPE, 'release', version!)), `release/${version}`).toBe(true);
    expect(read(`release/${version}`).trim().length).toBeGreaterThan(20);
  });

  it('R007: the README has the catalogue metadata block, filled in', () => {
    const readme = read('README.md');
    const block = /<!-- metadata -->([\s\S]*?)<!-- endmetadata -->/.exec(readme)?.[1];
    expect(block, 'metadata block').toBeTruthy();
    const fields = Object.fromEntries([...block!.matchAll(/^\* \*\*(\w+)\*\*:\s*(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
    for (const key of ['Category', 'Status', 'Image', 'Healthcheck', 'Backups', 'Email', 'Tests', 'SSO']) expect(fields[key], key).toBeTruthy();
    expect(fields.Status).toMatch(/^[1-5]\b/);
    expect(fields.Image).toMatch(/^\[`[^`]+`\]\([^)]+\), [1-4], /);
    expect(fields.Healthcheck).toBe('Yes');
    expect(fields.Backups).toBe('Yes');
    expect(fields.Tests).toMatch(/^[0-3]$/);
    expect(readme).toMatch(/^# .+\n+> .+/); // title and one-line description
  });

  it('R008: .env.sample exists', () => {
    expect(existsSync(path.join(RECIPE, '.env.sample'))).toBe(true);
  });

  it('R009: the main service is named app', () => {
    expect(Object.keys(raw['compose.yml']!.services ?? {})).toContain('app');
    // Overlays change app; only the mDNS overlay adds a service (its responder must sit on the host's network).
    const added = (f: string) => (f === 'compose.mdns.yml' ? ['app', 'mdns'] : ['app']);
    for (const f of COMPOSE_FILES) for (const name of Object.keys(raw[f]!.services ?? {})) expect(added(f), `${f} adds a service`).toContain(name);
  });

  it('R010: Traefik routing is enabled on app', () => {
    expect(rawLabels['traefik.enable']).toBe('true');
  });

  it('R011: every service has an image', () => {
    for (const [name, s] of Object.entries(mergedServices())) expect(s.image, name).toBeTruthy();
  });

  /** Config names with _${X_VERSION} whose X_VERSION abra.sh does not export (lint R012). */
  const unexportedConfigVersions = (docs: Compose[], abraSh: string) =>
    docs
      .flatMap((d) => Object.values(d.configs ?? {}))
      .flatMap((c) => [...(c.name ?? '').matchAll(/\$\{(\w+_VERSION)\}/g)].map((m) => m[1]!))
      .filter((v) => !new RegExp(`^\\s*export\\s+${v}=\\S+`, 'm').test(abraSh));

  it('R012: every versioned config has its version exported in abra.sh', () => {
    expect(unexportedConfigVersions(Object.values(raw), read('abra.sh'))).toEqual([]);
    // The check itself catches a miss (the recipe has no configs yet, so prove it is not vacuous).
    const withConfig: Compose = { configs: { entry: { name: '${STACK_NAME}_entry_${ENTRY_VERSION}', file: 'entry.sh' } } };
    expect(unexportedConfigVersions([withConfig], '')).toEqual(['ENTRY_VERSION']);
    expect(unexportedConfigVersions([withConfig], 'export ENTRY_VERSION=v1\n')).toEqual([]);
  });

  it('R015: secret names fit Docker’s 64 characters even for the longest stack name', () => {
    const secrets = Object.entries(raw['compose.yml']!.secrets ?? {});
    expect(secrets.length).toBeGreaterThan(0);
    const longest = 'x'.repeat(MAX_STACK_NAME);
    for (const [key, s] of secrets) {
      const name = interpolate(s.name ?? key, { ...deployEnv(), STACK_NAME: longest });
      expect(name.length, name).toBeLessThanOrEqual(64);
    }
  });
});

describe('recipe/: what the node’s recipe must be', () => {
  it('has the version label <recipe>+<node> and the image tag of the same node version', () => {
    const version = rawLabels['coop-cloud.${STACK_NAME}.version']!;
    const [recipePart, nodePart] = version.split('+');
    expect(recipePart).toMatch(/^\d+\.\d+\.\d+$/);
    expect(nodePart).toBe(PKG.version);
    expect(rawApp.image).toMatch(new RegExp(`:${PKG.version.replaceAll('.', '\\.')}$`));
  });

  it('routes ${DOMAIN} through Traefik on web-secure with the LETS_ENCRYPT_ENV resolver, to port 3000, on proxy', () => {
    expect(rawLabels['traefik.http.routers.${STACK_NAME}.rule']).toMatch(/^Host\(`\$\{DOMAIN\}`\$\{EXTRA_DOMAINS(:-)?\}\)$/);
    expect(rawLabels['traefik.http.routers.${STACK_NAME}.entrypoints']).toBe('web-secure');
    expect(rawLabels['traefik.http.routers.${STACK_NAME}.tls.certresolver']).toBe('${LETS_ENCRYPT_ENV}');
    expect(rawLabels['traefik.http.services.${STACK_NAME}.loadbalancer.server.port']).toBe('3000');
    expect(rawApp.networks).toEqual(['proxy']);
    expect(raw['compose.yml']!.networks?.proxy?.external).toBe(true);
  });

  it('gives abra a convergence timeout sized for a Pi', () => {
    const timeout = rawLabels['coop-cloud.${STACK_NAME}.timeout'];
    const seconds = Number(/^\$\{TIMEOUT:-(\d+)\}$/.exec(timeout ?? '')?.[1]);
    expect(seconds, String(timeout)).toBeGreaterThanOrEqual(300);
  });

  it('runs one copy on a manager with the Docker socket, stopping the old before starting the new, rolling back on failure', () => {
    expect(rawApp.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(rawApp.deploy?.placement?.constraints).toContain('node.role == manager');
    expect(rawApp.deploy?.replicas).toBe(1);
    expect(rawApp.deploy?.update_config).toMatchObject({ order: 'stop-first', failure_action: 'rollback' });
    expect(rawApp.deploy?.rollback_config?.order).toBe('stop-first');
  });

  it('keeps the data dir and ABRA_DIR on volumes, where the image puts them, and opts in to backups', () => {
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/\bDATA_DIR=\/data\b/);
    expect(dockerfile).toMatch(/\bABRA_DIR=\/abra\b/);
    expect(rawApp.volumes).toEqual(expect.arrayContaining(['data:/data', 'abra:/abra']));
    expect(Object.keys(raw['compose.yml']!.volumes ?? {})).toEqual(expect.arrayContaining(['data', 'abra']));
    expect(rawLabels['backupbot.backup']).toMatch(/^(true|\$\{ENABLE_BACKUPS:-true\})$/);
  });

  it('reads the admin password from a versioned, external secret', () => {
    expect(raw['compose.yml']!.secrets?.admin_password).toEqual({ external: true, name: '${STACK_NAME}_admin_password_${SECRET_ADMIN_PASSWORD_VERSION}' });
    expect(rawApp.secrets).toContain('admin_password');
    expect(asMap(rawApp.environment).ADMIN_PASSWORD_FILE).toBe('/run/secrets/admin_password');
  });

  it('has a healthcheck on /healthz', () => {
    expect(JSON.stringify(rawApp.healthcheck?.test)).toContain('/healthz');
  });

  it('.env.sample: TYPE, DOMAIN, NODE_DOMAIN, LETS_ENCRYPT_ENV, a v1 admin secret of length 32, the LAN overlay as an option', () => {
    expect(sample.get('TYPE')).toBe('lores-node');
    expect(sample.get('DOMAIN')).toBeTruthy();
    expect(sample.get('NODE_DOMAIN')).toBeTruthy();
    expect(['production', 'staging']).toContain(sample.get('LETS_ENCRYPT_ENV'));
    const parsed = parseEnvSample(sampleText);
    expect(parsed.secrets).toEqual([{ key: 'SECRET_ADMIN_PASSWORD_VERSION', name: 'admin_password', version: 'v1', length: 32, generate: true }]);
    expect(parsed.overlays).toEqual([
      expect.objectContaining({ file: 'compose.lan.yml', enabled: false }),
      expect.objectContaining({ file: 'compose.zims.yml', enabled: false }),
      expect.objectContaining({ file: 'compose.backups.yml', enabled: false }),
      expect.objectContaining({ file: 'compose.mdns.yml', enabled: false }),
    ]);
    expect(parsed.fields.find((f) => f.key === 'LAN_PORT')).toMatchObject({ optional: true });
    expect(parsed.fields.find((f) => f.key === 'ZIM_ROOT')).toMatchObject({ optional: true, value: '/srv/zims' });
  });

  it('every variable the compose files use without a default is set by .env.sample or abra', () => {
    const env = deployEnv();
    for (const f of COMPOSE_FILES) {
      const code = read(f).split('\n').filter((line) => !line.trim().startsWith('#')).join('\n');
      for (const m of code.matchAll(/\$\{(\w+)(:?[-?][^}]*)?\}/g)) {
        if (m[2]) continue;
        expect(env[m[1]!], `${f}: \${${m[1]}}`).toBeDefined();
      }
    }
  });

  it('compose.lan.yml publishes the UI on ${LAN_PORT} in host mode', () => {
    expect(raw['compose.lan.yml']!.services?.app?.ports).toEqual([{ target: 3000, published: '${LAN_PORT:-8080}', protocol: 'tcp', mode: 'host' }]);
  });

  it('abra.sh is valid bash and has the operator commands', () => {
    const file = path.join(RECIPE, 'abra.sh');
    const check = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    const text = read('abra.sh');
    for (const fn of ['health', 'version', 'reset_admin_password', 'export_config', 'mdns_check']) expect(text, fn).toMatch(new RegExp(`^${fn}\\(\\) \\{`, 'm'));
  });

  it('the image’s OCI version label defaults to package.json’s version', () => {
    expect(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(new RegExp(`^ARG VERSION=${PKG.version.replaceAll('.', '\\.')}$`, 'm'));
  });
});

describe(`recipe/ rendered with the .env.sample values (${DOCKER ? `${DOCKER} stack config` : 'yaml + interpolation'})`, () => {
  let plain: Compose;
  let lan: Compose;
  beforeAll(() => {
    plain = render(['compose.yml'], deployEnv());
    lan = render(['compose.yml', 'compose.lan.yml'], deployEnv({ LAN_PORT: '18080' }));
  });

  it('compose.yml renders with every variable filled in', () => {
    const app = plain.services!.app!;
    const labels = asMap(app.deploy?.labels);
    expect(labels[`traefik.http.routers.${STACK_NAME}.rule`]).toBe(`Host(\`${sample.get('DOMAIN')}\`)`);
    expect(labels[`traefik.http.routers.${STACK_NAME}.tls.certresolver`]).toBe(sample.get('LETS_ENCRYPT_ENV'));
    expect(labels[`coop-cloud.${STACK_NAME}.version`]).toBe(rawLabels['coop-cloud.${STACK_NAME}.version']);
    expect(labels[`coop-cloud.${STACK_NAME}.timeout`]).toMatch(/^\d+$/);
    expect(labels['backupbot.backup']).toBe('true');
    expect(plain.secrets?.admin_password?.name).toBe(`${STACK_NAME}_admin_password_v1`);
    expect(asMap(app.environment).NODE_DOMAIN).toBe(sample.get('NODE_DOMAIN'));
    expect(JSON.stringify(plain)).not.toContain('${');
    expect(app.ports ?? []).toEqual([]);
  });

  it('with compose.lan.yml the UI is published in host mode on LAN_PORT (8080 when unset)', () => {
    expect(lan.services!.app!.ports).toEqual([expect.objectContaining({ target: 3000, published: 18080, mode: 'host' })]);
    expect(lan.services!.app!.image).toBe(rawApp.image);
    const unset = render(['compose.yml', 'compose.lan.yml'], deployEnv());
    expect(unset.services!.app!.ports).toEqual([expect.objectContaining({ published: 8080 })]);
  });

  it('with compose.zims.yml the ZIM folder is mounted at the same path and named to the node', () => {
    const zims = render(['compose.yml', 'compose.zims.yml'], deployEnv({ ZIM_ROOT: '/mnt/zims' }));
    expect(zims.services!.app!.volumes).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'bind', source: '/mnt/zims', target: '/mnt/zims' })]));
    expect(asMap(zims.services!.app!.environment).ZIM_ROOT).toBe('/mnt/zims');
  });

  it('with compose.backups.yml Docker’s volumes folder and the repository folder are mounted at the same path', () => {
    const b = render(['compose.yml', 'compose.backups.yml'], deployEnv({ BACKUP_REPOSITORY_DIR: '/mnt/usb/backups' }));
    expect(b.services!.app!.volumes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'bind', source: '/var/lib/docker/volumes', target: '/var/lib/docker/volumes' }),
        expect.objectContaining({ type: 'bind', source: '/mnt/usb/backups', target: '/mnt/usb/backups' }),
      ]),
    );
    expect(asMap(b.services!.app!.environment).DOCKER_VOLUMES_DIR).toBe('/var/lib/docker/volumes');
  });

  it('with compose.mdns.yml: a responder from the same image on the host network, and *.local sent by Traefik to the node', () => {
    const env = deployEnv({ LAN_ADDRESS: '192.168.1.10', NODE_NAME: 'library' });
    const m = render(['compose.yml', 'compose.mdns.yml'], env);
    const app = m.services!.app!;
    const labels = asMap(app.deploy?.labels);
    // The node's own router stays; a second one, on plain http, takes every .local name at the lowest priority.
    expect(labels[`traefik.http.routers.${STACK_NAME}.rule`]).toBe(`Host(\`${sample.get('DOMAIN')}\`)`);
    expect(labels[`traefik.http.routers.${STACK_NAME}-local.rule`]).toBe('HostRegexp(`^.+\\.local$`)');
    expect(new RegExp('^.+\\.local$').test('kiwix-library.local')).toBe(true);
    expect(labels[`traefik.http.routers.${STACK_NAME}-local.entrypoints`]).toBe('web');
    expect(labels[`traefik.http.routers.${STACK_NAME}-local.priority`]).toBe('1');
    expect(labels[`traefik.http.routers.${STACK_NAME}-local.service`]).toBe(STACK_NAME);
    expect(labels[`traefik.http.services.${STACK_NAME}.loadbalancer.server.port`]).toBe('3000');
    // The node routes turned-on names to Traefik's https entrypoint on this host; it runs no mDNS itself (overlay network).
    const appEnv = asMap(app.environment);
    expect(appEnv.LOCAL_NAMES_UPSTREAM).toBe('https://192.168.1.10:443');
    expect(appEnv.NODE_NAME).toBe('library');
    expect(appEnv.LAN_ADDRESS).toBeUndefined();
    expect(appEnv.NODE_DOMAIN).toBe(sample.get('NODE_DOMAIN')); // compose.yml's environment is kept
    expect(appEnv.LORES_ENV_LAN_ADDRESS).toBe('192.168.1.10');
    expect(appEnv.LORES_ENV_NODE_NAME).toBe('library');
    const netNames = (n: Service['networks']) => (Array.isArray(n) ? n : Object.keys(n ?? {}));
    expect(netNames(app.networks)).toEqual(['proxy']);
    // The responder: the node's image (the one tag to release), only `cli.js mdns`, on the swarm's host network.
    const mdns = m.services!.mdns!;
    expect(mdns.image).toBe(rawApp.image);
    expect((mdns as { command?: string[] }).command).toEqual(['node', 'dist/app/cli.js', 'mdns']);
    expect(asMap(mdns.environment)).toMatchObject({ LAN_ADDRESS: '192.168.1.10', NODE_NAME: 'library' });
    expect(netNames(mdns.networks)).toEqual(['hostnet']);
    expect(m.networks?.hostnet).toEqual({ external: true, name: 'host' });
    expect(mdns.healthcheck?.test).toEqual(['CMD', 'node', 'dist/app/cli.js', 'mdns', '--check']);
    expect(mdns.deploy?.placement?.constraints).toEqual(['node.role == manager']);
    expect(mdns.volumes ?? []).toEqual([]); // no socket, no data: it knows only the address and the name
    expect(JSON.stringify(m)).not.toContain('${');
    // Without the address or the name the overlay does not deploy, saying which is missing.
    expect(() => renderHere(['compose.yml', 'compose.mdns.yml'], deployEnv({ NODE_NAME: 'library' }))).toThrow(/LAN_ADDRESS/);
    expect(() => renderHere(['compose.yml', 'compose.mdns.yml'], deployEnv({ LAN_ADDRESS: '192.168.1.10' }))).toThrow(/NODE_NAME/);
  });

  it('the interpolation used without a docker CLI agrees with docker stack config', () => {
    const here = renderHere(['compose.yml', 'compose.lan.yml'], deployEnv({ LAN_PORT: '18080' }));
    expect(asMap(here.services!.app!.deploy?.labels)).toEqual(asMap(lan.services!.app!.deploy?.labels));
    expect(here.secrets?.admin_password?.name).toBe(lan.secrets?.admin_password?.name);
    expect(here.services!.app!.ports).toEqual(lan.services!.app!.ports);
  });
});
