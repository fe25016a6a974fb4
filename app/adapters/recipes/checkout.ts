// Reads recipes from abra's checkouts ($ABRA_DIR/recipes/<name>, git repos with annotated version tags)
// without touching their working trees (abra checks versions out there), and installs the recipes
// bundled with the node as such repos, so installs work offline.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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

/**
 * Bundled recipes live in the node's `recipes/<name>/<version>/` folders. Each becomes an annotated tag
 * in $ABRA_DIR/recipes/<name>, created once; a checkout abra cloned from elsewhere is left alone.
 */
export async function installBundledRecipes(bundledDir: string, abraDir: string, log: (msg: string) => void): Promise<void> {
  if (!existsSync(bundledDir)) return;
  for (const name of readdirSync(bundledDir).sort()) {
    const source = path.join(bundledDir, name);
    if (!recipeNameSchema.safeParse(name).success || !statSync(source).isDirectory()) continue;
    const versions = readdirSync(source)
      .filter((v) => recipeVersionSchema.safeParse(v).success)
      .sort(compareVersions);
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
    const have = new Set(await recipeVersions(abraDir, name));
    for (const version of versions.filter((v) => !have.has(v))) {
      await git(repo, ['checkout', '-q', '-f', 'main']).catch(() => undefined); // fails only on an empty repo
      for (const entry of readdirSync(repo)) if (entry !== '.git') rmSync(path.join(repo, entry), { recursive: true, force: true });
      cpSync(path.join(source, version), repo, { recursive: true });
      await git(repo, ['add', '-A']);
      await git(repo, ['commit', '-q', '--allow-empty', '-m', `${name} ${version}`]);
      await git(repo, ['tag', '-a', version, '-m', `${name} ${version}`]);
      log(`bundled recipe ${name} ${version} added to ${repo}`);
    }
  }
}
