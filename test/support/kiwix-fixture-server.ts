// A stand-in for library.kiwix.org and download.kiwix.org on 127.0.0.1: an OPDS v2 catalogue built from a list of
// books, a `.meta4` per book with the file's real sha-256, and the files themselves with Range support — plus
// switches for the faults a download must survive (cuts, lies, corruption, ignored ranges, a catalogue that is down,
// slowness). Files are `{ name, path }`, so random bytes and a real tiny ZIM plug in alike.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';

export type FixtureBook = {
  /** The ZIM file name, e.g. `wikipedia_en_test_2024-01.zim`. */
  name: string;
  path: string;
  title?: string;
  /** Book name (default: `name` minus the date and `.zim`). */
  bookName?: string;
  language?: string;
  category?: string;
  flavour?: string;
  tags?: string[];
  summary?: string;
  articleCount?: number;
  mediaCount?: number;
  /** `YYYY-MM-DD` (default 2024-01-15). */
  date?: string;
};

export type FixtureFaults = {
  /** Cut the connection after this many body bytes of a file response, `times` times (default once; 'always'). */
  cutAfterBytes?: number;
  cutTimes?: number | 'always';
  /** Lie about the size: a wrong Content-Length, a wrong Content-Range total, or extra bytes after the file (chunked). */
  lie?: 'content-length' | 'content-range' | 'extra-bytes';
  /** Flip the byte at this file offset in every response that carries it. */
  corruptByteAt?: number;
  /** Answer Range requests with 200 and the whole file. */
  ignoreRange?: boolean;
  /** The catalogue answers 500. */
  catalogueDown?: boolean;
  /** Send file bodies at about this many bytes per second. */
  bytesPerSecond?: number;
  /** Body framing instead of Content-Length: chunked, or close-delimited (HTTP/1.0 style). */
  framing?: 'chunked' | 'close';
  /** Send this many body bytes, then go silent with the connection open (once). */
  stallAfterBytes?: number;
  /** Answer the first this-many file requests with 503 Service Unavailable. */
  unavailableTimes?: number;
  /** A slow-loris mirror: send file bodies one byte every this-many ms (never silent, never done). */
  trickleEveryMs?: number;
  /** The same for Metalink files. */
  trickleMeta4EveryMs?: number;
  /** Metalink files carry no sha-256 (only the md5 Kiwix lists too). */
  meta4WithoutHash?: boolean;
  /** Answer Metalink requests with this HTTP status. */
  meta4Status?: number;
  /** Mirror base URLs (other fixtures) that every Metalink lists before this server's own, best first. */
  meta4MirrorsFirst?: string[];
};

export type FixtureRequest = { method: string; path: string; range: string | undefined };

export type KiwixFixture = {
  url: string;
  /** Mutable: tests switch faults on and off between requests. */
  faults: FixtureFaults;
  /** Every request, in order, with the Range header it carried. */
  requests: FixtureRequest[];
  /** Switch every fault off and forget requests and how often faults already fired. */
  reset(): void;
  /** Range headers of file requests for `name` (undefined for requests without one). */
  rangesFor(name: string): (string | undefined)[];
  meta4Url(name: string): string;
  fileUrl(name: string): string;
  sha256(name: string): string;
  size(name: string): number;
  close(): Promise<void>;
};

type Book = Required<Omit<FixtureBook, 'path'>> & { path: string; size: number; sha256: string; id: string };

/** Extra entries every unfiltered catalogue page carries: one without a download link, one with a path trick. */
const MALFORMED_ENTRY = `  <entry>
    <id>urn:uuid:00000000-0000-4000-8000-000000000bad</id>
    <title>No download link</title>
    <updated>2024-01-15T00:00:00Z</updated>
    <name>broken_book</name>
    <language>eng</language>
  </entry>
`;
const pathTrickEntry = (base: string) => `  <entry>
    <id>urn:uuid:00000000-0000-4000-8000-00000000dead</id>
    <title>Path trick</title>
    <updated>2024-01-15T00:00:00Z</updated>
    <name>evil_book</name>
    <language>eng</language>
    <link rel="http://opds-spec.org/acquisition/open-access" type="application/x-zim" href="${base}/zim/..%2F..%2Fetc%2Fevil.zim.meta4" length="1000" />
  </entry>
`;
export const FIXTURE_EXTRA_ENTRIES = 2;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function bookOf(b: FixtureBook, index: number): Book {
  const size = statSync(b.path).size;
  // Fixture files are small (a few MB): reading them whole is fine here.
  const sha256 = createHash('sha256').update(readFileSync(b.path)).digest('hex');
  const bookName = b.bookName ?? b.name.replace(/(_\d{4}-\d{2})?\.zim$/, '');
  return {
    name: b.name,
    path: b.path,
    title: b.title ?? bookName,
    bookName,
    language: b.language ?? 'eng',
    category: b.category ?? 'wikipedia',
    flavour: b.flavour ?? 'maxi',
    tags: b.tags ?? ['wikipedia', '_pictures:yes'],
    summary: b.summary ?? `Test book ${bookName}`,
    articleCount: b.articleCount ?? 100,
    mediaCount: b.mediaCount ?? 10,
    date: b.date ?? '2024-01-15',
    size,
    sha256,
    id: `00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`,
  };
}

function entryXml(b: Book, base: string): string {
  return `  <entry>
    <id>urn:uuid:${b.id}</id>
    <title>${esc(b.title)}</title>
    <updated>${b.date}T00:00:00Z</updated>
    <summary>${esc(b.summary)}</summary>
    <language>${esc(b.language)}</language>
    <name>${esc(b.bookName)}</name>
    <flavour>${esc(b.flavour)}</flavour>
    <category>${esc(b.category)}</category>
    <tags>${esc(b.tags.join(';'))}</tags>
    <articleCount>${b.articleCount}</articleCount>
    <mediaCount>${b.mediaCount}</mediaCount>
    <link rel="http://opds-spec.org/image/thumbnail" href="/catalog/v2/illustration/${b.id}/?size=48" type="image/png;width=48;height=48;scale=1"/>
    <link type="text/html" href="/content/${esc(b.bookName)}" />
    <author><name>Test</name></author>
    <publisher><name>Test</name></publisher>
    <dc:issued>${b.date}T00:00:00Z</dc:issued>
    <link rel="http://opds-spec.org/acquisition/open-access" type="application/x-zim" href="${base}/zim/${encodeURIComponent(b.name)}.meta4" length="${b.size}" />
  </entry>
`;
}

function feedXml(books: Book[], base: string, q: URLSearchParams): string {
  const langs = q.get('lang')?.split(',').filter(Boolean);
  const categories = q.get('category')?.split(',').filter(Boolean);
  const text = q.get('q')?.toLowerCase();
  const maxSize = q.has('maxsize') ? Number(q.get('maxsize')) : undefined;
  const name = q.get('name');
  const filtered = books.filter(
    (b) =>
      (!name || b.bookName === name) &&
      (!langs || langs.some((l) => b.language.split(',').includes(l))) &&
      (!categories || categories.includes(b.category)) &&
      (!text || `${b.title} ${b.summary}`.toLowerCase().includes(text)) &&
      (maxSize === undefined || b.size <= maxSize),
  );
  const anyFilter = ['lang', 'category', 'q', 'maxsize', 'name'].some((k) => q.has(k));
  const entries = filtered.map((b) => entryXml(b, base));
  if (!anyFilter) entries.push(MALFORMED_ENTRY, pathTrickEntry(base));
  const start = Math.max(0, Number(q.get('start') ?? 0) || 0);
  const countParam = Number(q.get('count') ?? 10);
  const count = countParam < 0 ? entries.length : countParam;
  const page = entries.slice(start, start + count);
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/terms/" xmlns:opds="https://specs.opds.io/opds-1.2" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <id>fixture-feed</id>
  <title>Filtered Entries</title>
  <updated>2024-01-15T00:00:00Z</updated>
  <totalResults>${entries.length}</totalResults>
  <startIndex>${start}</startIndex>
  <itemsPerPage>${page.length}</itemsPerPage>
${page.join('')}</feed>
`;
}

function meta4Xml(b: Book, base: string, faults: FixtureFaults): string {
  const mirrors = [...(faults.meta4MirrorsFirst ?? []), base].map((m, i) => `    <url location="zz" priority="${i + 1}">${m}/zim/${encodeURIComponent(b.name)}</url>`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <generator>kiwix-fixture</generator>
  <file name="${esc(b.name)}">
    <size>${b.size}</size>
    <hash type="md5">00000000000000000000000000000000</hash>
${faults.meta4WithoutHash ? '' : `    <hash type="sha-256">${b.sha256}</hash>\n`}    <pieces length="1048576" type="sha-1"><hash>0000000000000000000000000000000000000000</hash></pieces>
${mirrors.join('\n')}
  </file>
</metalink>
`;
}

/** Send `body` one byte every `everyMs` until it is all sent or the client goes away. */
async function trickle(res: http.ServerResponse, body: Buffer, everyMs: number): Promise<void> {
  for (let i = 0; i < body.length && !res.destroyed; i++) {
    res.write(body.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  res.end();
}

/** Start the fixture on 127.0.0.1 with a free port. */
export async function startKiwixFixture(opts: { books: FixtureBook[]; faults?: FixtureFaults; tls?: { key: string; cert: string } }): Promise<KiwixFixture> {
  const books = opts.books.map(bookOf);
  const byName = new Map(books.map((b) => [b.name, b]));
  const faults: FixtureFaults = { ...opts.faults };
  const requests: FixtureRequest[] = [];
  let cutsDone = 0;
  let stalled = false;
  let unavailable = 0;
  let base = '';

  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', base);
    requests.push({ method: req.method ?? 'GET', path: url.pathname, range: req.headers.range });
    if (url.pathname === '/catalog/v2/entries') {
      if (faults.catalogueDown) return void res.writeHead(500, { 'content-type': 'text/plain' }).end('catalogue down');
      res.writeHead(200, { 'content-type': 'application/atom+xml;profile=opds-catalog;kind=acquisition' });
      return void res.end(feedXml(books, base, url.searchParams));
    }
    const redirect = /^\/redirect\/(.+)$/.exec(url.pathname);
    if (redirect) return void res.writeHead(302, { location: `/zim/${redirect[1]}` }).end();
    const m = /^\/zim\/([^/]+?)(\.meta4)?$/.exec(url.pathname);
    const book = m ? byName.get(decodeURIComponent(m[1]!)) : undefined;
    if (!m || !book) return void res.writeHead(404).end('not found');
    if (m[2]) {
      if (faults.meta4Status) return void res.writeHead(faults.meta4Status, { 'content-type': 'text/plain' }).end('refused');
      const xml = Buffer.from(meta4Xml(book, base, faults));
      res.writeHead(200, { 'content-type': 'application/metalink4+xml', 'content-length': String(xml.length) });
      if (faults.trickleMeta4EveryMs) return void trickle(res, xml, faults.trickleMeta4EveryMs);
      return void res.end(xml);
    }
    if (unavailable < (faults.unavailableTimes ?? 0)) {
      unavailable++;
      return void res.writeHead(503, { 'retry-after': '1' }).end('busy');
    }
    const cut = faults.cutAfterBytes !== undefined && (faults.cutTimes === 'always' || cutsDone < (faults.cutTimes ?? 1));
    if (cut) cutsDone++;
    const stall = faults.stallAfterBytes !== undefined && !stalled;
    if (stall) stalled = true;
    void serveFile(req, res, book, faults, cut ? faults.cutAfterBytes : undefined, stall ? faults.stallAfterBytes : undefined).catch(() => res.destroy());
  };
  const server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const need = (name: string) => {
    const b = byName.get(name);
    if (!b) throw new Error(`no fixture book ${name}`);
    return b;
  };
  return {
    url: base,
    faults,
    requests,
    reset: () => {
      for (const key of Object.keys(faults)) delete faults[key as keyof FixtureFaults];
      requests.length = 0;
      cutsDone = 0;
      stalled = false;
      unavailable = 0;
    },
    rangesFor: (name) => requests.filter((r) => r.path === `/zim/${encodeURIComponent(name)}`).map((r) => r.range),
    meta4Url: (name) => `${base}/zim/${encodeURIComponent(need(name).name)}.meta4`,
    fileUrl: (name) => `${base}/zim/${encodeURIComponent(need(name).name)}`,
    sha256: (name) => need(name).sha256,
    size: (name) => need(name).size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serve (part of) a file honouring one `bytes=a-b` / `bytes=a-` range, with the faults switched on. */
async function serveFile(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  book: Book,
  faults: FixtureFaults,
  cutAfter: number | undefined,
  stallAfter: number | undefined,
): Promise<void> {
  let start = 0;
  let end = book.size - 1;
  let status = 200;
  const range = faults.ignoreRange ? undefined : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    start = Number(range[1]);
    if (range[2]) end = Math.min(end, Number(range[2]));
    if (start >= book.size || start > end) {
      res.writeHead(416, { 'content-range': `bytes */${book.size}` });
      return void res.end();
    }
    status = 206;
  }
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
  const length = end - start + 1;
  if (faults.lie !== 'extra-bytes' && !faults.framing) headers['content-length'] = String(faults.lie === 'content-length' ? length + 1000 : length);
  if (faults.framing === 'close') {
    // No Content-Length and no chunking: the body ends when the connection does.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
  }
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${faults.lie === 'content-range' ? book.size + 1000 : book.size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return void res.end();
  if (faults.trickleEveryMs) return trickle(res, readFileSync(book.path).subarray(start, end + 1), faults.trickleEveryMs);

  let offset = start;
  let sent = 0;
  const began = Date.now();
  for await (const data of createReadStream(book.path, { start, end, highWaterMark: 64 * 1024 })) {
    let chunk = data as Buffer;
    if (faults.corruptByteAt !== undefined && faults.corruptByteAt >= offset && faults.corruptByteAt < offset + chunk.length) {
      chunk = Buffer.from(chunk);
      chunk[faults.corruptByteAt - offset]! ^= 0xff;
    }
    if (stallAfter !== undefined && sent + chunk.length >= stallAfter) {
      res.write(chunk.subarray(0, stallAfter - sent));
      return; // silent, connection left open until the client gives up
    }
    if (cutAfter !== undefined && sent + chunk.length >= cutAfter) {
      const head = chunk.subarray(0, cutAfter - sent);
      // Write what comes before the cut, let it leave, then drop the connection mid-body.
      if (head.length) await new Promise<void>((resolve) => res.write(head, () => resolve()));
      res.socket?.destroy();
      return;
    }
    offset += chunk.length;
    sent += chunk.length;
    if (!res.write(chunk)) await once(res, 'drain');
    if (faults.bytesPerSecond) {
      const due = began + (sent / faults.bytesPerSecond) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (res.destroyed) return;
  }
  if (faults.lie === 'extra-bytes') res.write(Buffer.alloc(1000, 0x42));
  res.end();
}
