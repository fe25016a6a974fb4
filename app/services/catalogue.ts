// The recipe catalogue a steward picks from: abra's `recipes.json` (last good copy kept in SQLite, refreshed in the
// background) merged with the recipes on this node (bundled with the image or fetched by abra earlier).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { imageRefOf, parseCatalogue, type CatalogueRecipe, type RecipeFeatures, type VersionService } from '../adapters/recipes/catalogue-json.ts';
import { fileAt, imagesAt, listRecipes, recipeDir, recipeVersions } from '../adapters/recipes/checkout.ts';
import { readmeMetadata } from '../adapters/recipes/metadata.ts';
import type { FetchText } from '../adapters/remote/fetch-text.ts';
import { compareVersions } from '../adapters/abra/names.ts';
import type { Logger } from '../log.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Store } from '../store/index.ts';


/** Recipe names and versions as abra takes them: what routes accept from a URL. */
export { recipeNameSchema, recipeVersionSchema } from '../adapters/abra/names.ts';
export type EntryVersion = { version: string; services: VersionService[]; onNode: boolean };

export type CatalogueEntry = {
  name: string;
  category: string;
  description: string;
  website: string;
  repository: string;
  features: RecipeFeatures | null;
  /** Oldest first. */
  versions: EntryVersion[];
  /** abra has a checkout of it here, so it installs without the internet. */
  onNode: boolean;
  inCatalogue: boolean;
};

export type CatalogueState = { url: string; fetchedAt: number | null; attemptedAt: number | null; error: string | null; skipped: number };

export type CatalogueQuery = { q?: string; category?: string; runsHere?: boolean };

const CACHE_KEY = 'recipes.json';
const RETRY_AFTER_FAILURE_MS = 10 * 60_000;

/** `ghcr.io/x/y:1.2` → image and tag; a digest-pinned or untagged reference keeps what it has. */
export function splitImage(ref: string): { image: string; tag: string } {
  const at = ref.indexOf('@');
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return { image: base.slice(0, colon), tag: base.slice(colon + 1) + (at >= 0 ? ref.slice(at) : '') };
  return { image: base, tag: at >= 0 ? ref.slice(at + 1) : 'latest' };
}

/** The images of a version, as Docker references, for the architecture check. */
export const imagesOf = (v: EntryVersion) => v.services.map((s) => ({ service: s.service, image: imageRefOf(s) }));

export const latestOf = (e: CatalogueEntry): EntryVersion | undefined => e.versions.at(-1);

/** Search by name and description, filter by category and by "runs on this node" (the caller knows the fit). */
export function searchCatalogue(entries: CatalogueEntry[], query: CatalogueQuery, runsHere: (e: CatalogueEntry) => boolean): CatalogueEntry[] {
  const words = (query.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const category = (query.category ?? '').toLowerCase();
  return entries.filter(
    (e) =>
      words.every((w) => e.name.includes(w) || e.description.toLowerCase().includes(w) || e.category.toLowerCase().includes(w)) &&
      (!category || e.category.toLowerCase() === category) &&
      (!query.runsHere || runsHere(e)),
  );
}

export const categoriesOf = (entries: CatalogueEntry[]) => [...new Set(entries.map((e) => e.category).filter(Boolean))].sort();

export function catalogueService(deps: { store: Store; abraDir: string; url: string; refreshHours: number; fetchText: FetchText; now: () => number; log: Logger; audit?: AuditLog }) {
  const { store, abraDir, now, log } = deps;
  let parsed: { fetchedAt: number | null; recipes: CatalogueRecipe[]; skipped: number } = { fetchedAt: -1, recipes: [], skipped: 0 };
  let local: { key: string; entries: CatalogueEntry[] } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<CatalogueState> | undefined;

  /** The catalogue copy, parsed once per fetched body. */
  function remote() {
    // The body (hundreds of kB) is read and parsed only when a newer copy arrived.
    const fetchedAt = store.remoteCache.state(CACHE_KEY)?.fetchedAt ?? null;
    if (parsed.fetchedAt !== fetchedAt) {
      try {
        const body = store.remoteCache.get(CACHE_KEY)?.body;
        const p = body ? parseCatalogue(body) : { recipes: [], skipped: [] };
        parsed = { fetchedAt, recipes: p.recipes, skipped: p.skipped.length };
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'the stored catalogue copy does not parse');
        parsed = { fetchedAt, recipes: [], skipped: 0 };
      }
    }
    return parsed;
  }

  /** Recipes with a checkout here; re-read only when a checkout's tags change. */
  async function localEntries(): Promise<CatalogueEntry[]> {
    const names = listRecipes(abraDir);
    const key = names.map((n) => `${n}:${tagStamp(recipeDir(abraDir, n))}`).join(',');
    if (local?.key === key) return local.entries;
    // One recipe at a time (each is a few git calls; a Pi has few cores), and one broken checkout hides only itself.
    const entries: CatalogueEntry[] = [];
    for (const name of names) {
      try {
        entries.push(await localEntry(name));
      } catch (err) {
        log.warn({ recipe: name, err: (err as Error).message }, 'could not read a recipe checkout');
      }
    }
    local = { key, entries };
    return entries;
  }

  async function localEntry(name: string): Promise<CatalogueEntry> {
    const tags = await recipeVersions(abraDir, name);
    const latest = tags.at(-1);
    const meta = readmeMetadata(latest ? ((await fileAt(abraDir, name, latest, 'README.md')) ?? '') : '');
    const versions: EntryVersion[] = [];
    for (const version of tags) {
      const images = await imagesAt(abraDir, name, version).catch(() => []); // a version whose compose.yml does not parse has no images to show
      versions.push({ version, onNode: true, services: images.filter((i) => i.image).map((i) => ({ service: i.service, ...splitImage(i.image), digest: '' })) });
    }
    return { name, category: meta.category, description: meta.description, website: '', repository: '', features: meta.features, versions, onNode: true, inCatalogue: false };
  }

  function merge(fromCatalogue: CatalogueRecipe[], here: CatalogueEntry[]): CatalogueEntry[] {
    const byName = new Map<string, CatalogueEntry>();
    for (const r of fromCatalogue) byName.set(r.name, { ...r, versions: r.versions.map((v) => ({ ...v, onNode: false })), onNode: false, inCatalogue: true });
    for (const h of here) {
      const c = byName.get(h.name);
      if (!c) {
        byName.set(h.name, h);
        continue;
      }
      // The checkout decides what can be installed here; the catalogue adds the versions published since.
      const versions = new Map(c.versions.map((v) => [v.version, v]));
      for (const v of h.versions) versions.set(v.version, v);
      // The checkout's README describes what installs here; the catalogue fills in what it leaves out.
      const localScores = h.features && (h.features.status !== null || h.features.image) ? h.features : null;
      byName.set(h.name, {
        ...c,
        category: h.category || c.category,
        description: h.description || c.description,
        features: localScores ?? c.features,
        versions: [...versions.values()].sort((a, b) => compareVersions(a.version, b.version)),
        onNode: true,
      });
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async function refresh(): Promise<CatalogueState> {
    if (!deps.url) return state();
    refreshing ??= (async () => {
      try {
        const body = await deps.fetchText(deps.url, { timeoutMs: 30_000 });
        const p = parseCatalogue(body); // a body that is not a catalogue never replaces a good copy
        store.remoteCache.saved(CACHE_KEY, deps.url, body, now());
        log.info({ recipes: p.recipes.length, skipped: p.skipped.length }, 'recipe catalogue refreshed');
      } catch (err) {
        store.remoteCache.failed(CACHE_KEY, deps.url, (err as Error).message, now());
        log.warn({ err: (err as Error).message, url: deps.url }, 'could not refresh the recipe catalogue; keeping the last copy');
      } finally {
        refreshing = undefined;
      }
      return state();
    })();
    return refreshing;
  }

  function state(): CatalogueState {
    const copy = store.remoteCache.state(CACHE_KEY);
    return { url: deps.url, fetchedAt: copy?.fetchedAt ?? null, attemptedAt: copy?.attemptedAt ?? null, error: copy?.error ?? null, skipped: remote().skipped };
  }

  return {
    refresh,
    /** A refresh someone asked for (the Install page's button), audited with how it went. */
    async refreshFor(actor: Actor): Promise<CatalogueState> {
      const s = await refresh();
      deps.audit?.record(actor, 'catalogue.refresh', { outcome: s.error && s.attemptedAt !== s.fetchedAt ? 'failed' : 'ok', detail: s.error ? { error: s.error } : undefined });
      return s;
    },
    state,
    async entries(): Promise<CatalogueEntry[]> {
      return merge(remote().recipes, await localEntries());
    },
    async entry(name: string): Promise<CatalogueEntry | undefined> {
      return (await this.entries()).find((e) => e.name === name);
    },
    /** Refreshes now when the copy is older than the interval, then on that interval; never blocks start-up. */
    start(): void {
      if (!deps.url || timer) return;
      const everyMs = deps.refreshHours * 3600_000;
      // A Pi often boots before its uplink: after a failure, try again every few minutes rather than next day.
      const due = () => {
        const copy = store.remoteCache.state(CACHE_KEY);
        if (!copy?.fetchedAt) return !copy || now() - copy.attemptedAt >= RETRY_AFTER_FAILURE_MS;
        return now() - copy.attemptedAt >= (copy.error ? RETRY_AFTER_FAILURE_MS : everyMs);
      };
      if (due()) void refresh();
      timer = setInterval(() => due() && void refresh(), Math.min(RETRY_AFTER_FAILURE_MS, everyMs));
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
export type Catalogue = ReturnType<typeof catalogueService>;

/** Changes to a checkout's tags show in its refs' modification times. */
function tagStamp(repo: string): string {
  const stamp = (p: string) => (existsSync(p) ? statSync(p).mtimeMs : 0);
  return `${stamp(path.join(repo, '.git', 'refs', 'tags'))}/${stamp(path.join(repo, '.git', 'packed-refs'))}`;
}
