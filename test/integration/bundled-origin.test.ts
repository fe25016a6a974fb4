// A bundled recipe's checkout knows the recipe's public repository (origin), so `abra recipe fetch <recipe>` —
// the node's check for upgrades — brings the versions published after the image was built. Here the abra
// double fetches from a local stand-in for git.coopcloud.tech, as real abra fetches origin.
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { installBundledRecipes, recipeDir, recipeVersions, RECIPES_GIT_BASE } from '../../app/adapters/recipes/checkout.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';

const work = mkdtempSync(path.join(tmpdir(), 'lores-origin-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `<dir>/src/<name>/<version>/` trees for the given versions (the fixture recipe under another name). */
function bundle(dir: string, name: string, versions: string[]): string {
  for (const v of versions) cpSync(path.join(FIXTURE_RECIPES, 'lores-test-app', '1.0.0+1.0'), path.join(dir, 'src', name, v), { recursive: true });
  return path.join(dir, 'src');
}

describe('bundled recipe checkouts', () => {
  it('get Co-op Cloud’s repository of the recipe as origin', async () => {
    const abraDir = path.join(work, 'default');
    await installBundledRecipes(bundle(path.join(work, 'default-src'), 'lores-node', ['0.1.0+0.1.0']), abraDir, () => {});
    const url = await execa('git', ['-C', recipeDir(abraDir, 'lores-node'), 'remote', 'get-url', 'origin']);
    expect(url.stdout).toBe(`${RECIPES_GIT_BASE}/lores-node.git`);
    expect(RECIPES_GIT_BASE).toBe('https://git.coopcloud.tech/coop-cloud');
  });

  it('let abra recipe fetch bring newer versions, also into a checkout an older image made without origin', async () => {
    // The forge: the recipe published with two versions.
    const forge = path.join(work, 'forge');
    await installBundledRecipes(bundle(path.join(work, 'forge-src'), 'mini', ['1.0.0+1.0', '1.1.0+1.0']), forge, () => {});
    symlinkSync(path.join(forge, 'recipes', 'mini'), path.join(forge, 'recipes', 'mini.git'));
    const base = `file://${path.join(forge, 'recipes')}`;
    // The node's image carried only 1.0.0; its checkout was made by an image that set no origin.
    const abraDir = path.join(work, 'node');
    const src = bundle(path.join(work, 'node-src'), 'mini', ['1.0.0+1.0']);
    await installBundledRecipes(src, abraDir, () => {}, base);
    await execa('git', ['-C', recipeDir(abraDir, 'mini'), 'remote', 'remove', 'origin']);
    await installBundledRecipes(src, abraDir, () => {}, base); // the next start
    expect(await recipeVersions(abraDir, 'mini')).toEqual(['1.0.0+1.0']);
    // Under a pseudo-terminal, as the node runs abra (abra wants one even with -n).
    const fetched = await execa('script', ['-qec', `${process.execPath} ${ABRA_DOUBLE} recipe fetch mini -n`, '/dev/null'], { env: { ABRA_DIR: abraDir }, reject: false, all: true });
    expect(fetched.exitCode, fetched.all).toBe(0);
    expect(await recipeVersions(abraDir, 'mini')).toEqual(['1.0.0+1.0', '1.1.0+1.0']);
  });

  it('leave the origin of a checkout abra cloned itself alone', async () => {
    const abraDir = path.join(work, 'cloned');
    const repo = recipeDir(abraDir, 'other');
    await execa('git', ['init', '-q', repo]);
    await execa('git', ['-C', repo, 'remote', 'add', 'origin', 'https://example.org/other.git']);
    await installBundledRecipes(bundle(path.join(work, 'cloned-src'), 'other', ['1.0.0+1.0']), abraDir, () => {});
    expect((await execa('git', ['-C', repo, 'remote', 'get-url', 'origin'])).stdout).toBe('https://example.org/other.git');
  });
});
