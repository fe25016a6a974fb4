// abra's recipe catalogue (`recipes.json`): read leniently, entry by entry, so one odd recipe never hides the others.
import { z } from 'zod';
import { recipeNameSchema, recipeVersionSchema, serviceNameSchema } from '../abra/names.ts';

/** The scores a recipe's README declares (docs.coopcloud.tech/recipes): status 1–5, the rest Yes/No or 0–3. */
export type RecipeFeatures = {
  status: number | null;
  backups: string;
  email: string;
  healthcheck: string;
  sso: string;
  tests: string;
  image: { image: string; rating: string; source: string; url: string } | null;
};

/** One service of one version: `image` and `tag` as the catalogue names them. */
export type VersionService = { service: string; image: string; tag: string; digest: string };
export type RecipeVersion = { version: string; services: VersionService[] };

export type CatalogueRecipe = {
  name: string;
  category: string;
  description: string;
  website: string;
  repository: string;
  features: RecipeFeatures;
  /** Oldest first, as abra lists them (it takes the last as the latest). */
  versions: RecipeVersion[];
};

const text = (max: number) => z.preprocess((v) => (v === null || v === undefined ? '' : typeof v === 'number' ? String(v) : v), z.string().max(max));
// Only plain web and git addresses become links on the page.
const url = z.preprocess((v) => (typeof v === 'string' && /^https?:\/\/[^\s"'<>]+$/.test(v) ? v : ''), z.string());

const featuresSchema = z
  .object({
    status: z.preprocess((v) => (v === '' || v === null || v === undefined ? null : Number(v)), z.number().int().min(0).max(5).nullable()).catch(null),
    backups: text(40).catch(''),
    email: text(40).catch(''),
    healthcheck: text(40).catch(''),
    sso: text(40).catch(''),
    tests: text(40).catch(''),
    image: z.object({ image: text(200), rating: text(10), source: text(40), url }).nullable().catch(null),
  })
  .catch({ status: null, backups: '', email: '', healthcheck: '', sso: '', tests: '', image: null });

const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._\/:-]{0,254}$/, 'is not an image name');
const tagRef = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'is not an image tag');

const serviceSchema = z.object({ image: imageRef, tag: tagRef, digest: text(128).catch('') });

const recipeSchema = z.object({
  name: recipeNameSchema,
  category: z.string().max(60).catch(''),
  description: text(1000).catch(''),
  website: url.catch(''),
  repository: url.catch(''),
  features: featuresSchema.optional().transform((f) => f ?? featuresSchema.parse(undefined)),
  versions: z.array(z.record(z.string(), z.unknown())).catch([]),
});

export type CatalogueParse = { recipes: CatalogueRecipe[]; skipped: { name: string; reason: string }[] };

/** Versions whose tag or services do not parse are dropped; the recipe stays. */
function versionsOf(list: Record<string, unknown>[]): RecipeVersion[] {
  const out: RecipeVersion[] = [];
  for (const item of list) {
    for (const [version, services] of Object.entries(item)) {
      if (!recipeVersionSchema.safeParse(version).success || typeof services !== 'object' || services === null) continue;
      const parsed: VersionService[] = [];
      for (const [service, spec] of Object.entries(services)) {
        const s = serviceSchema.safeParse(spec);
        if (serviceNameSchema.safeParse(service).success && s.success) parsed.push({ service, ...s.data });
      }
      out.push({ version, services: parsed });
    }
  }
  return out;
}

/** Parses a `recipes.json` body; throws only when the document as a whole is not a catalogue. */
export function parseCatalogue(body: string): CatalogueParse {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Error('the catalogue is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('the catalogue is not a JSON object of recipes');
  const recipes: CatalogueRecipe[] = [];
  const skipped: CatalogueParse['skipped'] = [];
  for (const [key, value] of Object.entries(doc)) {
    const r = recipeSchema.safeParse({ name: key, ...(typeof value === 'object' && value !== null ? value : {}) });
    if (!r.success) {
      skipped.push({ name: key.slice(0, 64), reason: r.error.issues[0]?.message ?? 'malformed' });
      continue;
    }
    recipes.push({ ...r.data, name: key, versions: versionsOf(r.data.versions) });
  }
  // An error body such as {"message": "…"} is an object too: a catalogue lists recipes with versions.
  const looksLikeRecipes = Object.values(doc).some((v) => typeof v === 'object' && v !== null && Array.isArray((v as { versions?: unknown }).versions));
  if (!looksLikeRecipes) throw new Error('the document lists no recipes with versions');
  return { recipes: recipes.sort((a, b) => a.name.localeCompare(b.name)), skipped };
}

/** `image:tag` as Docker takes it. */
export const imageRefOf = (s: { image: string; tag: string }) => `${s.image}:${s.tag}`;
