// Whether a recipe has versions newer or older than an app's, so that pages offer Upgrade / Roll back only when
// there is somewhere to go. One `git tag --list` per recipe, kept for a few seconds.
import { recipeVersions } from '../adapters/recipes/checkout.ts';
import { compareVersions } from '../adapters/abra/names.ts';

export type VersionSpan = { newer: boolean; older: boolean };
// Short: a fetch of new tags shows on the next page load; the live page's re-renders reuse the last answer.
const KEPT_MS = 5_000;

export function versionSpans(abraDir: string) {
  const known = new Map<string, { at: number; versions: string[] }>();
  return {
    /** Reads the recipe's tags again when they are older than KEPT_MS; a missing checkout leaves it unknown. */
    async refresh(recipe: string): Promise<void> {
      const kept = known.get(recipe);
      if (kept && Date.now() - kept.at < KEPT_MS) return;
      try {
        known.set(recipe, { at: Date.now(), versions: await recipeVersions(abraDir, recipe) });
      } catch {
        known.delete(recipe);
      }
    },
    /** Undefined when the recipe's versions are not known (then the page offers both, and the next page says). */
    around(recipe: string, version: string | null): VersionSpan | undefined {
      const versions = known.get(recipe)?.versions;
      if (!versions) return undefined;
      if (!version) return { newer: versions.length > 0, older: false };
      return { newer: versions.some((v) => compareVersions(v, version) > 0), older: versions.some((v) => compareVersions(v, version) < 0) };
    },
  };
}
