// The redesign's rules that are about the tree itself (#16), checked on every run: no module in app/ grows past 400
// lines, no view decides by role (views test the policy's `it.may.*` flags), and app/README.md has a line for every
// folder in app/ (and none for a folder that is gone). Import directions are dependency-cruiser's (import-rules).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const APP = path.join(import.meta.dirname, '..', '..', 'app');
const MAX_LINES = 400;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? [full, ...walk(full)] : [full];
  });
}
const files = walk(APP).filter((f) => statSync(f).isFile());
const rel = (f: string) => path.relative(APP, f);

describe('the tree of app/', () => {
  it(`has no TypeScript module over ${MAX_LINES} lines`, () => {
    const long = files
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: rel(f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((m) => m.lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('has no view that checks a role: views test the policy’s flags', () => {
    const roleChecks = files
      .filter((f) => f.endsWith('.eta'))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ at: `${rel(f)}:${i + 1}`, line })))
      .filter(({ line }) => /\brole\s*[!=]==?|[!=]==?\s*['"](admin|steward|guest)['"]/.test(line));
    expect(roleChecks).toEqual([]);
  });

  it('has a line in app/README.md for every folder, and none for a folder that is gone', () => {
    const readme = readFileSync(path.join(APP, 'README.md'), 'utf8');
    const folders = walk(APP).filter((f) => statSync(f).isDirectory()).map((f) => `${rel(f)}/`);
    const named = [...readme.matchAll(/^- `([a-z0-9/_-]+\/)`/gm)].map((m) => m[1]!);
    expect(folders.filter((f) => !named.includes(f) && !f.startsWith('views/') && !f.startsWith('public/'))).toEqual([]);
    expect(named.filter((f) => !folders.includes(f))).toEqual([]);
  });
});
