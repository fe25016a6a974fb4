import { describe, expect, it } from 'vitest';
import { catalogueUrl, fileNameFromUrl, parseEntries, zimFileNameSchema } from '../../app/adapters/kiwix/opds.ts';
import { UserFacingError } from '../../app/errors.ts';

const ACQ = 'http://opds-spec.org/acquisition/open-access';

/** One entry shaped like libkiwix's catalog_v2_entry.xml; `over` replaces or (with null) removes fields. */
function entry(over: Record<string, string | null> = {}): string {
  const fields: Record<string, string | null> = {
    id: '<id>urn:uuid:0c45160e-f917-760a-9159-dfe3c53cdcdd</id>',
    title: '<title>Encyclopédie de la Tunisie &amp; plus</title>',
    updated: '<updated>2018-10-08T00:00:00Z</updated>',
    summary: '<summary>Le meilleur de Wikipédia sur la Tunisie</summary>',
    language: '<language>fra</language>',
    name: '<name>wikipedia_fr_tunisie</name>',
    flavour: '<flavour>novid</flavour>',
    category: '<category>wikipedia</category>',
    tags: '<tags>wikipedia;novid;_ftindex:yes</tags>',
    articleCount: '<articleCount>172</articleCount>',
    mediaCount: '<mediaCount>1100</mediaCount>',
    thumb: '<link rel="http://opds-spec.org/image/thumbnail" href="/catalog/v2/illustration/0c45160e-f917-760a-9159-dfe3c53cdcdd/?size=48" type="image/png;width=48;height=48;scale=1"/>',
    html: '<link type="text/html" href="/content/wikipedia_fr_tunisie_novid_2018-10" />',
    author: '<author><name>Wikipedia</name></author>',
    issued: '<dc:issued>2018-10-08T00:00:00Z</dc:issued>',
    acquisition: `<link rel="${ACQ}" type="application/x-zim" href="https://download.kiwix.org/zim/wikipedia/wikipedia_fr_tunisie_novid_2018-10.zim.meta4" length="90030080" />`,
    ...over,
  };
  return `<entry>${Object.values(fields).filter(Boolean).join('\n')}</entry>`;
}

const feed = (entries: string[], counts = '<totalResults>42</totalResults><startIndex>20</startIndex><itemsPerPage>10</itemsPerPage>') =>
  `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/terms/" xmlns:opds="https://specs.opds.io/opds-1.2">
  <id>x</id><title>Filtered Entries</title><updated>2024-01-01T00:00:00Z</updated>${counts}
  ${entries.join('\n')}
</feed>`;

const FEED_URL = 'https://library.kiwix.org/catalog/v2/entries?lang=fra';

describe('parseEntries', () => {
  it('reads every field of a libkiwix entry', () => {
    const page = parseEntries(feed([entry()]), FEED_URL);
    expect(page).toMatchObject({ total: 42, start: 20, perPage: 10, skipped: [] });
    expect(page.entries).toEqual([
      {
        id: '0c45160e-f917-760a-9159-dfe3c53cdcdd',
        name: 'wikipedia_fr_tunisie',
        title: 'Encyclopédie de la Tunisie & plus',
        summary: 'Le meilleur de Wikipédia sur la Tunisie',
        language: 'fra',
        flavour: 'novid',
        category: 'wikipedia',
        tags: ['wikipedia', 'novid', '_ftindex:yes'],
        articleCount: 172,
        mediaCount: 1100,
        size: 90030080,
        updated: '2018-10-08T00:00:00.000Z',
        issued: '2018-10-08T00:00:00.000Z',
        illustrationUrl: 'https://library.kiwix.org/catalog/v2/illustration/0c45160e-f917-760a-9159-dfe3c53cdcdd/?size=48',
        downloadUrl: 'https://download.kiwix.org/zim/wikipedia/wikipedia_fr_tunisie_novid_2018-10.zim.meta4',
        fileName: 'wikipedia_fr_tunisie_novid_2018-10.zim',
      },
    ]);
  });

  it('counts from the page itself when a feed has no OpenSearch totals (unfiltered)', () => {
    const page = parseEntries(feed([entry(), entry()], ''));
    expect(page).toMatchObject({ total: 2, start: 0, perPage: 2 });
  });

  it('tolerates the garbled dates some catalogues carry and missing optional parts', () => {
    const page = parseEntries(
      feed([entry({ updated: '<updated>2018-10-08T00:00::00:Z</updated>', issued: null, thumb: null, articleCount: '<articleCount>lots</articleCount>', tags: null })]),
    );
    expect(page.skipped).toEqual([]);
    const e = page.entries[0]!;
    expect(e.updated).toBe('2018-10-08T00:00:00.000Z');
    expect(e).not.toHaveProperty('issued');
    expect(e).not.toHaveProperty('illustrationUrl');
    expect(e.articleCount).toBe(0);
    expect(e.tags).toEqual([]);
  });

  it('takes a direct .zim link as well as a .meta4 one', () => {
    const acquisition = `<link rel="${ACQ}" type="application/x-zim" href="http://mirror.lan/zim/gutenberg_en_all_2024-01.zim" length="5"/>`;
    expect(parseEntries(feed([entry({ acquisition })])).entries[0]?.fileName).toBe('gutenberg_en_all_2024-01.zim');
  });

  it('resolves a relative download link against the feed (a local mirror), and skips it without one', () => {
    const acquisition = `<link rel="${ACQ}" type="application/x-zim" href="/zim/a_2024-01.zim.meta4" length="5"/>`;
    expect(parseEntries(feed([entry({ acquisition })]), 'http://mirror.lan:8080/catalog/v2/entries').entries[0]?.downloadUrl).toBe(
      'http://mirror.lan:8080/zim/a_2024-01.zim.meta4',
    );
    expect(parseEntries(feed([entry({ acquisition })])).skipped).toHaveLength(1);
  });

  it.each([
    ['no download link', { acquisition: null }, /no download link/],
    ['a zero size', { acquisition: `<link rel="${ACQ}" href="https://d.org/zim/a.zim.meta4" length="0"/>` }, /size/],
    ['a negative size', { acquisition: `<link rel="${ACQ}" href="https://d.org/zim/a.zim.meta4" length="-5"/>` }, /size/],
    ['a fractional size', { acquisition: `<link rel="${ACQ}" href="https://d.org/zim/a.zim.meta4" length="1.5"/>` }, /size/],
    ['no size', { acquisition: `<link rel="${ACQ}" href="https://d.org/zim/a.zim.meta4"/>` }, /size/],
    ['an encoded ../ in the file name', { acquisition: `<link rel="${ACQ}" href="https://d.org/zim/..%2F..%2Fetc%2Fevil.zim.meta4" length="5"/>` }, /plain \.zim/],
    ['a file that is not a .zim', { acquisition: `<link rel="${ACQ}" href="https://d.org/zim/a.torrent" length="5"/>` }, /plain \.zim/],
    ['a hidden file', { acquisition: `<link rel="${ACQ}" href="https://d.org/zim/.zim.meta4" length="5"/>` }, /plain \.zim/],
    ['a javascript: link', { acquisition: `<link rel="${ACQ}" href="javascript:alert(1)" length="5"/>` }, /http/],
    ['a file: link', { acquisition: `<link rel="${ACQ}" href="file:///etc/passwd.zim" length="5"/>` }, /http/],
    ['a book name with ../', { name: '<name>../../etc</name>' }, /book name/],
    ['a book name with a slash', { name: '<name>a/b</name>' }, /book name/],
    ['no id', { id: null }, /id/],
    ['no date', { updated: null }, /date/],
  ])('skips an entry with %s, keeping the rest', (_what, over, reason) => {
    const page = parseEntries(feed([entry(over), entry()]), FEED_URL);
    expect(page.entries).toHaveLength(1);
    expect(page.skipped).toHaveLength(1);
    expect(page.skipped[0]!.reason).toMatch(reason);
  });

  it('ignores a thumbnail that is not http(s)', () => {
    const thumb = '<link rel="http://opds-spec.org/image/thumbnail" href="javascript:alert(1)"/>';
    expect(parseEntries(feed([entry({ thumb })]), FEED_URL).entries[0]).not.toHaveProperty('illustrationUrl');
  });

  it.each([
    ['an empty document', ''],
    ['not XML', 'Service Unavailable'],
    ['broken XML', '<feed><entry></feed>'],
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>'],
  ])('throws one sentence for %s', (_what, xml) => {
    expect(() => parseEntries(xml)).toThrow(/catalogue/);
  });

  it('does not expand entities into huge strings (billion laughs)', () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]><feed><entry><title>&g;</title></entry></feed>`;
    let page: ReturnType<typeof parseEntries> | undefined;
    try {
      page = parseEntries(bomb);
    } catch (err) {
      expect(String(err)).toMatch(/entit|catalogue/i);
      return;
    }
    expect(JSON.stringify(page).length).toBeLessThan(100_000);
  });
});

describe('zim file names', () => {
  it.each(['wikipedia_en_all_maxi_2024-01.zim', 'a.zim', 'Stack.Exchange_en_2019-02.zim'])('accepts %s', (n) => {
    expect(zimFileNameSchema.safeParse(n).success).toBe(true);
  });
  it.each(['', '.zim', '../a.zim', 'a/b.zim', 'a\\b.zim', 'a..b.zim', 'a.zim.part', 'a.ZIM.exe', '-a.zim', 'a b.zim', 'é.zim', `${'a'.repeat(200)}.zim`, 'a.zim\n'])(
    'rejects %j',
    (n) => expect(zimFileNameSchema.safeParse(n).success).toBe(false),
  );
  it('takes the last path segment minus .meta4, decoded', () => {
    expect(fileNameFromUrl('https://d.org/zim/x/a_b-1.zim.meta4?x=1#y')).toBe('a_b-1.zim');
    expect(fileNameFromUrl('https://d.org/zim/%2E%2E%2Fa.zim')).toBeUndefined();
    expect(fileNameFromUrl('https://d.org/zim/')).toBeUndefined();
  });
});

describe('catalogueUrl', () => {
  it('builds the entries URL with validated filters', () => {
    const url = new URL(catalogueUrl('https://library.kiwix.org/', { lang: ['eng', 'FRA'], category: 'Wikipedia', q: '  solar system ', maxSize: '5000000', start: 20, count: 10 }));
    expect(url.origin + url.pathname).toBe('https://library.kiwix.org/catalog/v2/entries');
    expect(Object.fromEntries(url.searchParams)).toEqual({ lang: 'eng,fra', category: 'wikipedia', q: 'solar system', maxsize: '5000000', start: '20', count: '10' });
  });

  it('keeps a mirror’s path prefix and leaves empty filters out', () => {
    expect(catalogueUrl('http://192.168.1.5:8080/kiwix', {})).toBe('http://192.168.1.5:8080/kiwix/catalog/v2/entries');
    expect(catalogueUrl('http://mirror.lan', { lang: '', category: ' ', q: '', maxSize: '', start: '', count: '' } as never)).toBe('http://mirror.lan/catalog/v2/entries');
    expect(catalogueUrl('http://mirror.lan', { lang: 'eng, fra' })).toBe('http://mirror.lan/catalog/v2/entries?lang=eng%2Cfra');
  });

  it.each([
    [{ lang: 'en' }, /Language/],
    [{ lang: 'eng;rm -rf' }, /Language/],
    [{ lang: Array(21).fill('eng') }, /Language/],
    [{ category: 'two words' }, /Category/],
    [{ category: '../x' }, /Category/],
    [{ q: 'x'.repeat(201) }, /Search text/],
    [{ q: 'a\u0000b' }, /Search text/],
    [{ maxSize: -1 }, /Largest size/],
    [{ maxSize: 'lots' }, /Largest size/],
    [{ maxSize: 1.5 }, /Largest size/],
    [{ start: -1 }, /Start/],
    [{ start: 10_000_000 }, /Start/],
    [{ count: 0 }, /Page size/],
    [{ count: 501 }, /Page size/],
    [{ count: -1 }, /Page size/],
  ])('refuses %j with a 400 naming the filter', (filters, message) => {
    let error: unknown;
    try {
      catalogueUrl('https://library.kiwix.org', filters as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as UserFacingError).status).toBe(400);
    expect((error as Error).message).toMatch(message);
  });

  it.each(['library.kiwix.org', 'ftp://mirror/', 'https://user:pw@mirror/', 'https://mirror/?x=1', 'javascript:alert(1)'])('refuses the base %j', (base) => {
    expect(() => catalogueUrl(base)).toThrow(/catalogue address/);
  });
});
