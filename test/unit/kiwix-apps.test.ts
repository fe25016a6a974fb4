// Which folders the node may write ZIM files into: a Kiwix app's ZIM_FILES_PATH, only under ZIM_ROOT, for real.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kiwixApp, kiwixApps } from '../../app/services/zim/kiwix-apps.ts';

describe('Kiwix apps and their ZIM folders', () => {
  let work: string;
  let abraDir: string;
  let root: string;
  const app = (domain: string, zimPath: string, recipe = 'kiwix') => {
    writeFileSync(path.join(abraDir, 'servers', 'default', `${domain}.env`), `TYPE=${recipe}:1.0.0+3.8.2\nDOMAIN=${domain}\nZIM_FILES_PATH=${zimPath}\n`);
  };
  beforeEach(() => {
    work = mkdtempSync(path.join(tmpdir(), 'lores-kiwixapps-'));
    abraDir = path.join(work, 'abra');
    root = path.join(work, 'zims');
    mkdirSync(path.join(abraDir, 'servers', 'default'), { recursive: true });
    mkdirSync(path.join(root, 'wiki'), { recursive: true });
    mkdirSync(path.join(work, 'elsewhere'));
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('accepts a folder under the root, and refuses one outside it, missing, relative, or leading out through a symlink', () => {
    app('good.lores.test', path.join(root, 'wiki'));
    app('outside.lores.test', path.join(work, 'elsewhere'));
    app('dots.lores.test', `${root}/wiki/../../elsewhere`);
    app('missing.lores.test', path.join(root, 'nope'));
    app('relative.lores.test', 'zims/wiki');
    symlinkSync(path.join(work, 'elsewhere'), path.join(root, 'link'));
    app('link.lores.test', path.join(root, 'link'));
    app('other.lores.test', path.join(root, 'wiki'), 'gitea');
    const byDomain = new Map(kiwixApps(abraDir, root).map((a) => [a.domain, a]));
    expect([...byDomain.keys()].sort()).toEqual(['dots.lores.test', 'good.lores.test', 'link.lores.test', 'missing.lores.test', 'outside.lores.test', 'relative.lores.test']);
    expect(byDomain.get('good.lores.test')).toMatchObject({ zimDir: path.join(root, 'wiki') });
    for (const d of ['outside', 'dots', 'link']) expect(byDomain.get(`${d}.lores.test`)?.problem, d).toMatch(/outside the node’s ZIM folder/);
    expect(byDomain.get('missing.lores.test')?.problem).toMatch(/does not exist/);
    expect(byDomain.get('relative.lores.test')?.problem).toMatch(/absolute/);
    expect(() => kiwixApp(abraDir, root, 'link_lores_test')).toThrow(/outside/);
    expect(() => kiwixApp(abraDir, root, 'no_such')).toThrow(/no Kiwix app/);
  });
});
