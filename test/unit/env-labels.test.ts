// Plain words on settings forms: labels instead of variable names, choices where the values are known, options
// named from the recipe's comment line (the LAN overlay by what it does), never by their file names.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fieldWords, humanName, overlayWords } from '../../app/services/env/labels.ts';
import { parseEnvSample } from '../../app/services/env/sample.ts';

const sample = (name: string) => parseEnvSample(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'env-samples', `${name}.env.sample`), 'utf8'));

describe('settings in plain words', () => {
  it('gives LETS_ENCRYPT_ENV choices, and keeps a value set by hand choosable', () => {
    const w = fieldWords({ key: 'LETS_ENCRYPT_ENV', value: 'production', help: '' });
    expect(w.label).toBe('HTTPS certificate');
    expect(w.choices?.map((c) => [c.value, c.label])).toEqual([
      ['production', 'Real certificate (production)'],
      ['staging', 'Test certificate (staging)'],
      ['', 'None (no certificate from Let’s Encrypt)'],
    ]);
    expect(fieldWords({ key: 'LETS_ENCRYPT_ENV', value: 'myresolver', help: '' }).choices?.at(-1)).toEqual({ value: 'myresolver', label: 'myresolver (as set now)' });
  });

  it('names Kiwix’s settings as a steward would, keeping the recipe’s own help', () => {
    const kiwix = sample('kiwix');
    const zims = kiwix.fields.find((f) => f.key === 'ZIM_FILES_PATH')!;
    expect(fieldWords(zims).label).toBe('Folder for the books');
    expect(fieldWords(zims).help).toBe(zims.help);
    expect(fieldWords(kiwix.fields.find((f) => f.key === 'KIWIX_LAN_PORT')!).label).toBe('Port on the local network');
  });

  it('turns other names into words, and true/false settings into Yes/No', () => {
    expect(humanName('MAIL_BACKEND')).toBe('Mail backend');
    expect(fieldWords({ key: 'SITE_NAME', value: 'x', help: 'The name' })).toEqual({ label: 'Site name', help: 'The name' });
    expect(fieldWords({ key: 'ENABLE_BACKUPS', value: 'true', help: '' }).choices?.map((c) => c.label)).toEqual(['Yes', 'No']);
  });

  it('names options from their comment lines, the LAN overlay by what it does', () => {
    const lan = sample('kiwix').overlays.find((o) => o.file === 'compose.lan.yml')!;
    expect(overlayWords(lan)).toEqual({ label: 'Reach this app on the local network at a port of this machine', help: lan.help });
    const matrix = sample('matrix-synapse').overlays;
    expect(matrix.map((o) => overlayWords(o).label)).toEqual(expect.arrayContaining(['Shared-secret login for bridges and bots', 'Single sign-on through Keycloak', 'Federation with the wider network']));
    expect(overlayWords({ file: 'compose.smtp.yml', files: ['compose.smtp.yml'], help: 'Send e-mail (password resets, notifications)' }).label).toBe('Send e-mail');
    expect(overlayWords({ file: 'compose.meilisearch.yml', files: ['compose.meilisearch.yml'], help: '' }).label).toBe('Meilisearch');
    for (const o of [...sample('kiwix').overlays, ...matrix, ...sample('database-app').overlays]) expect(overlayWords(o).label).not.toMatch(/\.ya?ml/);
  });
});
