// Writes a small OPDS (Atom) catalogue of ZIM files, in the shape Kiwix's `/catalog/v2/entries` uses, so the
// node's own reader (parseEntries) and Kiwix tools can read a neighbour's catalogue like library.kiwix.org's.
export type FeedEntry = { id: string; name: string; title: string; language: string; size: number; updated: string; downloadUrl: string; summary?: string };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

export function opdsFeed(title: string, id: string, updated: string, entries: FeedEntry[]): string {
  const items = entries.map(
    (e) => `  <entry>
    <id>urn:uuid:${esc(e.id)}</id>
    <title>${esc(e.title)}</title>
    <updated>${esc(e.updated)}</updated>
    <summary>${esc(e.summary ?? '')}</summary>
    <language>${esc(e.language)}</language>
    <name>${esc(e.name)}</name>
    <link rel="http://opds-spec.org/acquisition/open-access" type="application/x-zim" href="${esc(e.downloadUrl)}" length="${e.size}"/>
  </entry>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opds="https://specs.opds.io/opds-1.2">
  <id>urn:uuid:${esc(id)}</id>
  <title>${esc(title)}</title>
  <updated>${esc(updated)}</updated>
  <totalResults>${entries.length}</totalResults>
  <startIndex>0</startIndex>
  <itemsPerPage>${entries.length}</itemsPerPage>
${items.join('\n')}
</feed>
`;
}

/** A Metalink 4 file for one ZIM: its name, size, sha-256 and one URL. */
export function meta4For(fileName: string, size: number, sha256: string, url: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="${esc(fileName)}">
    <size>${size}</size>
    <hash type="sha-256">${esc(sha256)}</hash>
    <url priority="1">${esc(url)}</url>
  </file>
</metalink>
`;
}
