// One place that reads the environment (and *_FILE secrets), validates it and fails fast.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
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
  // Which proxies may set X-Forwarded-*: Traefik reaches the node over a private overlay network.
  TRUST_PROXY: z.string().min(1).default('loopback, linklocal, uniquelocal'),
  SESSION_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
  // abra's recipe catalogue; empty for a node that never goes online (it then offers the recipes it has).
  CATALOGUE_URL: z.union([z.url({ protocol: /^https?$/ }), z.literal('')]).default('https://recipes.coopcloud.tech/recipes.json'),
  CATALOGUE_REFRESH_HOURS: z.coerce.number().positive().max(24 * 30).default(24),
  // Kiwix's OPDS catalogue of ZIM files (a node may use a local mirror).
  KIWIX_CATALOGUE_URL: z.url({ protocol: /^https?$/ }).default('https://library.kiwix.org'),
  // The host folder under which Kiwix apps keep their ZIM files: the node writes downloads only below it (in a
  // container, it is mounted at the same path: recipe/compose.zims.yml).
  ZIM_ROOT: z.string().regex(/^\/[^\0]*$/, 'must be an absolute path').default('/srv/zims'),
  // Set by the node's own recipe (its STACK_NAME): the node then manages itself like one of its apps.
  LORES_SELF_STACK: z.union([stackSchema, z.literal('')]).default(''),
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
  trustProxy: string;
  sessionMs: number;
  catalogueUrl: string;
  catalogueRefreshHours: number;
  kiwixCatalogueUrl: string;
  zimRoot: string;
  /** The node's own stack when it runs from its recipe, else ''. */
  selfStack: string;
  /** The node's own app env values, as its recipe passes them (`LORES_ENV_<KEY>`), to write its abra env file. */
  selfEnv: Record<string, string>;
};

export class ConfigError extends Error {}

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
    trustProxy: c.TRUST_PROXY,
    sessionMs: c.SESSION_HOURS * 3600_000,
    catalogueUrl: c.CATALOGUE_URL,
    catalogueRefreshHours: c.CATALOGUE_REFRESH_HOURS,
    kiwixCatalogueUrl: c.KIWIX_CATALOGUE_URL,
    zimRoot: path.resolve(c.ZIM_ROOT),
    selfStack: c.LORES_SELF_STACK,
    selfEnv: Object.fromEntries(
      Object.entries(env)
        .filter(([k, v]) => k.startsWith(SELF_ENV_PREFIX) && /^[A-Z_][A-Z0-9_]*$/.test(k.slice(SELF_ENV_PREFIX.length)) && v !== undefined)
        .map(([k, v]) => [k.slice(SELF_ENV_PREFIX.length), v!]),
    ),
  };
}
