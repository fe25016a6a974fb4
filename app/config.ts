// One place that reads the environment (and *_FILE secrets), validates it and fails fast.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { domainSchema, stackSchema } from './validation.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const configSchema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  ADMIN_PASSWORD: z.string().min(10, 'must be at least 10 characters').max(200).optional(),
  NODE_DOMAIN: z.union([domainSchema, z.literal('')]).default(''),
  ABRA_DIR: z.string().min(1).default(path.join(homedir(), '.abra')),
  DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  ABRA_BIN: z.string().min(1).default('abra'),
  // abra needs a terminal even with -n; `script` (util-linux) gives it one. `none` runs it directly.
  ABRA_PTY: z.enum(['script', 'none']).default('script'),
  ABRA_TIMEOUT_SECONDS: z.coerce.number().int().min(5).max(6 * 3600).default(1200),
  BUNDLED_RECIPES_DIR: z.string().min(1).default(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'recipes')),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  // Which peers may set X-Forwarded-* (the client's address, HTTPS): nothing but loopback unless told. The recipe
  // names Traefik's overlay network (`docker-network:proxy`), resolved to its subnets at start.
  TRUST_PROXY: z.string().min(1).default('loopback'),
  SESSION_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
  // abra's recipe catalogue; empty for a node that never goes online (it then offers the recipes it has).
  CATALOGUE_URL: z.union([z.url({ protocol: /^https?$/ }), z.literal('')]).default('https://recipes.coopcloud.tech/recipes.json'),
  CATALOGUE_REFRESH_HOURS: z.coerce.number().positive().max(24 * 30).default(24),
  // Kiwix's OPDS catalogue of ZIM files (a node may use a local mirror).
  KIWIX_CATALOGUE_URL: z.url({ protocol: /^https?$/ }).default('https://library.kiwix.org'),
  // The host folder under which Kiwix apps keep their ZIM files: the node writes downloads only below it (in a
  // container, it is mounted at the same path: recipe/compose.zims.yml).
  ZIM_ROOT: z.string().regex(/^\/[^\0]*$/, 'must be an absolute path').default('/srv/zims'),
  // The least a remote read (ZIM mirror, Metalink, catalogue) must deliver: below this rate over this window it is cut.
  NETWORK_FLOOR_BYTES_PER_SECOND: z.coerce.number().int().min(0).max(1e9).default(1024),
  NETWORK_FLOOR_SECONDS: z.coerce.number().min(1).max(3600).default(60),
  // Set by the node's own recipe (its STACK_NAME): the node then manages itself like one of its apps.
  LORES_SELF_STACK: z.union([stackSchema, z.literal('')]).default(''),
  // A region of nodes: this node's short name (the `<node>` in `<app>-<node>.local`), the URL other nodes reach it
  // at, and the LAN IPv4 address mDNS announces and listens on (unset: no mDNS at all, nothing sent on the LAN).
  NODE_NAME: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, 'must be a short lower-case DNS label (a-z, 0-9, -)').optional(),
  NODE_URL: z.url({ protocol: /^https?$/ }).optional(),
  LAN_ADDRESS: z.ipv4().optional(),
  // Deployed, the node cannot browse the LAN itself (multicast does not cross the overlay network): it reads the nodes
  // nearby from the mDNS responder's feed at this URL (recipe/compose.mdns.yml), which serves it on MDNS_NEARBY_PORT.
  MDNS_NEARBY_URL: z.url({ protocol: /^https?$/ }).optional(),
  MDNS_NEARBY_PORT: z.coerce.number().int().min(1).max(65535).default(5380),
  // Where requests for `<app>-<node>.local` go, with the Host header set to the app's own domain: Traefik.
  LOCAL_NAMES_UPSTREAM: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:80'),
  // How often paired nodes are asked for their status.
  REGION_POLL_SECONDS: z.coerce.number().min(1).max(3600).default(15),
  // Backups: restic, and the host folder of Docker's volumes (in the container the recipe mounts it at the same path).
  RESTIC_BIN: z.string().min(1).default('restic'),
  DOCKER_VOLUMES_DIR: z.string().regex(/^\/[^\0]*$/, 'must be an absolute path').default('/var/lib/docker/volumes'),
});

export type Config = {
  port: number;
  host: string;
  dataDir: string;
  adminPassword: string | undefined;
  nodeDomain: string;
  abraDir: string;
  dockerSocket: string;
  abraBin: string;
  abraPty: 'script' | 'none';
  abraTimeoutMs: number;
  bundledRecipesDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  trustProxy: TrustProxy;
  sessionMs: number;
  catalogueUrl: string;
  catalogueRefreshHours: number;
  kiwixCatalogueUrl: string;
  zimRoot: string;
  /** Remote reads slower than this on average over the window are cut (0 bytes per second: never). */
  readFloor: { minBytesPerSecond: number; windowMs: number };
  /** The node's own stack when it runs from its recipe, else ''. */
  selfStack: string;
  resticBin: string;
  dockerVolumesDir: string;
  /** The node's own app env values, as its recipe passes them (`LORES_ENV_<KEY>`), to write its abra env file. */
  selfEnv: Record<string, string>;
  region: { nodeName: string; nodeUrl: string; lanAddress: string | null; nearbyUrl: string | null; nearbyPort: number; localNamesUpstream: string; pollMs: number };
};

/** The machine's host name as a DNS label: `Library-Pi.local` → `library-pi`. */
const hostLabel = (h: string) => h.toLowerCase().split('.')[0]!.replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 32) || 'lores';

export class ConfigError extends Error {}

/** TRUST_PROXY parsed: address names (`loopback`, `linklocal`, `uniquelocal`), IPs and CIDRs; Docker networks by name. */
export type TrustProxy = { addresses: string[]; dockerNetworks: string[] };

const ADDRESS_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const DOCKER_NETWORK = /^docker-network:([A-Za-z0-9][A-Za-z0-9_.-]{0,127})$/;

/** `none`, or a comma-separated list of the forms above; anything else is a config error naming the item. */
export function parseTrustProxy(value: string): TrustProxy {
  const trust: TrustProxy = { addresses: [], dockerNetworks: [] };
  if (value.trim() === 'none') return trust;
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const network = DOCKER_NETWORK.exec(item);
    if (network) trust.dockerNetworks.push(network[1]!);
    else if (ADDRESS_NAMES.has(item) || isCidr(item)) trust.addresses.push(item);
    else throw new ConfigError(`Invalid configuration:\n  TRUST_PROXY: "${item}" is not loopback, linklocal, uniquelocal, an IP address, a CIDR subnet or docker-network:<name>`);
  }
  return trust;
}

function isCidr(item: string): boolean {
  const [ip, prefix, ...rest] = item.split('/');
  const family = isIP(ip ?? '');
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

// Settings that may come from a file (`NAME_FILE`), as Docker secrets do (/run/secrets/...).
const FILE_SETTINGS = ['ADMIN_PASSWORD'] as const;

/** Resolve `NAME_FILE` into `NAME` for the settings above; an unreadable file is a config error. */
function readSecretFiles(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of FILE_SETTINGS) {
    const key = `${name}_FILE`;
    const value = env[key];
    if (!value) continue;
    try {
      resolved[name] = readFileSync(value, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${key}: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  }
  return resolved;
}

/** Settings where empty means "none" rather than "the default". */
const KEEP_EMPTY = new Set(['NODE_DOMAIN', 'CATALOGUE_URL']);

/** Why `value` would stop the node at start as its setting `key` (the same rules, for its own settings form). */
export function settingProblem(key: string, value: string): string | undefined {
  const schema = configSchema.shape[key as keyof typeof configSchema.shape];
  if (!schema || (value === '' && !KEEP_EMPTY.has(key))) return undefined;
  const parsed = schema.safeParse(value);
  return parsed.success ? undefined : parsed.error.issues.map((i) => i.message).join('; ');
}

const SELF_ENV_PREFIX = 'LORES_ENV_';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = readSecretFiles(env);
  // Empty strings mean "unset" for optional settings, as in an env file with `KEY=`.
  for (const key of Object.keys(raw)) if (raw[key] === '' && !KEEP_EMPTY.has(key)) delete raw[key];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    host: c.HOST,
    dataDir: path.resolve(c.DATA_DIR),
    adminPassword: c.ADMIN_PASSWORD,
    nodeDomain: c.NODE_DOMAIN,
    abraDir: path.resolve(c.ABRA_DIR),
    dockerSocket: c.DOCKER_SOCKET,
    abraBin: c.ABRA_BIN,
    abraPty: c.ABRA_PTY,
    abraTimeoutMs: c.ABRA_TIMEOUT_SECONDS * 1000,
    bundledRecipesDir: path.resolve(c.BUNDLED_RECIPES_DIR),
    logLevel: c.LOG_LEVEL,
    trustProxy: parseTrustProxy(c.TRUST_PROXY),
    sessionMs: c.SESSION_HOURS * 3600_000,
    catalogueUrl: c.CATALOGUE_URL,
    catalogueRefreshHours: c.CATALOGUE_REFRESH_HOURS,
    kiwixCatalogueUrl: c.KIWIX_CATALOGUE_URL,
    zimRoot: path.resolve(c.ZIM_ROOT),
    readFloor: { minBytesPerSecond: c.NETWORK_FLOOR_BYTES_PER_SECOND, windowMs: c.NETWORK_FLOOR_SECONDS * 1000 },
    selfStack: c.LORES_SELF_STACK,
    region: {
      nodeName: c.NODE_NAME ?? hostLabel(hostname()),
      nodeUrl: (c.NODE_URL ?? `http://${c.LAN_ADDRESS ?? (c.HOST === '0.0.0.0' ? '127.0.0.1' : c.HOST)}:${c.PORT}`).replace(/\/$/, ''),
      lanAddress: c.LAN_ADDRESS ?? null,
      nearbyUrl: c.MDNS_NEARBY_URL ?? null,
      nearbyPort: c.MDNS_NEARBY_PORT,
      localNamesUpstream: c.LOCAL_NAMES_UPSTREAM.replace(/\/$/, ''),
      pollMs: c.REGION_POLL_SECONDS * 1000,
    },
    resticBin: c.RESTIC_BIN,
    dockerVolumesDir: path.resolve(c.DOCKER_VOLUMES_DIR),
    selfEnv: Object.fromEntries(
      Object.entries(env)
        .filter(([k, v]) => k.startsWith(SELF_ENV_PREFIX) && /^[A-Z_][A-Z0-9_]*$/.test(k.slice(SELF_ENV_PREFIX.length)) && v !== undefined)
        .map(([k, v]) => [k.slice(SELF_ENV_PREFIX.length), v!]),
    ),
  };
}
