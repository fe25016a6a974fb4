// Browsing Kiwix's OPDS catalogue: each page kept in SQLite, so an offline node still shows the last copy and its age.
import { catalogueUrl, fetchSmallDocument, parseEntries, type CatalogueFilters, type CataloguePage, type ZimEntry } from '../../adapters/kiwix/opds.ts';
import type { Store } from '../../store/index.ts';

export type { CatalogueFilters, ZimEntry };

export type BrowseResult = { page: CataloguePage | undefined; url: string; fetchedAt: number | null; error: string | null; fromCache: boolean };

const PREFIX = 'opds:';
const keyOf = (url: string) => `${PREFIX}${url}`;
/** Searches kept for offline use; anyone logged in can search, so the copies are capped. */
const KEEP_PAGES = 200;

export function zimBrowser(deps: { store: Store; base: () => string; now: () => number; fetchDocument?: typeof fetchSmallDocument }) {
  const fetchDocument = deps.fetchDocument ?? fetchSmallDocument;
  const parse = (body: string, url: string) => parseEntries(body, url);

  return {
    /** A fresh page when the catalogue answers; else the last copy of the same page, with why and how old. */
    async browse(filters: CatalogueFilters): Promise<BrowseResult> {
      const url = catalogueUrl(deps.base(), filters);
      try {
        const body = await fetchDocument(url, 'catalogue', { timeoutMs: 20_000 });
        const page = parse(body, url); // a page that does not parse never replaces a good copy
        deps.store.remoteCache.saved(keyOf(url), url, body, deps.now());
        deps.store.remoteCache.prune(PREFIX, KEEP_PAGES);
        return { page, url, fetchedAt: deps.now(), error: null, fromCache: false };
      } catch (err) {
        deps.store.remoteCache.failed(keyOf(url), url, (err as Error).message, deps.now());
        deps.store.remoteCache.prune(PREFIX, KEEP_PAGES);
        return { ...this.cached(url), error: (err as Error).message };
      }
    },

    /** The last copy of a page, without asking the catalogue. */
    cached(url: string): BrowseResult {
      const copy = deps.store.remoteCache.get(keyOf(url));
      let page: CataloguePage | undefined;
      try {
        page = copy?.body ? parse(copy.body, url) : undefined;
      } catch {
        page = undefined;
      }
      return { page, url, fetchedAt: copy?.fetchedAt ?? null, error: copy?.error ?? null, fromCache: true };
    },

    /** The last copy of the search these filters make, without asking the catalogue. */
    cachedFor(filters: CatalogueFilters): BrowseResult {
      return this.cached(catalogueUrl(deps.base(), filters));
    },

    /** An entry the steward picked from a page they were shown: looked up in that page's copy, never trusted from the form. */
    entryFrom(filters: CatalogueFilters, id: string): ZimEntry | undefined {
      return this.cached(catalogueUrl(deps.base(), filters)).page?.entries.find((e) => e.id === id);
    },
  };
}
export type ZimBrowser = ReturnType<typeof zimBrowser>;
