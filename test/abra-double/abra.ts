#!/usr/bin/env node
// A test double for abra 0.13.0-beta (the Co-op Cloud CLI): the commands LoRes Node runs, done for real against the
// local Docker swarm and recipe git repos under $ABRA_DIR. Test-only: app code must never import it.
// README.md next to this file lists what it implements, where it differs from real abra, and how to inject faults.
import { randomInt } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse as parseYaml, stringify } from 'yaml';

const VERSION = 'abra version 0.13.0-beta (double)';
const ABRA_DIR = process.env.ABRA_DIR || path.join(homedir(), '.abra');
const SERVERS = path.join(ABRA_DIR, 'servers');

class Fatal extends Error {}
const fatal = (message: string): never => {
  throw new Fatal(message);
};
const info = (m: string): void => void process.stderr.write(`INFO ${m}\n`);
const warn = (m: string): void => void process.stderr.write(`WARN ${m}\n`);
const out = (m: string): void => void process.stdout.write(`${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- argv ------------------------------------------------------------------------------------------------------
type Flags = Record<string, string | boolean>;
type Cmd = { bool: string; value?: string; args: [number, number]; prompts?: boolean; run: (args: string[], f: Flags) => Promise<void> };
// Flag specs are "long:short" pairs separated by spaces. Global flags: -n/--no-input, -o/--offline, -d/--debug.
const GLOBAL = 'no-input:n offline:o debug:d';

function parseFlags(tokens: string[], cmd: Cmd): { args: string[]; flags: Flags } {
  const specs = (s = '') => s.split(' ').filter(Boolean).map((p) => p.split(':') as [string, string]);
  const bools = [...specs(GLOBAL), ...specs(cmd.bool)];
  const values = specs(cmd.value);
  const byShort = (c: string) => bools.find((b) => b[1] === c) ?? values.find((v) => v[1] === c);
  const args: string[] = [];
  const flags: Flags = {};
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.startsWith('--') && t.length > 2) {
      const [name = '', inline] = t.slice(2).split(/=(.*)/s);
      if (values.some((v) => v[0] === name)) flags[name] = inline ?? tokens[++i] ?? fatal(`flag needs an argument: --${name}`);
      else if (bools.some((b) => b[0] === name) && [undefined, 'true', 'false'].includes(inline)) flags[name] = inline !== 'false';
      else fatal(`unknown flag: --${name}`);
    } else if (t.startsWith('-') && t.length > 1) {
      for (let j = 1; j < t.length; j++) {
        const spec = byShort(t[j]!) ?? fatal(`unknown shorthand flag: '${t[j]}' in ${t}`);
        if (values.includes(spec)) {
          const rest = t.slice(j + 1).replace(/^=/, '');
          flags[spec[0]] = rest || (tokens[++i] ?? fatal(`flag needs an argument: '${t[j]}' in ${t}`));
          break;
        }
        flags[spec[0]] = true;
      }
    } else args.push(t);
  }
  const [min, max] = cmd.args;
  if (args.length < min || args.length > max) fatal(`expected ${min}${max > min ? `-${max}` : ''} arguments, got ${args.length}: ${args.join(' ')}`);
  return { args, flags };
}

// ---- env files, recipes ----------------------------------------------------------------------------------------
type EnvLine = { key: string; value: string; comment: string };
const expand = (v: string, vars: Record<string, string>) => v.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => vars[a ?? b] ?? '');

/** One uncommented KEY=VALUE line, godotenv-style: quotes stripped, `$VAR` expanded (not in '…'), ` # …` is a comment. */
function parseLine(line: string, vars: Record<string, string>): EnvLine | undefined {
  const m = /^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=\s*(.*)$/.exec(line);
  if (!m) return undefined;
  const rest = m[2]!.trim();
  const q = rest[0];
  if (q === '"' || q === "'") {
    const end = rest.indexOf(q, 1);
    const raw = end < 0 ? rest.slice(1) : rest.slice(1, end);
    const after = end < 0 ? '' : rest.slice(end + 1);
    return { key: m[1]!, value: q === '"' ? expand(raw, vars) : raw, comment: after.includes('#') ? after.slice(after.indexOf('#') + 1).trim() : '' };
  }
  const hash = rest.search(/\s#/);
  const raw = (hash < 0 ? rest : rest.slice(0, hash)).trim();
  return { key: m[1]!, value: expand(raw, vars), comment: hash < 0 ? '' : rest.slice(hash).replace(/^\s*#\s*/, '') };
}

function parseEnv(text: string): { vars: Record<string, string>; lines: EnvLine[] } {
  const vars: Record<string, string> = {};
  const lines: EnvLine[] = [];
  for (const l of text.split('\n')) {
    const e = parseLine(l, vars);
    if (e) (vars[e.key] = e.value), lines.push(e);
  }
  return { vars, lines };
}

/** Rewrites the first uncommented TYPE=/RECIPE= line to <key>=<recipe>:<version> (adds TYPE= on top if none). */
function withVersion(text: string, recipe: string, version: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => /^(TYPE|RECIPE)=/.test(l));
  if (i < 0) return `TYPE=${recipe}:${version}\n${text}`;
  lines[i] = `${lines[i]!.startsWith('RECIPE=') ? 'RECIPE' : 'TYPE'}=${recipe}:${version}`;
  return lines.join('\n');
}

const recipeDir = (recipe: string) => path.join(ABRA_DIR, 'recipes', recipe);
const servers = () => (existsSync(SERVERS) ? readdirSync(SERVERS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : []);

function cmpParts(a: string, b: string): number {
  const [pa, pb] = [a.split(/[.-]/), b.split(/[.-]/)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const [x = '', y = ''] = [pa[i], pb[i]];
    const c = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (c) return Math.sign(c);
  }
  return 0;
}
const cmpVersion = (a: string, b: string) => {
  const [am = '', au = ''] = a.split('+');
  const [bm = '', bu = ''] = b.split('+');
  return cmpParts(am, bm) || cmpParts(au, bu);
};

async function sh(file: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await execa(file, args, { reject: false, env: opts.env, ...(opts.input === undefined ? { stdin: 'ignore' } : { input: opts.input }) });
  if (r.exitCode !== 0) fatal(String(r.stderr || r.stdout || r.shortMessage).trim().replace(/\s*\n\s*/g, ' '));
  return String(r.stdout);
}

/** Annotated tags only (lightweight tags are not recipe versions, lint R014), oldest first. */
async function versions(recipe: string): Promise<string[]> {
  if (!existsSync(path.join(recipeDir(recipe), '.git'))) fatal(`unable to find recipe ${recipe} in ${path.join(ABRA_DIR, 'recipes')}`);
  const refs = await sh('git', ['-C', recipeDir(recipe), 'for-each-ref', '--format=%(objecttype) %(refname:lstrip=2)', 'refs/tags']);
  return refs.split('\n').filter((l) => l.startsWith('tag ')).map((l) => l.slice(4)).sort(cmpVersion);
}
async function knownVersion(recipe: string, version: string): Promise<string> {
  return (await versions(recipe)).includes(version) ? version : fatal(`${version} is not a published version of ${recipe}`);
}
const gitShow = async (recipe: string, ref: string) => (await execa('git', ['-C', recipeDir(recipe), 'show', ref], { reject: false })).stdout;

type App = { name: string; server: string; file: string; text: string; vars: Record<string, string>; recipe: string; version: string; stack: string };
function loadApp(name: string, server?: string): App {
  const server_ = server ?? servers().find((s) => existsSync(path.join(SERVERS, s, `${name}.env`))) ?? fatal(`cannot find app with name ${name}`);
  const file = path.join(SERVERS, server_, `${name}.env`);
  const text = readFileSync(file, 'utf8');
  const { vars } = parseEnv(text);
  const [recipe = '', version = ''] = (vars.TYPE ?? vars.RECIPE ?? '').split(':');
  if (!recipe) fatal(`${name} has no TYPE or RECIPE in its env file`);
  return { name, server: server_, file, text, vars, recipe, version, stack: vars.STACK_NAME || name.replace(/\./g, '_').slice(0, 45) };
}

// ---- docker ----------------------------------------------------------------------------------------------------
const nsFilter = (stack: string) => `label=com.docker.stack.namespace=${stack}`;
const stackServices = async (stack: string) =>
  (await sh('docker', ['service', 'ls', '--filter', nsFilter(stack), '--format', '{{.Name}}'])).split('\n').filter(Boolean);
async function deployedLabels(stack: string): Promise<Record<string, string>> {
  const r = await execa('docker', ['service', 'inspect', `${stack}_app`, '--format', '{{json .Spec.Labels}}'], { reject: false });
  return r.exitCode === 0 ? (JSON.parse(r.stdout) ?? {}) : {};
}

/** Waits until every service shows N/N replicas and no rolling update is in progress; a rollback is a failure. */
async function converge(stack: string, timeoutS: number): Promise<void> {
  const until = Date.now() + timeoutS * 1000;
  for (;;) {
    await sleep(500);
    const rows = (await sh('docker', ['service', 'ls', '--filter', nsFilter(stack), '--format', '{{.Name}} {{.Replicas}}'])).split('\n').filter(Boolean);
    const full = rows.length > 0 && rows.every((r) => {
      const m = /\s(\d+)\/(\d+)/.exec(r); // "<name> 1/1" or "<name> 1/1 (max 1 per node)"
      return m !== null && m[1] === m[2];
    });
    if (full) {
      const names = rows.map((r) => r.split(' ')[0]!);
      const states = (await sh('docker', ['service', 'inspect', ...names, '--format', '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}'])).split('\n');
      const failed = states.find((s) => / (rollback_\w+|paused)$/.test(s));
      if (failed) fatal(`deploy failed 🛑 (${failed.trim()})`);
      if (!states.some((s) => / updating$/.test(s))) return;
    }
    if (Date.now() > until) fatal('deploy timed out 🙁');
  }
}

/** The app service's coop-cloud.<stack>.timeout label as the compose files render it (last file wins). */
function timeoutFrom(files: string[], env: Record<string, string | undefined>, stack: string): number | undefined {
  const interp = (s: string) =>
    s.replace(/\$\{(\w+)(:?-)?([^}]*)\}|\$(\w+)/g, (_, a, op, def, b) => {
      const v = env[a ?? b];
      return op === ':-' ? v || def : op === '-' ? (v ?? def) : (v ?? '');
    });
  let found: string | undefined;
  for (const f of files) {
    const labels = parseYaml(readFileSync(f, 'utf8'))?.services?.app?.deploy?.labels ?? {};
    const pairs: [string, unknown][] = Array.isArray(labels) ? labels.map((l: string) => String(l).split(/=(.*)/s) as [string, string]) : Object.entries(labels);
    for (const [k, v] of pairs) if (interp(k) === `coop-cloud.${stack}.timeout`) found = interp(String(v ?? ''));
  }
  return found && Number(found) > 0 ? Number(found) : undefined;
}

/** The `export KEY=VALUE` lines of the recipe's abra.sh (config versions, lint R012): abra adds them to the deploy env. */
function abraShExports(repo: string): Record<string, string> {
  const file = path.join(repo, 'abra.sh');
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => /^\s*export\s+[A-Za-z_]\w*=/.test(l));
  return parseEnv(lines.join('\n')).vars;
}

async function deploy(app: App, version: string, f: Flags): Promise<void> {
  const repo = recipeDir(app.recipe);
  if (!f.chaos && (await sh('git', ['-C', repo, 'status', '--porcelain'])).trim()) fatal(`${app.recipe} has locally unstaged changes? please commit/remove your changes before proceeding`);
  await sh('git', ['-C', repo, 'checkout', '-q', version]);
  const env = { ...app.vars, ...abraShExports(repo), STACK_NAME: app.stack };
  const files = (app.vars.COMPOSE_FILE || 'compose.yml').split(':').filter(Boolean).map((c) => path.join(repo, c));
  const tmp = mkdtempSync(path.join(tmpdir(), 'abra-double-'));
  const override = path.join(tmp, 'compose.abra-labels.yml');
  const labels = { [`coop-cloud.${app.stack}.recipe`]: app.recipe, [`coop-cloud.${app.stack}.version`]: version, [`coop-cloud.${app.stack}.chaos`]: 'false' };
  writeFileSync(override, stringify({ version: '3.8', services: { app: { deploy: { labels } } } }));
  info(`deploying ${app.recipe} ${version} to ${app.name}`);
  try {
    await sh('docker', ['stack', 'deploy', '--resolve-image', 'never', '--prune', ...files.flatMap((c) => ['-c', c]), '-c', override, app.stack], { env });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  writeFileSync(app.file, withVersion(readFileSync(app.file, 'utf8'), app.recipe, version));
  if (f['no-converge-checks']) return warn('skipping converge checks');
  const timeout = timeoutFrom(files, { ...process.env, ...env }, app.stack) ?? (Number(app.vars.TIMEOUT) || 120);
  info(`waiting up to ${timeout}s for ${app.stack} to converge`);
  await converge(app.stack, timeout);
  info(`${app.name} deployed at ${version}`);
}

// ---- secrets -----------------------------------------------------------------------------------------------------
const WORDS = 'acorn amber apple basil birch bramble brook clover comet coral cedar daisy delta dune ember fable fern flint grove harbor hazel heron iris ivy juniper kestrel lagoon lantern maple meadow moss nectar oak orchid otter pebble pine quartz raven reed river sage sparrow spruce thistle tide tulip valley willow wren yarrow'.split(' ');
function secretValue(mods: Record<string, string>, name: string): string {
  // Tests that look for leaks need to know the values: ABRA_DOUBLE_SECRET_PREFIX makes them `<prefix><name>`.
  if (process.env.ABRA_DOUBLE_SECRET_PREFIX) return `${process.env.ABRA_DOUBLE_SECRET_PREFIX}${name}`;
  if (!mods.length) return Array.from({ length: 4 }, () => WORDS[randomInt(WORDS.length)]).join('-');
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789' + (mods.charset?.includes('special') ? '!@#%^&*()-_=+[]{}:,.?' : '');
  return Array.from({ length: Number(mods.length) }, () => chars[randomInt(chars.length)]).join('');
}

async function secretGenerate([domain = '', only, onlyVersion]: string[], f: Flags): Promise<void> {
  if (!f.all && !(only && onlyVersion)) fatal('missing arguments <secret>/<version> or \'--all\'');
  const app = loadApp(domain);
  const result: Record<string, string>[] = [];
  for (const { key, value, comment } of parseEnv(app.text).lines) {
    const name = /^SECRET_(\w+)_VERSION$/.exec(key)?.[1]?.toLowerCase();
    if (!name || (only && name !== only)) continue;
    const mods = Object.fromEntries([...comment.matchAll(/(\w+)=([^\s,]+)/g)].map((m) => [m[1]!, m[2]!]));
    if (mods.generate === 'false') continue;
    const version = only ? onlyVersion! : value;
    const dockerName = `${app.stack}_${name}_${version}`;
    const secret = secretValue(mods, name);
    await sh('docker', ['secret', 'create', dockerName, '-'], { input: secret });
    result.push({ name, version, 'generated name': dockerName, value: secret });
  }
  if (only && !result.length) fatal(`${only} is not a secret of ${domain}`);
  if (f.machine) machineSecrets(result);
  else for (const s of result) out(`${s.name}\t${s.version}\t${s.value}`);
}

/**
 * The -m answer, or (ABRA_DOUBLE_SECRETS_OUTPUT, for tests of the node's parsing and of leaks) a noisier one:
 * `noisy`: spinner frames, colours and carriage returns on the JSON's line, log lines before and after;
 * `unparseable`: the values in JSON cut short; `panic`: the JSON, then a Go panic and exit code 2 (no FATA line).
 */
function machineSecrets(result: Record<string, string>[]): void {
  const json = JSON.stringify(result);
  const mode = process.env.ABRA_DOUBLE_SECRETS_OUTPUT;
  if (mode === 'noisy') {
    warn('[beta] secrets are generated {once}');
    process.stdout.write(`\u001b[?25l\u280b generating secrets…\r\u2819 generating secrets…\r\u001b[2K\u001b[32m${json}\u001b[0m\r\n`);
    info('secrets generated ✓ [done]');
  } else if (mode === 'unparseable') {
    process.stdout.write(`\u280b ${json.slice(0, -2)}\n`);
  } else if (mode === 'panic') {
    out(json);
    process.stderr.write('panic: runtime error: invalid memory address or nil pointer dereference\ngoroutine 1 [running]:\n');
    process.exit(2);
  } else out(json);
}

// ---- commands ----------------------------------------------------------------------------------------------------
async function appNew([recipe = '', wanted]: string[], f: Flags): Promise<void> {
  const all = servers();
  const server = typeof f.server === 'string' ? f.server : all.length === 1 ? all[0]! : fatal('no server provided (pass --server)');
  if (!all.includes(server)) fatal(`server ${server} does not exist (run abra server add first)`);
  const domain = typeof f.domain === 'string' ? f.domain : fatal('no domain provided (pass --domain)');
  const tags = await versions(recipe);
  const version = wanted ? await knownVersion(recipe, wanted) : (tags.at(-1) ?? fatal(`${recipe} has no published versions`));
  const file = path.join(SERVERS, server, `${domain}.env`);
  if (existsSync(file)) fatal(`${domain} already exists`);
  const sample = await sh('git', ['-C', recipeDir(recipe), 'show', `${version}:.env.sample`]);
  const lines = sample.split('\n');
  const d = lines.findIndex((l) => /^DOMAIN=/.test(l));
  if (d >= 0) lines[d] = `DOMAIN=${domain}`;
  const text = withVersion(d >= 0 ? lines.join('\n') : `DOMAIN=${domain}\n${sample}`, recipe, version);
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  info(`new app ${domain} created from ${recipe} ${version}`);
}

async function appDeploy([domain = '', wanted]: string[], f: Flags): Promise<void> {
  const app = loadApp(domain);
  const version = wanted ? await knownVersion(app.recipe, wanted) : (!f['ignore-env-version'] && app.version) || ((await versions(app.recipe)).at(-1) ?? fatal(`${app.recipe} has no published versions`));
  if ((await stackServices(app.stack)).length && (await deployedLabels(app.stack))[`coop-cloud.${app.stack}.version`] === version && !f.force)
    fatal(`${domain} is already deployed at ${version} (use --force to redeploy)`);
  await deploy(app, version, f);
}

function appMove(direction: 'upgrade' | 'rollback') {
  return async ([domain = '', wanted]: string[], f: Flags): Promise<void> => {
    const app = loadApp(domain);
    if (!(await stackServices(app.stack)).length) fatal(`${domain} is not deployed?`);
    const current = app.version || (await deployedLabels(app.stack))[`coop-cloud.${app.stack}.version`] || fatal(`cannot tell which version ${domain} is on`);
    const sign = direction === 'upgrade' ? 1 : -1;
    const candidates = (await versions(app.recipe)).filter((v) => Math.sign(cmpVersion(v, current)) === sign);
    const version = wanted ? await knownVersion(app.recipe, wanted) : (candidates.at(-1) ?? fatal(`no ${direction} available for ${domain} (on ${current})`));
    if (!candidates.includes(version)) fatal(`${version} is not ${sign > 0 ? 'newer' : 'older'} than ${current}: cannot ${direction} ${domain}`);
    if (direction === 'upgrade') {
      const notes = await gitShow(app.recipe, `${version}:release/${version}`);
      if (notes.trim()) out(notes.trimEnd());
      // Real abra's -r/--releasenotes means "only show release notes" (abra-reference.md §3.1, [M]): no upgrade happens.
      if (f.releasenotes) return warn('--releasenotes: showed the release notes only; nothing was upgraded');
    }
    info(`${direction === 'upgrade' ? 'upgrading' : 'rolling back'} ${domain} from ${current} to ${version}`);
    await deploy(app, version, f);
  };
}

async function waitGone(stack: string, seconds: number): Promise<void> {
  for (const until = Date.now() + seconds * 1000; Date.now() < until; await sleep(500))
    if (!(await sh('docker', ['ps', '-aq', '--filter', nsFilter(stack)])).trim()) return;
  fatal(`timed out waiting for ${stack} to be removed`);
}

async function appUndeploy([domain = '']: string[]): Promise<void> {
  const app = loadApp(domain);
  if (!(await stackServices(app.stack)).length) fatal(`${domain} is not deployed?`);
  info(`undeploying ${domain}`);
  const removed = await execa('docker', ['stack', 'rm', app.stack], { reject: false });
  await waitGone(app.stack, 60);
  // docker 20.10's `stack rm` removes the networks without waiting for the tasks to stop, and fails when one is still
  // attached ("is in use by task", a race seen in CI). Undeploying means the stack ends up gone: once its tasks
  // are, the double removes what is left, and fails only if that fails too.
  if (removed.exitCode !== 0) await sh('docker', ['stack', 'rm', app.stack]);
  info(`${domain} undeployed`);
}

async function appRemove([domain = '']: string[]): Promise<void> {
  const app = loadApp(domain);
  if ((await stackServices(app.stack)).length) fatal(`${domain} is still deployed, undeploy it first`);
  for (const v of (await sh('docker', ['volume', 'ls', '-q', '--filter', nsFilter(app.stack)])).split('\n').filter(Boolean)) {
    await sh('docker', ['volume', 'rm', v]);
    info(`volume ${v} removed`);
  }
  for (const kind of ['secret', 'config']) {
    const names = (await sh('docker', [kind, 'ls', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith(`${app.stack}_`));
    for (const n of names) {
      await sh('docker', [kind, 'rm', n]);
      info(`${kind} ${n} removed`);
    }
  }
  unlinkSync(app.file);
  info(`file: ${app.file} removed`);
}

async function appRestart([domain = '', service]: string[], f: Flags): Promise<void> {
  const app = loadApp(domain);
  const running = await stackServices(app.stack);
  if (!running.length) fatal(`${domain} is not deployed?`);
  const targets = f['all-services'] ? running : service ? [`${app.stack}_${service}`] : fatal('missing <service> (or pass --all-services)');
  for (const t of targets) {
    if (!running.includes(t)) fatal(`${t} is not a service of ${domain}`);
    await sh('docker', ['service', 'update', '--force', '--detach', t]);
    info(`${t} restarted`);
  }
}

async function appLs(_: string[], f: Flags): Promise<void> {
  const result: Record<string, Record<string, unknown>> = {};
  for (const server of servers().filter((s) => !f.server || s === f.server)) {
    const apps: Record<string, string>[] = [];
    for (const file of readdirSync(path.join(SERVERS, server)).filter((n) => n.endsWith('.env')).sort()) {
      const app = loadApp(file.slice(0, -4), server);
      if (f.recipe && app.recipe !== f.recipe) continue;
      const row = { server, recipe: app.recipe, appName: app.name, domain: app.vars.DOMAIN || app.name, status: 'unknown', chaos: 'unknown', chaosVersion: 'unknown', version: 'unknown', upgrade: 'unknown' };
      if (f.status) {
        const labels = (await stackServices(app.stack)).length ? await deployedLabels(app.stack) : undefined;
        row.status = labels ? 'deployed' : 'undeployed';
        row.chaos = labels?.[`coop-cloud.${app.stack}.chaos`] ?? 'unknown';
        row.chaosVersion = labels?.[`coop-cloud.${app.stack}.chaos-version`] ?? 'unknown';
        const deployed = labels?.[`coop-cloud.${app.stack}.version`];
        if (deployed) {
          row.version = deployed;
          const newer = (await versions(app.recipe)).filter((v) => cmpVersion(v, deployed) > 0);
          row.upgrade = newer.length ? newer.reverse().join('\n') : 'latest';
        }
      }
      apps.push(row);
    }
    if (!apps.length) continue;
    const deployed = apps.filter((a) => a.status === 'deployed');
    result[server] = {
      apps,
      appCount: apps.length,
      versionCount: deployed.filter((a) => a.version !== 'unknown').length,
      unversionedCount: deployed.filter((a) => a.version === 'unknown').length,
      latestCount: apps.filter((a) => a.upgrade === 'latest').length,
      upgradeCount: apps.filter((a) => !['latest', 'unknown'].includes(a.upgrade!)).length,
    };
  }
  if (f.machine) return out(JSON.stringify(result));
  for (const s of Object.values(result)) for (const a of s.apps as Record<string, string>[]) out([a.server, a.recipe, a.appName, a.status, a.version].join('\t'));
}

// Where `recipe fetch` clones from: Co-op Cloud's forge in real abra; tests point it at local repositories.
const GIT_BASE = process.env.ABRA_DOUBLE_GIT_BASE || 'https://git.coopcloud.tech/coop-cloud';

async function recipeFetch([recipe = '']: string[], f: Flags): Promise<void> {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(recipe)) fatal(f.all ? 'the abra double does not support recipe fetch --all' : 'recipe fetch needs a recipe name');
  const dir = recipeDir(recipe);
  if (existsSync(path.join(dir, '.git'))) {
    await sh('git', ['-C', dir, 'fetch', '--tags', '--force', '-q', 'origin']);
    return info(`${recipe} recipe updated`);
  }
  mkdirSync(path.dirname(dir), { recursive: true });
  await sh('git', ['clone', '-q', `${GIT_BASE}/${recipe}.git`, dir]);
  info(`${recipe} recipe fetched`);
}

async function serverAdd([host]: string[], f: Flags): Promise<void> {
  if (host || !f.local) fatal('the abra double only supports: abra server add --local');
  const dir = path.join(SERVERS, 'default');
  if (existsSync(dir)) return warn('server default already exists');
  mkdirSync(dir, { recursive: true });
  info('local server successfully added');
}

async function serverLs(_: string[], f: Flags): Promise<void> {
  const rows = servers().map((name) => ({ name, host: name === 'default' ? 'local' : name }));
  if (f.machine) out(JSON.stringify(rows));
  else for (const r of rows) out(`${r.name}\t${r.host}`);
}

const DEPLOY_FLAGS = 'force:f no-domain-checks:D no-converge-checks:c chaos:C';
const COMMANDS: Record<string, Cmd> = {
  'server add': { bool: 'local:l', args: [0, 1], run: serverAdd },
  'server ls': { bool: 'machine:m problems:p', args: [0, 0], run: serverLs },
  'app new': { bool: 'chaos:C', value: 'server:s domain:D', args: [1, 2], prompts: true, run: appNew },
  'app secret generate': { bool: 'all:a machine:m chaos:C', args: [1, 3], run: secretGenerate },
  'app deploy': { bool: `${DEPLOY_FLAGS} ignore-env-version:i`, args: [1, 2], prompts: true, run: appDeploy },
  'app upgrade': { bool: `${DEPLOY_FLAGS} releasenotes:r`, args: [1, 2], prompts: true, run: appMove('upgrade') },
  'app rollback': { bool: DEPLOY_FLAGS, args: [1, 2], prompts: true, run: appMove('rollback') },
  'app undeploy': { bool: 'prune:p', args: [1, 1], prompts: true, run: appUndeploy },
  'app remove': { bool: 'force:f', args: [1, 1], prompts: true, run: appRemove },
  'app restart': { bool: 'all-services:a', args: [1, 2], run: appRestart },
  'app ls': { bool: 'machine:m status:S', value: 'server:s recipe:r', args: [0, 0], run: appLs },
  'recipe fetch': { bool: 'all:a force:f ssh:s', args: [0, 1], run: recipeFetch },
};
const ALIASES: Record<string, string> = { 'server list': 'server ls', 'app rm': 'app remove', 'app list': 'app ls' };

// ---- fault injection and main --------------------------------------------------------------------------------------
async function injectFault(command: string, typed: string): Promise<void> {
  const file = path.join(ABRA_DIR, '.double-faults.json');
  if (!existsSync(file)) return;
  const faults = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const fault = faults[command] ?? faults[typed] ?? faults[command.split(' ').slice(0, 2).join(' ')];
  if (fault === 'fail') {
    info(`starting ${command}`);
    info('doing some work');
    fatal('injected failure');
  }
  if (fault === 'hang') {
    info('working…');
    setInterval(() => {}, 1 << 30);
    await new Promise(() => {});
  }
  if (fault === 'hang-with-child') {
    // As abra waiting on a docker call it started: a child process of its own, for tests of stopping the whole tree.
    info('working… (waiting on a child process)');
    void execa('sleep', ['3600'], { reject: false });
    setInterval(() => {}, 1 << 30);
    await new Promise(() => {});
  }
  if (fault === 'garbage') {
    out('%% abra double: garbage {not json] <<<\n\u001b[31mnoise\u001b[0m ~~~');
    process.exit(0);
  }
}

async function main(argv: string[]): Promise<void> {
  mkdirSync(ABRA_DIR, { recursive: true });
  appendFileSync(path.join(ABRA_DIR, '.double-calls.jsonl'), `${JSON.stringify({ argv, at: Date.now() })}\n`);
  if (process.env.ABRA_DOUBLE_REQUIRE_TTY !== '0' && !process.stdin.isTTY && !process.stdout.isTTY) fatal('inappropriate ioctl for device');
  const words = argv.filter((a) => !a.startsWith('-'));
  const typed = [3, 2].map((n) => words.slice(0, n).join(' ')).find((w) => COMMANDS[w] || ALIASES[w]);
  if (!typed) {
    if (!words.length && (argv.includes('-v') || argv.includes('--version'))) return out(VERSION);
    fatal(words.length ? `unknown command "${words.join(' ')}" for "abra"` : `unknown flag: ${argv.join(' ') || '(none): abra needs a command'}`);
  }
  const name = ALIASES[typed!] ?? typed!;
  const cmd = COMMANDS[name]!;
  let skip = typed!.split(' ').length; // drop the command words themselves, keep everything else in order
  const { args, flags } = parseFlags(argv.filter((a) => a.startsWith('-') || skip-- <= 0), cmd);
  if (cmd.prompts && !flags['no-input']) fatal('this command would prompt for input; pass -n/--no-input (abra double never prompts)');
  await injectFault(name, typed!);
  await cmd.run(args, flags);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`FATA ${err instanceof Fatal ? err.message : String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
