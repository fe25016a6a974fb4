// Every .env.sample shape in test/fixtures/env-samples, through the settings form as a browser would send it:
// rendered by the real template, submitted untouched → the identical file; one edit → exactly one line changed.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { changesFrom } from '../../app/services/env/form.ts';
import { parseEnv } from '../../app/adapters/abra/env-parse.ts';
import { parseEnvSample, type EnvSample } from '../../app/services/env/sample.ts';
import { applyEnvChanges } from '../../app/services/env/write.ts';
import { eta } from '../../app/http/render.ts';
import { REPO_ROOT } from '../support/server.ts';

const DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'env-samples');
const CORPUS = readdirSync(DIR).filter((f) => f.endsWith('.env.sample')).sort();
// The node's own template engine: the same views, with the helpers every template gets (`words`).

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The form fields a browser would submit from the rendered settings: inputs with their values, ticked boxes. */
function submitted(sample: EnvSample, edit: (form: Record<string, string>) => void = () => {}): Record<string, string> {
  const html = eta.render('./partials/settings-fields', { sample, installing: true });
  const form: Record<string, string> = {};
  for (const [tag] of html.matchAll(/<input\b[^>]*>/g)) {
    const attr = (name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
    const name = unescape(attr('name') ?? '');
    if (!name) continue;
    if (attr('type') === 'checkbox') {
      if (/\schecked\b/.test(tag)) form[name] = 'on';
    } else form[name] = unescape(attr('value') ?? '');
  }
  edit(form);
  return form;
}

function submit(text: string, form: Record<string, string>): string {
  const sample = parseEnvSample(text);
  return applyEnvChanges(text, changesFrom(sample, parseEnv(text), form, text));
}

const changedLines = (a: string, b: string) => {
  const [x, y] = [a.split('\n'), b.split('\n')];
  expect(y.length, 'no line added or removed').toBe(x.length);
  return x.map((l, i) => [l, y[i]] as const).filter(([l, m]) => l !== m);
};

describe('the .env.sample corpus', () => {
  it('holds at least 20 shapes', () => expect(CORPUS.length).toBeGreaterThanOrEqual(20));

  describe.each(CORPUS)('%s', (file) => {
    const text = readFileSync(path.join(DIR, file), 'utf8');
    const sample = parseEnvSample(text);

    it('reads without a problem, and offers settings', () => {
      expect(sample.problems).toEqual([]);
      expect(sample.fields.length + sample.overlays.length).toBeGreaterThan(0);
    });

    it('submitted untouched, leaves the file byte for byte', () => {
      expect(submit(text, submitted(sample))).toBe(text);
    });

    it('one edited value changes exactly its line, read back as typed', () => {
      const field = sample.fields.find((f) => f.enabled && !f.value.includes('\n'))!;
      expect(field, 'a setting to edit').toBeDefined();
      const typed = `Édition "spéciale" d'été $5`;
      const out = submit(text, submitted(sample, (form) => (form[`env.${field.key}`] = typed)));
      expect(changedLines(text, out)).toHaveLength(1);
      expect(parseEnv(out).values.get(field.key)).toBe(typed);
    });

    it('one ticked opt-in uncomments exactly its line', () => {
      const field = sample.fields.find((f) => f.optional && !f.overlay);
      if (!field) return expect(sample.fields.every((f) => !f.optional || f.overlay)).toBe(true);
      const out = submit(text, submitted(sample, (form) => (form[`enable.${field.key}`] = 'on')));
      const changed = changedLines(text, out);
      expect(changed).toHaveLength(1);
      expect(changed[0]![1]!.trimStart().startsWith('#')).toBe(false);
      expect(parseEnv(out).values.get(field.key)).toBe(field.value);
    });

    it('one ticked overlay switches on its line and what belongs to it, nothing else', () => {
      const overlay = sample.overlays.find((o) => !o.enabled);
      if (!overlay) return expect(sample.overlays.every((o) => o.enabled)).toBe(true);
      const out = submit(text, submitted(sample, (form) => (form[`overlay.${overlay.file}`] = 'on')));
      const owned = [...sample.fields, ...sample.secrets].filter((x) => x.overlay === overlay.file && x.optional);
      expect(changedLines(text, out)).toHaveLength(1 + owned.length);
      const values = parseEnv(out).values;
      for (const f of overlay.files) expect((values.get('COMPOSE_FILE') ?? '').split(':')).toContain(f);
      for (const x of owned) expect(values.has(x.key), x.key).toBe(true);
      // The other overlays keep their state (a whole-list line must not drop one switched on above it).
      const deployed = (values.get('COMPOSE_FILE') ?? 'compose.yml').split(':');
      for (const o of sample.overlays.filter((x) => x !== overlay)) expect(o.files.every((f) => deployed.includes(f)), o.file).toBe(o.enabled);
    });
  });
});

const sampleOf = (file: string) => parseEnvSample(readFileSync(path.join(DIR, file), 'utf8'));
const field = (s: EnvSample, key: string) => s.fields.find((f) => f.key === key);

describe('the shapes the form once got wrong', () => {
  it('prose that looks like an assignment stays help text', () => {
    const s = sampleOf('odd-prose-assignment.env.sample');
    expect(s.fields.map((f) => f.key)).toEqual(['LETS_ENCRYPT_ENV', 'SMTP_HOST', 'SMTP_PORT', 'MAX_SIZE']);
    expect(field(s, 'SMTP_PORT')).toMatchObject({ optional: true, value: '465', help: expect.stringContaining('587 is the default') });
    expect(field(s, 'MAX_SIZE')!.help).toContain('10M is what most providers accept');
  });

  it('duplicate keys: the last active line wins, commented lines are offered as alternatives', () => {
    const s = sampleOf('odd-duplicate-keys.env.sample');
    expect(field(s, 'STORAGE')).toMatchObject({ value: 'local', optional: false, alternatives: ['s3'] });
    expect(field(s, 'THEME')).toMatchObject({ value: 'light', alternatives: ['dark', 'high-contrast'] });
    expect(field(s, 'CACHE')).toMatchObject({ value: 'redis', optional: false });
    // Picking the alternative changes the active line, the one abra reads.
    const text = readFileSync(path.join(DIR, 'odd-duplicate-keys.env.sample'), 'utf8');
    const out = submit(text, submitted(s, (form) => (form['env.STORAGE'] = 's3')));
    expect(changedLines(text, out)).toEqual([['STORAGE=local', 'STORAGE=s3']]);
  });

  it('export lines are settings like any other, and stay export lines', () => {
    const s = sampleOf('odd-export.env.sample');
    expect(s.fields.map((f) => [f.key, f.value, f.optional])).toEqual([
      ['LETS_ENCRYPT_ENV', 'production', false],
      ['PAD_TITLE', 'Community pad', false],
      ['DEFAULT_TEXT', 'Welcome! Type here.', false],
      ['INDENTED', 'yes', false],
      ['OPTIONAL_EXPORT', '1', true],
    ]);
    const text = readFileSync(path.join(DIR, 'odd-export.env.sample'), 'utf8');
    const out = submit(text, submitted(s, (form) => (form['env.PAD_TITLE'] = "Ada's pad")));
    expect(changedLines(text, out)).toEqual([['export PAD_TITLE="Community pad"', `export PAD_TITLE="Ada's pad"`]]);
  });

  it('rows of # are not help', () => {
    const s = sampleOf('odd-hash-rows.env.sample');
    expect(field(s, 'GALLERY_NAME')!.help).toBe("Gallery settings The gallery's name");
    expect(field(s, 'PER_PAGE')!.help).toBe('How many photos per page');
  });

  it('help after a commented overlay line belongs to the setting below it', () => {
    const s = sampleOf('odd-help-after-overlay.env.sample');
    expect(s.overlays).toEqual([expect.objectContaining({ file: 'compose.public.yml', help: 'Public free/busy pages' })]);
    expect(field(s, 'TIMEZONE')!.help).toBe('The time zone events are shown in');
  });

  it('#COMPOSE_FILE="compose.yml:compose.x.yml" overlays, with their settings and secrets', () => {
    const s = sampleOf('traefik-keycloak.env.sample');
    expect(s.overlays.map((o) => o.file)).toEqual(['compose.keycloak.yml', 'compose.smtp.yml', 'compose.host.yml']);
    expect(field(s, 'KEYCLOAK_MIDDLEWARE_ENABLED')).toMatchObject({ overlay: 'compose.keycloak.yml', optional: true });
    expect(field(s, 'GITEA_SSH_ENABLED')).toMatchObject({ optional: true, help: 'Gitea SSH' });
    expect(field(s, 'GITEA_SSH_ENABLED')!.overlay).toBeUndefined();
    // Two whole-list overlays on together: the second is written as an addition so that both count.
    const text = readFileSync(path.join(DIR, 'traefik-keycloak.env.sample'), 'utf8');
    const out = submit(text, submitted(s, (form) => ((form['overlay.compose.keycloak.yml'] = 'on'), (form['overlay.compose.smtp.yml'] = 'on'))));
    expect(parseEnv(out).values.get('COMPOSE_FILE')).toBe('compose.yml:compose.keycloak.yml:compose.smtp.yml');
  });

  it('commented secrets belong to their overlay: not needed by default, switched on with it', () => {
    const s = sampleOf('traefik-wildcard.env.sample');
    const needed = s.secrets.filter((x) => !x.optional).map((x) => x.name);
    expect(needed).toEqual([]);
    expect(s.secrets.filter((x) => x.overlay === 'compose.wildcard.yml').map((x) => x.name)).toEqual(['wildcard_cert', 'wildcard_key']);
    expect(field(s, 'WILDCARDS_ENABLED')).toMatchObject({ overlay: 'compose.wildcard.yml' });
    const text = readFileSync(path.join(DIR, 'traefik-wildcard.env.sample'), 'utf8');
    const values = parseEnv(submit(text, submitted(s, (form) => (form['overlay.compose.wildcard.yml'] = 'on')))).values;
    expect([values.get('WILDCARDS_ENABLED'), values.get('SECRET_WILDCARD_CERT_VERSION'), values.get('SECRET_WILDCARD_KEY_VERSION')]).toEqual(['1', 'v1', 'v1']);
    expect(values.get('COMPOSE_FILE')).toBe('compose.yml:compose.wildcard.yml');
  });

  it('values with quotes, apostrophes, $, unicode and backticks come to the form as abra reads them', () => {
    const s = sampleOf('odd-characters.env.sample');
    expect(Object.fromEntries(s.fields.map((f) => [f.key, f.value]))).toEqual({
      EXTRA_DOMAINS: ', `www.library.example.com`',
      LETS_ENCRYPT_ENV: 'production',
      LIBRARY_NAME: "Ada's Library",
      FEE_TEXT: 'Membership costs $5 a year',
      CITY: 'Bibliothèque de Saint-Étienne',
      MOTTO: 'Read "everything"',
      GREETING: 'Hello "friend", it costs $0',
    });
  });

  it('a value that cannot be written is refused beside its field, and nothing else is', () => {
    const text = readFileSync(path.join(DIR, 'odd-characters.env.sample'), 'utf8');
    const s = parseEnvSample(text);
    const form = submitted(s, (f) => ((f['env.CITY'] = 'two\nlines'), (f['env.MOTTO'] = 'fine "now"')));
    expect(() => changesFrom(s, parseEnv(text), form, text)).toThrow(expect.objectContaining({ fields: { 'env.CITY': 'must fit on one line (no line breaks)' } }));
  });
});
