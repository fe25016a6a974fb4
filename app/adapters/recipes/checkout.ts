// Reads recipes from abra's checkouts ($ABRA_DIR/recipes/<name>, git repos with annotated version tags)
// without touching their working trees (abra checks versions out there), and installs the recipes
// bundled with the node as such repos, so installs work offline.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { compareVersions, recipeNameSchema, recipeVersionSchema } from '../abra/names.ts';

const GIT_IDENTITY = ['-c', 'user.name=LoRes Node', '-c', 'user.email=node@lores.invalid', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false'];

const git = (repo: string, args: string[]) => execa('git', ['-C', repo, ...GIT_IDENTITY, ...args], { env: { LANG: 'C.UTF-8' } });

export const recipeDir = (abraDir: string, recipe: string) => path.join(abraDir, 'recipes', recipe);

export function listRecipes(abraDir: string): string[] {
  const dir = path.join(abraDir, 'recipes');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => recipeNameSchema.safeParse(name).success && existsSync(path.join(dir, name, '.git')))
    .sort();
}

/** Published versions (tags shaped like recipe versions), oldest first. */
export async function recipeVersions(abraDir: string, recipe: string): Promise<string[]> {
  const { stdout } = await git(recipeDir(abraDir, recipe), ['tag', '--list']);
  return stdout
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => recipeVersionSchema.safeParse(t).success)
    .sort(compareVersions);
}

/** A file as it is at a version, or undefined when the version does not have it. */
export async function fileAt(abraDir: string, recipe: string, version: string, file: string): Promise<string | undefined> {
  const r = await execa('git', ['-C', recipeDir(abraDir, recipe), 'show', `refs/tags/${version}:${file}`], { reject: false });
  return r.exitCode === 0 ? r.stdout : undefined;
}

export type ServiceImage = { service: string; image: string };

/** Every service's image in a version's compose.yml, for "what changes" on upgrade. */
export async function imagesAt(abraDir: string, recipe: string, version: string): Promise<ServiceImage[]> {
  const text = await fileAt(abraDir, recipe, version, 'compose.yml');
  if (!text) return [];
  const doc = parse(text) as { services?: Record<string, { image?: string }> } | null;
  return Object.entries(doc?.services ?? {}).map(([service, s]) => ({ service, image: String(s?.image ?? '') }));
}

/** The version a recipe tree declares: the `coop-cloud.${STACK_NAME}.version` label of its `app` service. */
export function declaredVersion(composeText: string): string | undefined {
  const doc = parse(composeText) as { services?: Record<string, { deploy?: { labels?: unknown } }> } | null;
  const labels = doc?.services?.app?.deploy?.labels;
  const entries = Array.isArray(labels) ? labels.map(String) : Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);
  const found = entries.map((l) => /^coop-cloud\.\$\{STACK_NAME\}\.version=(.+)$/.exec(l)?.[1]?.trim()).find(Boolean);
  return found && recipeVersionSchema.safeParse(found).success ? found : undefined;
}

/**
 * A bundled recipe is either a plain recipe tree (`recipes/<name>/compose.yml`, its version from the label), as
 * Co-op Cloud keeps them, or one folder per version (`recipes/<name>/<version>/`), which the tests use for upgrades.
 */
function bundledVersions(source: string): { version: string; tree: string }[] {
  const compose = path.join(source, 'compose.yml');
  if (existsSync(compose)) {
    const version = declaredVersion(readFileSync(compose, 'utf8'));
    return version ? [{ version, tree: source }] : [];
  }
  return readdirSync(source)
    .filter((v) => recipeVersionSchema.safeParse(v).success)
    .sort(compareVersions)
    .map((version) => ({ version, tree: path.join(source, version) }));
}

/** Where Co-op Cloud publishes recipes: abra clones `<base>/<recipe>.git` (the node's own recipe is published there too). */
export const RECIPES_GIT_BASE = 'https://git.coopcloud.tech/coop-cloud';

/**
 * Each bundled version becomes an annotated tag in $ABRA_DIR/recipes/<name> (abra needs them), created once, so
 * installs work offline and a newer node image adds its recipe versions on top. The checkout's `origin` is the
 * recipe's public repository, so `abra recipe fetch` (the node's "check for upgrades") finds newer versions when
 * online. A checkout abra cloned from elsewhere is left alone.
 */
export async function installBundledRecipes(bundledDir: string, abraDir: string, log: (msg: string) => void, gitBase = RECIPES_GIT_BASE): Promise<void> {
  if (!existsSync(bundledDir)) return;
  for (const name of readdirSync(bundledDir).sort()) {
    const source = path.join(bundledDir, name);
    if (!recipeNameSchema.safeParse(name).success || !statSync(source).isDirectory()) continue;
    const versions = bundledVersions(source);
    if (!versions.length) continue;
    const repo = recipeDir(abraDir, name);
    if (!existsSync(path.join(repo, '.git'))) {
      mkdirSync(repo, { recursive: true });
      await git(repo, ['init', '-q', '-b', 'main']);
      await git(repo, ['config', 'lores.bundled', 'true']);
    }
    const ours = await git(repo, ['config', '--get', 'lores.bundled']).then(
      (r) => r.stdout.trim() === 'true',
      () => false,
    );
    if (!ours) continue;
    // Also for checkouts made by an earlier image, which had no origin.
    if ((await execa('git', ['-C', repo, 'remote', 'get-url', 'origin'], { reject: false })).exitCode !== 0) {
      await git(repo, ['remote', 'add', 'origin', `${gitBase}/${name}.git`]);
    }
    const have = new Set(await recipeVersions(abraDir, name));
    for (const { version, tree } of versions.filter((v) => !have.has(v.version))) {
      await git(repo, ['checkout', '-q', '-f', 'main']).catch(() => undefined); // fails only on an empty repo
      for (const entry of readdirSync(repo)) if (entry !== '.git') rmSync(path.join(repo, entry), { recursive: true, force: true });
      cpSync(tree, repo, { recursive: true });
      await git(repo, ['add', '-A']);
      await git(repo, ['commit', '-q', '--allow-empty', '-m', `${name} ${version}`]);
      await git(repo, ['tag', '-a', version, '-m', `${name} ${version}`]);
      log(`bundled recipe ${name} ${version} added to ${repo}`);
    }
  }
}

/** What a look at a recipe checkout's origin found: its URL and the versions it publishes, oldest first. */
export type OriginLook = { origin: string; versions: string[] };

/** Why a git call to the origin failed, in one short line (git's last `fatal:` line, or the timeout). */
function gitReason(r: { timedOut?: boolean; stderr?: unknown; shortMessage?: string }, timeoutMs: number): string {
  if (r.timedOut) return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const lines = String(r.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.findLast((l) => /^fatal:/.test(l)) ?? lines.at(-1) ?? r.shortMessage ?? 'git failed').replace(/^fatal:\s*/, '').slice(0, 300);
}

/** The checkout's `origin` URL, or undefined when it has none. */
export async function originOf(abraDir: string, recipe: string): Promise<string | undefined> {
  const r = await execa('git', ['-C', recipeDir(abraDir, recipe), 'remote', 'get-url', 'origin'], { reject: false });
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

/**
 * Asks the checkout's origin which versions it publishes (`git ls-remote`), then fetches the version tags the
 * checkout lacks, so they can be installed. Never asks for a password (a private origin simply fails), and gives
 * up after `timeoutMs`. Throws an Error whose message says why the origin could not be reached.
 */
export async function lookAtOrigin(abraDir: string, recipe: string, timeoutMs = 30_000): Promise<OriginLook> {
  const repo = recipeDir(abraDir, recipe);
  const origin = await originOf(abraDir, recipe);
  if (!origin) throw new Error(`the ${recipe} checkout has no origin to look at`);
  const opts = { reject: false, timeout: timeoutMs, env: { LANG: 'C.UTF-8', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', SSH_ASKPASS: 'true' } } as const;
  const listed = await execa('git', ['-C', repo, 'ls-remote', '--tags', '--refs', 'origin'], opts);
  if (listed.exitCode !== 0) throw new Error(gitReason(listed, timeoutMs));
  const versions = listed.stdout
    .split('\n')
    .map((l) => /\trefs\/tags\/(.+)$/.exec(l)?.[1] ?? '')
    .filter((t) => recipeVersionSchema.safeParse(t).success)
    .sort(compareVersions);
  const have = new Set(await recipeVersions(abraDir, recipe));
  const missing = versions.filter((v) => !have.has(v));
  if (missing.length) {
    const fetched = await execa('git', ['-C', repo, 'fetch', '-q', '--no-tags', 'origin', ...missing.map((v) => `refs/tags/${v}:refs/tags/${v}`)], opts);
    if (fetched.exitCode !== 0) throw new Error(gitReason(fetched, timeoutMs));
  }
  return { origin, versions };
}
