// Which version of a recipe a request means: the newest when none is named, and only published ones; which
// versions an upgrade or a rollback can move to. The rules are pure (the published list in); `versionChoicesAt` reads a checkout.
import { compareVersions, recipeVersionSchema } from '../adapters/abra/names.ts';
import { fileAt, imagesAt, recipeVersions, type ServiceImage } from '../adapters/recipes/checkout.ts';
import { parseOrRefuse } from '../validation.ts';
import { UserFacingError } from '../errors.ts';

/** `wanted` among `published` (oldest first): the newest when it is empty; a clear refusal when it is not there. */
export function resolveVersion(recipe: string, published: readonly string[], wanted: unknown): string {
  if (!published.length) throw new UserFacingError(`The ${recipe} recipe has no published versions.`);
  if (wanted === undefined || wanted === '') return published.at(-1)!;
  const v = parseOrRefuse(recipeVersionSchema, wanted, { value: 'The version' });
  if (!published.includes(v)) throw new UserFacingError(`${recipe} has no version ${v}.`);
  return v;
}

/** The versions newer (upgrade) or older (rollback) than `from`; with no known current version, all for an upgrade. */
export function versionsToward(published: readonly string[], from: string | null, direction: 'newer' | 'older'): string[] {
  if (!from) return direction === 'newer' ? [...published] : [];
  return published.filter((v) => (direction === 'newer' ? compareVersions(v, from) > 0 : compareVersions(v, from) < 0));
}

/** Whether moving from `current` to `target` goes the way asked; the refusal says why not. */
export function checkDirection(target: string, current: string | null, direction: 'upgrade' | 'rollback'): void {
  const newer = current ? compareVersions(target, current) : 1;
  if (direction === 'upgrade' && newer <= 0) throw new UserFacingError(`${target} is not newer than ${current}.`);
  if (direction === 'rollback' && newer >= 0) throw new UserFacingError(`${target} is not older than ${current}.`);
}

export type VersionChoice = { version: string; notes: string; images: { service: string; from: string | null; to: string }[] };

/** The versions an app on `from` can move to, each with its release notes and the images that change. */
export async function versionChoicesAt(abraDir: string, recipe: string, from: string | null, direction: 'newer' | 'older'): Promise<VersionChoice[]> {
  const picked = versionsToward(await recipeVersions(abraDir, recipe), from, direction);
  const before: ServiceImage[] = from ? await imagesAt(abraDir, recipe, from) : [];
  return Promise.all(
    picked.map(async (version) => {
      const after = await imagesAt(abraDir, recipe, version);
      const images = after
        .map((a) => ({ service: a.service, from: before.find((b) => b.service === a.service)?.image ?? null, to: a.image }))
        .filter((i) => i.from !== i.to);
      return { version, notes: (await fileAt(abraDir, recipe, version, `release/${version}`)) ?? '', images };
    }),
  );
}
