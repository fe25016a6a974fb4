// Metalink 4 (RFC 5854) files as download.kiwix.org serves them next to every ZIM (`<file>.zim.meta4`): the file's
// name, size, sha-256 and mirror URLs. Everything in one is checked before a download may trust it.
import { fetchSmallDocument, parseXml, textOf, wholeNumber, zimFileNameSchema, type FetchCatalogueOptions } from './opds.ts';

export type Meta4 = {
  fileName: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
  /** http(s) mirror URLs, best (lowest `priority`) first; URLs without a priority come last, in document order. */
  urls: string[];
};

/** Piece hashes make big files' Metalinks long (~2 MB for 100 GB in 4 MB pieces); anything past this is not one. */
export const MAX_META4_BYTES = 16 * 1024 * 1024;

/** Why a Metalink file cannot be trusted; the message names the problem in one sentence. */
export class Meta4Error extends Error {}

type XmlNode = Record<string, unknown>;
const nodes = (v: unknown): XmlNode[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((n) => (n && typeof n === 'object' ? (n as XmlNode) : { '#text': n }));

/**
 * Parse and validate a Metalink 4 document describing one ZIM file. `baseUrl` (where the document came from)
 * resolves relative mirror URLs. Throws a Meta4Error when anything is missing or unsafe.
 */
export function parseMeta4(xml: string, baseUrl?: string): Meta4 {
  let doc: XmlNode;
  try {
    doc = parseXml(xml, 'Metalink file', MAX_META4_BYTES);
  } catch (err) {
    throw new Meta4Error((err as Error).message);
  }
  const root = doc.metalink;
  if (!root || typeof root !== 'object') throw new Meta4Error('the Metalink file has no <metalink> element');
  const files = nodes((root as XmlNode).file);
  if (files.length !== 1) throw new Meta4Error(`the Metalink file describes ${files.length} files; expected exactly one ZIM file`);
  const file = files[0]!;

  // The name attribute may not be a path (RFC 5854 allows directories; we never do).
  const fileName = textOf(file['@_name']).trim();
  if (!zimFileNameSchema.safeParse(fileName).success) {
    throw new Meta4Error(`the Metalink file names ${JSON.stringify(fileName.slice(0, 100))}, which is not a plain .zim file name`);
  }

  const sizeText = textOf(file.size).trim();
  const size = wholeNumber(sizeText);
  if (!size) throw new Meta4Error(`the Metalink file gives the size ${JSON.stringify(sizeText.slice(0, 30))}, not a positive number of bytes`);

  // Only the file's own <hash> children: the <pieces> element holds per-piece hashes of its own.
  const sha = nodes(file.hash).find((h) => ['sha-256', 'sha256'].includes(textOf(h['@_type']).trim().toLowerCase()));
  if (!sha) throw new Meta4Error('the Metalink file has no sha-256 hash, so the download could not be verified');
  const sha256 = textOf(sha).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Meta4Error('the Metalink file’s sha-256 is not 64 hexadecimal digits');

  const urls = mirrorUrls(nodes(file.url), baseUrl);
  if (urls.length === 0) throw new Meta4Error('the Metalink file lists no http or https URL to download from');
  return { fileName, size, sha256, urls };
}

/** http(s) URLs by RFC 5854 priority (1 is best; none means after all ranked ones); others (ftp, file, …) are dropped. */
function mirrorUrls(urlNodes: XmlNode[], baseUrl: string | undefined): string[] {
  const ranked = urlNodes.flatMap((node, order) => {
    const href = textOf(node).trim();
    let url: URL;
    try {
      url = baseUrl ? new URL(href, baseUrl) : new URL(href);
    } catch {
      return [];
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return [];
    const priority = wholeNumber(textOf(node['@_priority']).trim()) ?? Number.POSITIVE_INFINITY;
    return [{ href: url.href, priority, order }];
  });
  ranked.sort((a, b) => a.priority - b.priority || a.order - b.order);
  return [...new Set(ranked.map((r) => r.href))];
}

/** Fetch a `.meta4` and parse it. Fetch failures are CatalogueErrors, content problems Meta4Errors. */
export async function fetchMeta4(url: string, opts: FetchCatalogueOptions = {}): Promise<Meta4> {
  const xml = await fetchSmallDocument(url, 'Metalink file', { maxBytes: MAX_META4_BYTES, ...opts });
  return parseMeta4(xml, url);
}
