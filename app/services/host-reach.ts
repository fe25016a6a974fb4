// What a recipe version would reach on the host if deployed: the Docker socket (root on the host), host folders,
// privileges, host namespaces, low host ports. Installing, configuring or upgrading to such a version needs an admin.
// `hostReachIn` is pure (compose texts and env values in, findings out); `hostReachAt` reads them from a checkout.
import path from 'node:path';
import { parse } from 'yaml';
import { fileAt } from '../adapters/recipes/checkout.ts';
import { readEnvValues } from './env-file.ts';
import { parseEnv } from '../adapters/abra/env-parse.ts';

/** One thing a deployed version would reach on the host, said in words. */
export type HostReach = string;

/** Settings whose host paths are checked elsewhere against a root (e.g. Kiwix's ZIM_FILES_PATH under ZIM_ROOT). */
export type ConfinedPaths = Record<string, string>;

type Env = ReadonlyMap<string, string>;
type Interpolated = { value: string; missing: string[] };

const SOCKETS = /(^|\/)(docker|containerd|podman|dockershim)\.sock$/;
const NAMESPACES: [key: string, words: string][] = [
  ['network_mode', 'network'],
  ['pid', 'process (PID)'],
  ['ipc', 'IPC'],
  ['userns_mode', 'user'],
  ['uts', 'UTS'],
  ['cgroup', 'cgroup'],
];
const PRIVILEGED_PORTS = 1024;

/** Compose's interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:+a}`, `${VAR+a}`, `${VAR:?e}`, `${VAR?e}`. */
export function interpolate(text: string, env: Env): Interpolated {
  const missing: string[] = [];
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j++) depth += text[j] === '{' ? 1 : text[j] === '}' ? -1 : 0;
      const body = text.slice(i + 2, j - 1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?$/s.exec(body);
      if (!m) {
        out += text.slice(i, j);
      } else {
        const [, name, op, arg = ''] = m as unknown as [string, string, string | undefined, string | undefined];
        const set = env.has(name!);
        const value = env.get(name!) ?? '';
        const empty = op?.startsWith(':') ? value === '' : !set;
        const inner = () => {
          const r = interpolate(arg, env);
          missing.push(...r.missing);
          return r.value;
        };
        if (op === ':-' || op === '-') out += empty ? inner() : value;
        else if (op === ':+' || op === '+') out += empty ? '' : inner();
        else {
          if (!set) missing.push(name!);
          out += value;
        }
      }
      i = j - 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
      if (!m) {
        out += c;
        continue;
      }
      if (!env.has(m[0])) missing.push(m[0]);
      out += env.get(m[0]) ?? '';
      i += m[0].length;
    }
  }
  return { value: out, missing };
}

const within = (p: string, root: string) => {
  const r = path.posix.resolve(root);
  return p === r || p.startsWith(r.endsWith('/') ? r : `${r}/`);
};
const asList = (x: unknown): unknown[] => (Array.isArray(x) ? x : x && typeof x === 'object' ? Object.keys(x) : []);
const truthy = (v: string) => ['true', 'yes', 'on', '1'].includes(v.toLowerCase());

type ComposeDoc = {
  services?: Record<string, Record<string, unknown> | null>;
  volumes?: Record<string, { driver_opts?: Record<string, unknown> } | null>;
  networks?: Record<string, { name?: unknown; external?: unknown } | null>;
  configs?: Record<string, { file?: unknown } | null>;
  secrets?: Record<string, { file?: unknown } | null>;
};

/** What one compose file's services would reach on the host, given the env values they are deployed with. */
function reachOfFile(file: string, text: string, env: Env, confined: ConfinedPaths): HostReach[] {
  let doc: ComposeDoc | null;
  try {
    doc = parse(text) as ComposeDoc | null;
  } catch {
    return [`${file} could not be read, so what it would reach on the host is unknown`];
  }
  const found: HostReach[] = [];
  const str = (x: unknown): Interpolated => (typeof x === 'string' ? interpolate(x, env) : { value: x === undefined || x === null ? '' : String(x), missing: [] });
  const unset = (r: Interpolated) => (r.missing.length ? ` (from ${r.missing.map((m) => `\${${m}}`).join(', ')}, not set)` : '');

  // A named volume of the local driver can be a bind mount in disguise (`o: bind`, `device: /host/path`).
  const namedBind = (name: string): string | undefined => {
    const opts = doc?.volumes?.[name]?.driver_opts;
    if (!opts) return undefined;
    const device = str(opts.device).value;
    const o = str(opts.o).value;
    return device && (/\bbind\b/.test(o) || device.startsWith('/')) ? device : undefined;
  };
  const hostPath = (service: string, rawSource: unknown, source: Interpolated) => {
    const src = source.value;
    const whole = typeof rawSource === 'string' ? /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(rawSource.trim())?.[1] : undefined;
    if (whole && confined[whole] !== undefined && path.posix.isAbsolute(src) && within(path.posix.normalize(src), confined[whole]!)) return;
    if (SOCKETS.test(path.posix.normalize(src || '/'))) found.push(`${service}: mounts the Docker socket (${src})`);
    else found.push(`${service}: mounts the host folder ${src || '(empty)'}${unset(source)}`);
  };

  for (const [service, spec] of Object.entries(doc?.services ?? {})) {
    if (!spec || typeof spec !== 'object') continue;
    for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
      if (typeof v === 'string') {
        const parts = str(v);
        const [source = '', target] = parts.value.split(':');
        if (target === undefined) continue; // an anonymous volume: a container path only
        if (/^[/.~]/.test(source) || source === '') hostPath(service, v.split(':')[0], { value: source, missing: parts.missing });
        else if (namedBind(source)) found.push(`${service}: mounts the host folder ${namedBind(source)} (volume ${source})`);
      } else if (v && typeof v === 'object') {
        const long = v as Record<string, unknown>;
        const type = str(long.type).value;
        const source = str(long.source);
        if (type === 'bind') hostPath(service, long.source, source);
        else if ((type === 'volume' || type === '') && namedBind(source.value)) found.push(`${service}: mounts the host folder ${namedBind(source.value)} (volume ${source.value})`);
      }
    }
    if (truthy(str(spec.privileged).value)) found.push(`${service}: runs privileged (every device and capability of the host)`);
    const caps = asList(spec.cap_add).map((c) => str(c).value).filter(Boolean);
    if (caps.length) found.push(`${service}: adds capabilities ${caps.join(', ')}`);
    const devices = asList(spec.devices).map((d) => (typeof d === 'object' && d ? str((d as Record<string, unknown>).source).value : str(d).value.split(':')[0])).filter(Boolean);
    if (devices.length) found.push(`${service}: uses host devices ${devices.join(', ')}`);
    for (const [key, words] of NAMESPACES) {
      if (str(spec[key]).value === 'host') found.push(`${service}: shares the host’s ${words} namespace (${key}: host)`);
    }
    // In a swarm stack, host networking is the predefined `host` network attached by name.
    for (const n of asList(spec.networks).map((x) => str(x).value)) {
      const declared = doc?.networks?.[n];
      if (n === 'host' || str(declared?.name).value === 'host') found.push(`${service}: joins the host’s network (network ${n})`);
    }
    for (const opt of asList(spec.security_opt).map((x) => str(x).value)) {
      if (/unconfined|label[:=]disable/.test(opt)) found.push(`${service}: lifts a security profile (security_opt ${opt})`);
    }
    for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
      let published: string;
      let mode: string;
      if (p && typeof p === 'object') {
        published = str((p as Record<string, unknown>).published).value;
        mode = str((p as Record<string, unknown>).mode).value || 'ingress';
      } else {
        const parts = str(p).value.replace(/\/(tcp|udp|sctp)$/, '').split(':');
        if (parts.length < 2) continue; // a container port only: nothing published
        published = parts.at(-2)!;
        mode = 'ingress';
      }
      const low = Number(published.split('-')[0]);
      if (published !== '' && Number.isInteger(low) && low < PRIVILEGED_PORTS) found.push(`${service}: publishes the host’s port ${published} (below 1024, ${mode} mode)`);
    }
  }
  // Configs and secrets read from files are read from the node's own disk when deployed.
  for (const kind of ['configs', 'secrets'] as const) {
    for (const [name, spec] of Object.entries(doc?.[kind] ?? {})) {
      const f = str(spec?.file).value;
      if (f && (path.posix.isAbsolute(f) || f.split('/').includes('..'))) found.push(`${kind.slice(0, -1)} ${name}: reads the node’s file ${f}`);
    }
  }
  return found;
}

/** Everything the given compose files would reach on the host, each finding once. */
export function hostReachIn(files: { file: string; text: string }[], env: Env, confined: ConfinedPaths = {}): HostReach[] {
  return [...new Set(files.flatMap((f) => reachOfFile(f.file, f.text, env, confined)))];
}

/** The compose files an env file deploys (its COMPOSE_FILE lines, built up line by line as abra reads them). */
export function composeFilesOf(envText: string): string[] {
  // abra's reading ($COMPOSE_FILE expanded, the last assignment winning), as the env parser does it.
  return (parseEnv(envText).values.get('COMPOSE_FILE') ?? 'compose.yml').split(':').filter(Boolean);
}

/** `export KEY=VALUE` lines of a recipe's abra.sh: abra adds them to the deploy environment. */
export function abraShExports(text: string | undefined): [string, string][] {
  const exports = [...(text ?? '').matchAll(/^\s*export\s+[A-Za-z_][A-Za-z0-9_]*=.*$/gm)].map((m) => m[0].trim());
  return [...parseEnv(exports.join('\n')).values];
}

/** What a recipe version would reach on the host, deployed with this env file (the values abra deploys it with). */
export async function hostReachAt(abraDir: string, recipe: string, version: string, envText: string, stack: string, confined: ConfinedPaths = {}): Promise<HostReach[]> {
  const env = new Map(readEnvValues(envText));
  for (const [k, v] of abraShExports(await fileAt(abraDir, recipe, version, 'abra.sh'))) env.set(k, v);
  env.set('STACK_NAME', stack);
  const files: { file: string; text: string }[] = [];
  for (const file of composeFilesOf(envText)) {
    if (!/^[A-Za-z0-9._-]+\.ya?ml$/.test(file)) return [`the compose file “${file.slice(0, 64)}” is not one of the recipe’s, so what it would reach is unknown`];
    const text = await fileAt(abraDir, recipe, version, file);
    if (text !== undefined) files.push({ file, text });
  }
  if (!files.length) return [`${recipe} ${version} has no compose file on this node, so what it would reach on the host is unknown`];
  return hostReachIn(files, env, confined);
}

/** One sentence for refusals and confirmations. */
export const describeReach = (reach: HostReach[]): string => reach.join('; ');
