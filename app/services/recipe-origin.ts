// "Check for newer versions" of a recipe checkout (the node's own upgrade page among them): asks the recipe's
// origin, and remembers when it last reached it and what it found, so that offline (normal for a library node)
// the page says when the node last looked instead of only that it failed.
import { lookAtOrigin, originOf, type OriginLook } from '../adapters/recipes/checkout.ts';
import type { RemoteCacheStore } from '../store/remote-cache.ts';

/** How the latest look at a recipe's origin went, and the last one that reached it. */
export type OriginState = {
  recipe: string;
  origin: string;
  /** When the origin last answered (ms), and the versions it published then; null: never. */
  lastLooked: number | null;
  versions: string[];
  /** The latest attempt (ms) and, when it failed, why. */
  attemptedAt: number;
  error: string | null;
};

/** One row per recipe and origin: a look at another origin says nothing about this one. */
const keyOf = (recipe: string, origin: string) => `recipe-origin:${recipe} ${origin}`;

/** The sentence a steward reads: what the latest look found, or that it failed and what the last good one found. */
export function originSentence(state: OriginState, formatTime: (ms: number) => string): string {
  const found = (versions: string[]) => (versions.length ? `found versions ${versions.join(', ')}` : 'found no published versions');
  if (!state.error && state.lastLooked !== null) return `Looked at ${state.origin} ${formatTime(state.lastLooked)}: ${found(state.versions)}.`;
  const last = state.lastLooked === null ? 'it has never been reached from this node' : `last looked ${formatTime(state.lastLooked)} (${found(state.versions)})`;
  return `Could not reach ${state.origin} now (${state.error ?? 'no answer'}); ${last}.`;
}

export function recipeOriginService(deps: { abraDir: string; cache: RemoteCacheStore; now: () => number; timeoutMs?: number; look?: (abraDir: string, recipe: string, timeoutMs: number) => Promise<OriginLook> }) {
  const look = deps.look ?? lookAtOrigin;

  function stateAt(recipe: string, origin: string): OriginState | undefined {
    const row = deps.cache.get(keyOf(recipe, origin));
    if (!row) return undefined;
    const versions = row.body ? (JSON.parse(row.body) as string[]) : [];
    return { recipe, origin, lastLooked: row.fetchedAt, versions, attemptedAt: row.attemptedAt, error: row.error };
  }

  return {
    /** The latest look at the checkout's present origin, read from the store (no network). */
    async state(recipe: string): Promise<OriginState | undefined> {
      const origin = await originOf(deps.abraDir, recipe);
      return origin ? stateAt(recipe, origin) : undefined;
    },

    /** Looks at the origin now (bounded), records the outcome, and returns the state; undefined when the checkout has no origin. */
    async check(recipe: string): Promise<OriginState | undefined> {
      const origin = await originOf(deps.abraDir, recipe);
      if (!origin) return undefined;
      try {
        const found = await look(deps.abraDir, recipe, deps.timeoutMs ?? 30_000);
        deps.cache.saved(keyOf(recipe, origin), origin, JSON.stringify(found.versions), deps.now());
      } catch (err) {
        deps.cache.failed(keyOf(recipe, origin), origin, (err as Error).message, deps.now());
      }
      return stateAt(recipe, origin);
    },
  };
}
export type RecipeOrigin = ReturnType<typeof recipeOriginService>;
