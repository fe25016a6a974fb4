// The abra test double (test/abra-double/abra.ts) and the recipes the tests install.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './server.ts';

export const ABRA_DOUBLE = path.join(REPO_ROOT, 'test', 'abra-double', 'abra.ts');
export const FIXTURE_RECIPES = path.join(REPO_ROOT, 'test', 'fixtures', 'recipes');

/** Every command line the double was run with, in order. */
export function abraCalls(abraDir: string): { argv: string[]; at: number }[] {
  const file = path.join(abraDir, '.double-calls.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { argv: string[]; at: number });
}

/** Makes the double fail, hang or print garbage for the named commands (e.g. `{"app deploy": "hang"}`). */
export function setFaults(abraDir: string, faults: Record<string, 'fail' | 'hang' | 'hang-with-child' | 'garbage'>): void {
  writeFileSync(path.join(abraDir, '.double-faults.json'), JSON.stringify(faults));
}
