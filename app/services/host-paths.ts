// Host-path settings of the recipes the node knows, kept to their documented roots: a Kiwix app's ZIM_FILES_PATH
// lies under the node's ZIM_ROOT, where it really is (symlinks followed), never elsewhere on the host.
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { SettingsRefused } from './env/form.ts';
import type { ConfinedPaths } from './host-reach.ts';

/** recipe → setting → which of the node's roots it must stay under. */
const CONFINED: Record<string, Record<string, 'zimRoot'>> = {
  kiwix: { ZIM_FILES_PATH: 'zimRoot' },
};

export type HostRoots = { zimRoot: string };
export type PathProblem = { key: string; problem: string };

/** The settings of a recipe that are confined, with their roots (for host-reach: inside them is not a reach). */
export function confinedPaths(recipe: string, roots: HostRoots): ConfinedPaths {
  return Object.fromEntries(Object.entries(CONFINED[recipe] ?? {}).map(([key, root]) => [key, path.resolve(roots[root])]));
}

/** Where a path really is: its nearest existing ancestor with symlinks resolved, then the rest as written. */
function realish(p: string): string {
  let existing = p;
  while (!existsSync(existing) && existing !== path.dirname(existing)) existing = path.dirname(existing);
  return path.join(realpathSync(existing), path.relative(existing, p));
}

const within = (p: string, root: string) => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/** Each confined setting of `values` that leaves its root, with a sentence a person can act on. */
export function confinedPathProblems(recipe: string, values: ReadonlyMap<string, string>, roots: HostRoots): PathProblem[] {
  const problems: PathProblem[] = [];
  for (const [key, root] of Object.entries(confinedPaths(recipe, roots))) {
    const value = values.get(key);
    if (value === undefined) continue;
    const outside = `${key} must be a folder under ${root} (the node’s ZIM_ROOT)`;
    if (!path.isAbsolute(value) || value.split('/').includes('..')) problems.push({ key, problem: `${outside}, written as an absolute path without “..”.` });
    else if (!within(path.resolve(value), root)) problems.push({ key, problem: `${outside}; ${value} is not.` });
    else if (!within(realish(path.resolve(value)), realish(root))) problems.push({ key, problem: `${outside}; ${value} leads elsewhere through a link.` });
  }
  return problems;
}

/** A refusal about particular settings: the form comes back with each sentence beside its field (`env.<KEY>`). */
export class SettingsError extends SettingsRefused {
  constructor(problems: PathProblem[]) {
    // Beside its field the key is already named: the note starts after it.
    super(Object.fromEntries(problems.map((p) => [`env.${p.key}`, p.problem.startsWith(`${p.key} `) ? p.problem.slice(p.key.length + 1) : p.problem])), problems.map((p) => p.problem).join(' '));
  }
}
