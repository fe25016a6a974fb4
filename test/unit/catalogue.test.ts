import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageRefOf, parseCatalogue } from '../../app/adapters/recipes/catalogue-json.ts';
import { readmeMetadata } from '../../app/adapters/recipes/metadata.ts';
import { categoriesOf, searchCatalogue, splitImage, type CatalogueEntry } from '../../app/services/catalogue.ts';

const FIXTURE = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'catalogue', 'recipes.json'), 'utf8');

const entries = (): CatalogueEntry[] =>
  parseCatalogue(FIXTURE).recipes.map((r) => ({ ...r, versions: r.versions.map((v) => ({ ...v, onNode: false })), onNode: false, inCatalogue: true }));

describe('recipes.json', () => {
  it('reads names, categories, scores and versions with their images', () => {
    const { recipes } = parseCatalogue(FIXTURE);
    const gitea = recipes.find((r) => r.name === 'gitea')!;
    expect(gitea.category).toBe('Development');
    expect(gitea.features.status).toBe(4);
    expect(gitea.features.image?.source).toBe('upstream');
    expect(gitea.versions.map((v) => v.version)).toEqual(['1.0.0+1.21.0-rootless', '1.1.0+1.22.0-rootless']);
    expect(gitea.versions[1]!.services.map(imageRefOf)).toEqual(['gitea/gitea:1.22.0-rootless', 'mariadb:10.11']);
    // A string status is read as a number, as older catalogues wrote it.
    expect(recipes.find((r) => r.name === 'matrix-synapse')!.features.status).toBe(3);
  });

  it('skips what is malformed entry by entry, and never turns a bad link or image into something usable', () => {
    const { recipes, skipped } = parseCatalogue(FIXTURE);
    expect(skipped.map((s) => s.name)).toEqual(['Bad Name']);
    const weird = recipes.find((r) => r.name === 'weird')!;
    expect(weird.website).toBe('');
    expect(weird.category).toBe(''); // a number is not a category
    expect(weird.description).toBe('');
    expect(weird.features.status).toBeNull();
    expect(weird.versions).toEqual([{ version: '1.0.0+1', services: [{ service: 'ok', image: 'busybox', tag: '1.36', digest: '' }] }]);
  });

  it('refuses a document that is not a catalogue at all', () => {
    expect(() => parseCatalogue('<html>captive portal</html>')).toThrow(/not JSON/);
    expect(() => parseCatalogue('[1,2]')).toThrow(/not a JSON object/);
    // An error body is a JSON object too; it must not replace a good copy as a one-recipe catalogue.
    expect(() => parseCatalogue('{"message":"rate limited"}')).toThrow(/lists no recipes/);
  });
});

describe('catalogue search and filters', () => {
  it('searches name and description, case-insensitively, every word', () => {
    expect(searchCatalogue(entries(), { q: 'WIKIPEDIA' }, () => true).map((e) => e.name)).toEqual(['kiwix']);
    expect(searchCatalogue(entries(), { q: 'chat matrix' }, () => true).map((e) => e.name)).toEqual(['matrix-synapse']);
    expect(searchCatalogue(entries(), { q: 'gitea forge' }, () => true).map((e) => e.name)).toEqual(['gitea']);
    expect(searchCatalogue(entries(), { q: 'nothing-like-this' }, () => true)).toEqual([]);
  });

  it('filters by category and by "runs on this node"', () => {
    expect(searchCatalogue(entries(), { category: 'communication' }, () => true).map((e) => e.name)).toEqual(['matrix-synapse']);
    const runs = (e: CatalogueEntry) => e.name !== 'gitea';
    expect(searchCatalogue(entries(), { runsHere: true }, runs).map((e) => e.name)).not.toContain('gitea');
    expect(searchCatalogue(entries(), { runsHere: false }, runs).map((e) => e.name)).toContain('gitea');
    expect(categoriesOf(entries())).toEqual(['Apps', 'Communication', 'Development']);
  });

  it('splits image references into image and tag', () => {
    expect(splitImage('ghcr.io/kiwix/kiwix-serve:3.8.2')).toEqual({ image: 'ghcr.io/kiwix/kiwix-serve', tag: '3.8.2' });
    expect(splitImage('127.0.0.1:5000/multi')).toEqual({ image: '127.0.0.1:5000/multi', tag: 'latest' });
    expect(splitImage('nginx:1.27@sha256:abc')).toEqual({ image: 'nginx', tag: '1.27@sha256:abc' });
  });
});

describe('README metadata', () => {
  it('reads the block and the description line as the catalogue generator does', () => {
    const readme = [
      '# Kiwix',
      '',
      '> Offline Wikipedia',
      '',
      '<!-- metadata -->',
      '* **Category**: Apps',
      '* **Status**: 2, beta',
      '* **Image**: [`ghcr.io/kiwix/kiwix-serve`](https://ghcr.io/kiwix/kiwix-serve), 4, upstream',
      '* **Healthcheck**: Yes',
      '* **Backups**: No',
      '* **Email**: N/A',
      '* **Tests**: 1',
      '* **SSO**: N/A',
      '<!-- endmetadata -->',
    ].join('\n');
    const m = readmeMetadata(readme);
    expect(m).toMatchObject({ category: 'Apps', description: 'Offline Wikipedia' });
    expect(m.features).toMatchObject({ status: 2, healthcheck: 'Yes', backups: 'No', tests: '1', sso: 'N/A' });
    expect(m.features.image).toEqual({ image: 'ghcr.io/kiwix/kiwix-serve', url: 'https://ghcr.io/kiwix/kiwix-serve', rating: '4', source: 'upstream' });
    expect(readmeMetadata('no block here').features.status).toBeNull();
  });
});
