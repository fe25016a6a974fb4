import { describe, expect, it } from 'vitest';
import { Meta4Error, parseMeta4 } from '../../app/adapters/kiwix/meta4.ts';

const SHA = 'a'.repeat(32) + '0123456789abcdef0123456789abcdef';

/** Shaped like the MirrorBrain Metalinks download.kiwix.org serves: several hashes, piece hashes, ranked mirrors. */
function meta4(over: { name?: string; size?: string | null; hashes?: string; urls?: string; files?: number } = {}): string {
  const file = `<file name="${over.name ?? 'wikipedia_fr_tunisie_novid_2018-10.zim'}">
    ${over.size === null ? '' : `<size>${over.size ?? '90030080'}</size>`}
    ${over.hashes ?? `<hash type="md5">0123456789abcdef0123456789abcdef</hash>
    <hash type="sha-1">0123456789abcdef0123456789abcdef01234567</hash>
    <hash type="sha-256">${SHA.toUpperCase()}</hash>`}
    <pieces length="4194304" type="sha-1">
      <hash>1111111111111111111111111111111111111111</hash>
      <hash>2222222222222222222222222222222222222222</hash>
    </pieces>
    ${over.urls ?? `<url location="se" priority="3">https://mirror.c.example/zim/wikipedia_fr_tunisie_novid_2018-10.zim</url>
    <url location="fr" priority="1">https://mirror.a.example/zim/wikipedia_fr_tunisie_novid_2018-10.zim</url>
    <url location="de">http://mirror.z.example/zim/wikipedia_fr_tunisie_novid_2018-10.zim</url>
    <url location="us" priority="2">http://mirror.b.example/kiwix/wikipedia_fr_tunisie_novid_2018-10.zim</url>`}
  </file>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <generator>MirrorBrain/2.19.0</generator>
  <origin dynamic="true">https://download.kiwix.org/zim/wikipedia/wikipedia_fr_tunisie_novid_2018-10.zim.meta4</origin>
  <published>2024-01-15T00:00:00Z</published>
  ${Array(over.files ?? 1).fill(file).join('\n')}
</metalink>`;
}

describe('parseMeta4', () => {
  it('reads name, size, the sha-256 (not the piece hashes) and the mirrors by priority', () => {
    expect(parseMeta4(meta4())).toEqual({
      fileName: 'wikipedia_fr_tunisie_novid_2018-10.zim',
      size: 90030080,
      sha256: SHA,
      urls: [
        'https://mirror.a.example/zim/wikipedia_fr_tunisie_novid_2018-10.zim',
        'http://mirror.b.example/kiwix/wikipedia_fr_tunisie_novid_2018-10.zim',
        'https://mirror.c.example/zim/wikipedia_fr_tunisie_novid_2018-10.zim',
        'http://mirror.z.example/zim/wikipedia_fr_tunisie_novid_2018-10.zim',
      ],
    });
  });

  it('accepts a single url without attributes, a "sha256" spelling, and resolves relative urls', () => {
    const m = parseMeta4(meta4({ hashes: `<hash type="sha256">${SHA}</hash>`, urls: '<url>/zim/a.zim</url>' }), 'http://mirror.lan/zim/a.zim.meta4');
    expect(m.urls).toEqual(['http://mirror.lan/zim/a.zim']);
    expect(m.sha256).toBe(SHA);
  });

  it('drops non-http mirrors and duplicates', () => {
    const urls = '<url>ftp://x/a.zim</url><url>file:///etc/passwd</url><url>https://m/a.zim</url><url priority="1">https://m/a.zim</url>';
    expect(parseMeta4(meta4({ urls })).urls).toEqual(['https://m/a.zim']);
  });

  it.each([
    ['a path in the name', { name: '../../etc/evil.zim' }, /not a plain \.zim file name/],
    ['a directory in the name', { name: 'zim/a.zim' }, /not a plain \.zim file name/],
    ['a name that is not .zim', { name: 'a.exe' }, /not a plain \.zim file name/],
    ['no size', { size: null }, /size/],
    ['a zero size', { size: '0' }, /size/],
    ['a size in words', { size: 'big' }, /size/],
    ['no sha-256', { hashes: '<hash type="md5">0123456789abcdef0123456789abcdef</hash>' }, /no sha-256/],
    ['a short sha-256', { hashes: '<hash type="sha-256">abc</hash>' }, /64 hexadecimal/],
    ['a sha-256 that is not hex', { hashes: `<hash type="sha-256">${'g'.repeat(64)}</hash>` }, /64 hexadecimal/],
    ['only non-http urls', { urls: '<url>ftp://mirror/a.zim</url><url>javascript:alert(1)</url>' }, /no http or https URL/],
    ['no urls', { urls: '' }, /no http or https URL/],
    ['two files', { files: 2 }, /2 files/],
  ])('refuses %s', (_what, over, message) => {
    expect(() => parseMeta4(meta4(over))).toThrow(Meta4Error);
    expect(() => parseMeta4(meta4(over))).toThrow(message);
  });

  it.each([
    ['an empty document', '', /empty/],
    ['HTML', '<html><body>404</body></html>', /<metalink>/],
    ['broken XML', '<metalink><file>', /well-formed/],
  ])('refuses %s with one sentence', (_what, xml, message) => {
    expect(() => parseMeta4(xml)).toThrow(message);
  });
});
