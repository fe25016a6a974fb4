// What the ZIM library page reads from kiwix-serve: the books of its library file (kiwix-manage's XML, as the Kiwix
// recipe builds it) and where kiwix-serve shows each one (its OPDS entries' text/html links). Shapes as kiwix-tools
// 3.3.0 writes them (attributes escaped, the favicon cut short here).
import { describe, expect, it } from 'vitest';
import { bookLinks, booksInLibrary, withLinks } from '../../app/services/zim/library.ts';

const LIBRARY = `<library version="20110515">
  <book id="a579ad89-4895-4dce-c74c-6a81151c001e" path="/data/my_book_2024-06.zim" title="M&#233;decine &amp; &quot;sant&#xE9;&quot;" description="desc" language="fra" creator="c" publisher="p" name="my_book" tags="_ftindex:yes" faviconMimeType="image/png" favicon="iVBORw0KGgo=" date="2024-06-01" articleCount="1" mediaCount="1" size="62" />
  <book id="0b1" path="/data/other.zim" title="" language="" name="" />
</library>
`;

const OPDS = `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>0a87510f-58cc-c61c-10a6-cfb347e41f07</id>
  <link rel="self" href="/catalog/v2/entries?count=-1" type="application/atom+xml;profile=opds-catalog;kind=acquisition"/>
  <entry>
    <id>urn:uuid:a579ad89-4895-4dce-c74c-6a81151c001e</id>
    <title>M&#233;decine</title>
    <link rel="http://opds-spec.org/image/thumbnail"
          href="/catalog/v2/illustration/my_book_2024-06/?size=48"
          type="image/png;width=48;height=48;scale=1"/>
    <link type="text/html" href="/content/my_book_2024-06" />
  </entry>
  <entry>
    <id>urn:uuid:evil</id>
    <link type="text/html" href="https://elsewhere.example/x" />
  </entry>
</feed>
`;

describe('the books kiwix-serve has', () => {
  it('reads title, language, date and name from the library file, by file name, unescaped', () => {
    const books = booksInLibrary(LIBRARY);
    expect([...books.keys()]).toEqual(['my_book_2024-06.zim', 'other.zim']);
    expect(books.get('my_book_2024-06.zim')).toEqual({
      fileName: 'my_book_2024-06.zim',
      id: 'a579ad89-4895-4dce-c74c-6a81151c001e',
      title: 'Médecine & "santé"',
      language: 'fra',
      date: '2024-06-01',
      name: 'my_book',
    });
    expect(books.get('other.zim')?.title).toBe('');
    expect(booksInLibrary('<library version="20110515"></library>').size).toBe(0);
  });

  it('takes each book’s page from its OPDS entry, and only paths on the same server', () => {
    const links = bookLinks(OPDS);
    expect([...links]).toEqual([['a579ad89-4895-4dce-c74c-6a81151c001e', '/content/my_book_2024-06']]);
    expect(bookLinks('not a feed').size).toBe(0);
  });

  it('counts a book as served only once kiwix-serve’s catalogue lists it, so no link opens a "not found" page', () => {
    // The recipe rewrites the library file first; kiwix-serve reloads it a few seconds later.
    const books = withLinks(booksInLibrary(LIBRARY), bookLinks(OPDS));
    expect(books.get('my_book_2024-06.zim')).toMatchObject({ title: 'Médecine & "santé"', served: true, urlPath: '/content/my_book_2024-06' });
    expect(books.get('other.zim')).toMatchObject({ served: false });
    expect(books.get('other.zim')).not.toHaveProperty('urlPath');
  });

  it('counts no book as served while the catalogue cannot be read (kiwix-serve starting or too slow): no guessed link', () => {
    const books = withLinks(booksInLibrary(LIBRARY), undefined);
    expect(books.get('my_book_2024-06.zim')).toMatchObject({ title: 'Médecine & "santé"', served: false });
    expect(books.get('my_book_2024-06.zim')).not.toHaveProperty('urlPath');
    expect(books.get('other.zim')).toMatchObject({ served: false });
  });
});
