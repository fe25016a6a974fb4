// The Kiwix OPDS v2 catalogue (library.kiwix.org, or any kiwix-serve / local mirror speaking the same API):
// the URL for a filtered page of `/catalog/v2/entries`, and a parser that turns one page into typed entries.
// A catalogue is remote input: one bad entry is skipped with a reason, never the whole page.
import { createRequire } from 'node:module';
import type { X2jOptions } from 'fast-xml-parser';
import { z } from 'zod';
import { parseOrRefuse } from '../../validation.ts';
import { fetchText, networkReason } from '../remote/fetch-text.ts';
import type { ReadFloor } from '../remote/read-floor.ts';

export const DEFAULT_CATALOGUE_BASE = 'https://library.kiwix.org';

/** Longest file name we accept: Kiwix names are ~40–70 characters; ext4 allows 255 bytes, and `.part` is added. */
export const MAX_ZIM_FILE_NAME = 200;

/**
 * A ZIM file name safe to join to the library folder: a basename of letters, digits, `.`, `_`, `-`, starting with a
 * letter or digit, ending in `.zim`, no `..` anywhere (so no `../` even after decoding, and no hidden files).
 */
export const zimFileNameSchema = z
  .string()
  .max(MAX_ZIM_FILE_NAME, `must be at most ${MAX_ZIM_FILE_NAME} characters`)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\.zim$/, 'must be a plain file name ending in .zim (letters, digits, dot, dash, underscore)')
  .refine((name) => !name.includes('..'), 'must not contain ".."');

/** A book name as Kiwix uses it (`wikipedia_en_all`): same alphabet as file names, no `..`. */
export const bookNameSchema = z
  .string()
  .max(MAX_ZIM_FILE_NAME)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, dot, dash or underscore')
  .refine((name) => !name.includes('..'), 'must not contain ".."');

export type ZimEntry = {
  /** The book's UUID, without the `urn:uuid:` prefix. */
  id: string;
  name: string;
  title: string;
  summary: string;
  /** ISO-639-3, comma-separated when a book has several (`eng,fra`). */
  language: string;
  flavour: string;
  category: string;
  tags: string[];
  articleCount: number;
  mediaCount: number;
  /** Bytes, from the acquisition link's `length`. */
  size: number;
  /** ISO 8601. */
  updated: string;
  issued?: string;
  illustrationUrl?: string;
  /** The acquisition link: usually a `.meta4` Metalink file, sometimes the ZIM itself. */
  downloadUrl: string;
  /** The ZIM file name the download will have, from the acquisition link's last path segment. */
  fileName: string;
};

export type CataloguePage = {
  total: number;
  start: number;
  perPage: number;
  entries: ZimEntry[];
  skipped: { reason: string }[];
};

// ---------------------------------------------------------------------------------------------------------------
// Filters and the URL

const MAX_START = 1_000_000;
const MAX_COUNT = 500;
// The largest ZIMs are ~120 GB; anything past 10 TB is a typo.
const MAX_SIZE_FILTER = 10 * 1024 ** 4;

const langListSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((l) => l.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[a-z]{3}$/, 'must be ISO-639-3 codes such as eng or fra')).min(1, 'must name a language').max(20, 'lists too many languages'));

export const catalogueFiltersSchema = z.object({
  lang: langListSchema.optional(),
  category: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be one word such as wikipedia or gutenberg')
    .optional(),
  // Plain text: no control characters (they have no business in a search box and confuse logs).
  q: z
    .string()
    .trim()
    .max(200, 'must be at most 200 characters')
    .refine((q) => !/[\u0000-\u001f\u007f]/.test(q), 'must be plain text')
    .optional(),
  // One book name (`wikipedia_en_all`): every flavour and date of it, for "is there a newer one?".
  name: bookNameSchema.optional(),
  maxSize: z.coerce.number().int('must be a whole number of bytes').positive('must be positive').max(MAX_SIZE_FILTER, 'is too large').optional(),
  start: z.coerce.number().int('must be a whole number').min(0, 'must be 0 or more').max(MAX_START, 'is too large').optional(),
  count: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_COUNT, `must be at most ${MAX_COUNT}`).optional(),
});

export type CatalogueFilters = z.input<typeof catalogueFiltersSchema>;

const FILTER_LABELS = { name: 'Book name', lang: 'Language', category: 'Category', q: 'Search text', maxSize: 'Largest size', start: 'Start', count: 'Page size' };

/** An http(s) base URL (server root, optionally with a path prefix such as `/kiwix`), without a trailing slash. */
export function catalogueBase(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`the catalogue address ${JSON.stringify(base.slice(0, 100))} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('the catalogue address must start with http:// or https://');
  if (url.username || url.password || url.search || url.hash) throw new Error('the catalogue address must be a plain http(s) address (no credentials, query or fragment)');
  return url.href.replace(/\/+$/, '');
}

/**
 * The `/catalog/v2/entries` URL for a page of the catalogue at `base`. Filters are validated (a 400-style
 * UserFacingError names the bad one); empty ones are left out.
 */
export function catalogueUrl(base: string, filters: CatalogueFilters = {}): string {
  // Empty form fields mean "no filter", not "0" or "".
  const given = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '')));
  const f = parseOrRefuse(catalogueFiltersSchema, given, FILTER_LABELS);
  const url = new URL(`${catalogueBase(base)}/catalog/v2/entries`);
  if (f.lang?.length) url.searchParams.set('lang', f.lang.join(','));
  if (f.category) url.searchParams.set('category', f.category);
  if (f.q) url.searchParams.set('q', f.q);
  if (f.name) url.searchParams.set('name', f.name);
  if (f.maxSize !== undefined) url.searchParams.set('maxsize', String(f.maxSize));
  if (f.start !== undefined) url.searchParams.set('start', String(f.start));
  if (f.count !== undefined) url.searchParams.set('count', String(f.count));
  return url.href;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

const ACQUISITION_REL = 'http://opds-spec.org/acquisition/open-access';
const THUMBNAIL_REL = 'http://opds-spec.org/image/thumbnail';
/** A full catalogue (count=-1) of library.kiwix.org is some 15 MB; refuse absurd documents before parsing. */
export const MAX_CATALOGUE_BYTES = 64 * 1024 * 1024;

// fast-xml-parser is loaded at the first parse, not at start: most nodes open the ZIM pages rarely, and the parser
// costs about 1.5 MB resident (measured with the node's flags). require() keeps parsing synchronous.
type Xml = typeof import('fast-xml-parser');
let loadedXml: { lib: Xml; parser: InstanceType<Xml['XMLParser']> } | undefined;
function xmlParser(): NonNullable<typeof loadedXml> {
  if (loadedXml) return loadedXml;
  const lib = createRequire(import.meta.url)('fast-xml-parser') as Xml;
  loadedXml = { lib, parser: new lib.XMLParser(PARSER_OPTIONS) };
  return loadedXml;
}

const PARSER_OPTIONS: X2jOptions = {
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true, // `dc:issued` → `issued`
  parseTagValue: false, // keep "00123" and "1e3" as text: we validate numbers ourselves
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (tag: string) => tag === 'entry' || tag === 'link',
};

type XmlNode = Record<string, unknown>;

/** The text of an element whether or not it has attributes (`<x a="1">t</x>` parses to `{ '#text': 't', ... }`). */
export function textOf(node: unknown): string {
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (node && typeof node === 'object' && '#text' in node) return textOf((node as XmlNode)['#text']);
  return '';
}

/** Parse an XML document or throw one clear sentence; shared with the Metalink parser. */
export function parseXml(xml: string, what: string, maxBytes: number): XmlNode {
  if (typeof xml !== 'string' || xml.trim() === '') throw new Error(`the ${what} is empty`);
  if (xml.length > maxBytes) throw new Error(`the ${what} is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`);
  const { lib, parser } = xmlParser();
  const valid = lib.XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`the ${what} is not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);
  return parser.parse(xml) as XmlNode;
}

const asNodes = (v: unknown): XmlNode[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((n): n is XmlNode => !!n && typeof n === 'object');

/** A non-negative integer from text, or undefined. Plain digits only: no signs, exponents or fractions. */
export function wholeNumber(text: string): number | undefined {
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** ISO 8601 from what catalogues write (`2024-01-15T00:00:00Z`, sometimes just the date, sometimes garbled after it). */
export function isoDate(text: string): string | undefined {
  const t = Date.parse(text);
  if (Number.isFinite(t)) return new Date(t).toISOString();
  const day = /^(\d{4}-\d{2}-\d{2})/.exec(text)?.[1];
  const d = day ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  return Number.isFinite(d) ? new Date(d).toISOString() : undefined;
}

/** An absolute http(s) URL, resolving a relative one against `base` when there is one. */
function httpUrl(href: string, base: string | undefined): string | undefined {
  try {
    const url = base ? new URL(href, base) : new URL(href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ZIM file name an acquisition link downloads: its last path segment (percent-decoded, so `%2F` tricks are
 * seen), minus `.meta4`. Undefined when that is not a safe `.zim` name.
 */
export function fileNameFromUrl(href: string): string | undefined {
  let segment: string;
  try {
    const raw = new URL(href).pathname.split('/').pop() ?? '';
    segment = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const name = segment.endsWith('.meta4') ? segment.slice(0, -'.meta4'.length) : segment;
  return zimFileNameSchema.safeParse(name).success ? name : undefined;
}

class SkipEntry extends Error {}

function entryOf(node: XmlNode, feedUrl: string | undefined): ZimEntry {
  const text = (key: string) => textOf(node[key]).trim();
  const label = text('name') || text('title') || text('id') || 'an entry';
  const skip = (why: string): never => {
    throw new SkipEntry(`${label.slice(0, 80)}: ${why}`);
  };

  const id = text('id').replace(/^urn:uuid:/i, '');
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) skip('no usable id');
  const name = text('name');
  if (!bookNameSchema.safeParse(name).success) skip(`the book name ${JSON.stringify(name.slice(0, 80))} is not a safe name`);

  const links = asNodes(node.link);
  const acquisition = links.find((l) => textOf(l['@_rel']) === ACQUISITION_REL);
  if (!acquisition) skip('no download link');
  const href = textOf(acquisition!['@_href']).trim();
  const downloadUrl = httpUrl(href, feedUrl);
  if (!downloadUrl) skip(`the download link ${JSON.stringify(href.slice(0, 100))} is not an http(s) URL`);
  const fileName = fileNameFromUrl(downloadUrl!);
  if (!fileName) skip('the download link does not name a plain .zim file');
  const size = wholeNumber(textOf(acquisition!['@_length']).trim());
  if (!size) skip(`the size ${JSON.stringify(textOf(acquisition!['@_length']).slice(0, 30))} is not a positive number of bytes`);
  const updated = isoDate(text('updated'));
  if (!updated) skip('no valid updated date');

  const thumbnail = links.find((l) => textOf(l['@_rel']) === THUMBNAIL_REL);
  const illustrationUrl = thumbnail ? httpUrl(textOf(thumbnail['@_href']).trim(), feedUrl) : undefined;
  const issued = isoDate(text('issued'));

  return {
    id,
    name,
    title: text('title') || name,
    summary: text('summary'),
    language: text('language'),
    flavour: text('flavour'),
    category: text('category'),
    tags: text('tags')
      .split(';')
      .map((t) => t.trim())
      .filter(Boolean),
    articleCount: wholeNumber(text('articleCount')) ?? 0,
    mediaCount: wholeNumber(text('mediaCount')) ?? 0,
    size: size!,
    updated: updated!,
    ...(issued ? { issued } : {}),
    ...(illustrationUrl ? { illustrationUrl } : {}),
    downloadUrl: downloadUrl!,
    fileName: fileName!,
  };
}

/**
 * One page of `/catalog/v2/entries`. Throws only when the document is not an OPDS feed at all; malformed entries
 * land in `skipped` with a reason. `feedUrl` (the URL the page came from) resolves relative links.
 */
export function parseEntries(xml: string, feedUrl?: string): CataloguePage {
  const doc = parseXml(xml, 'catalogue', MAX_CATALOGUE_BYTES);
  const feed = doc.feed;
  if (!feed || typeof feed !== 'object') throw new Error('the catalogue is not an OPDS feed (no <feed> element)');
  const f = feed as XmlNode;
  const entries: ZimEntry[] = [];
  const skipped: { reason: string }[] = [];
  const nodes = asNodes(f.entry);
  for (const node of nodes) {
    try {
      entries.push(entryOf(node, feedUrl));
    } catch (err) {
      if (!(err instanceof SkipEntry)) throw err;
      skipped.push({ reason: err.message });
    }
  }
  // Unfiltered feeds carry no OpenSearch counts: the page is then the whole answer.
  const total = wholeNumber(textOf(f.totalResults).trim()) ?? nodes.length;
  const start = wholeNumber(textOf(f.startIndex).trim()) ?? 0;
  const perPage = wholeNumber(textOf(f.itemsPerPage).trim()) ?? nodes.length;
  return { total, start, perPage, entries, skipped };
}

// ---------------------------------------------------------------------------------------------------------------
// Fetching

export type FetchCatalogueOptions = { fetch?: typeof fetch; signal?: AbortSignal; timeoutMs?: number; maxBytes?: number; floor?: ReadFloor };

/** The catalogue could not be read: down, unreachable, slow, or not a catalogue. The message is for a steward. */
export class CatalogueError extends Error {}

/** Fetch and parse one filtered page of the catalogue at `base`. Errors are CatalogueErrors with one readable sentence. */
export async function fetchCatalogue(base: string, filters: CatalogueFilters = {}, opts: FetchCatalogueOptions = {}): Promise<CataloguePage> {
  const url = catalogueUrl(base, filters);
  const xml = await fetchSmallDocument(url, 'catalogue', opts);
  try {
    return parseEntries(xml, url);
  } catch (err) {
    throw new CatalogueError(`The catalogue at ${new URL(url).host} sent something unreadable: ${(err as Error).message}`);
  }
}

/** GET a small XML document with a deadline and a size cap; shared with the Metalink fetcher. */
export async function fetchSmallDocument(url: string, what: string, opts: FetchCatalogueOptions = {}): Promise<string> {
  const host = new URL(url).host;
  try {
    return await fetchText(url, { maxBytes: MAX_CATALOGUE_BYTES, timeoutMs: 30_000, ...opts, accept: 'application/atom+xml, application/metalink4+xml, application/xml;q=0.9, */*;q=0.5' });
  } catch (err) {
    // The cause (a RemoteReadError) tells a caller whether asking again could help.
    throw new CatalogueError(`The ${what} at ${host} could not be read: ${(err as Error).message.replace(/^the server answered/, 'it answered HTTP').replace(/^the server /, 'it ').replace(/^the document is/, 'it is')}.`, { cause: err });
  }
}

export { networkReason };
