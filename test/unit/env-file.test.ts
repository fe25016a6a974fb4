import { describe, expect, it } from 'vitest';
import { applyEnvChanges, envValueSchema, parseEnvSample, readEnvValues } from '../../app/services/env-file.ts';
import { changesFrom, settingsAsSent, settingsFor, SettingsRefused } from '../../app/services/env/form.ts';
import { parseEnv } from '../../app/adapters/abra/env-parse.ts';

const SAMPLE = `TYPE=kiwix

DOMAIN=kiwix.example.com

## Domain aliases
#EXTRA_DOMAINS=', \`www.kiwix.example.com\`'
LETS_ENCRYPT_ENV=production

# Where the ZIM files live on the host
ZIM_FILES_PATH=/srv/zim

# How many threads kiwix-serve uses
#THREADS=4

COMPOSE_FILE="compose.yml"
# Publish on a LAN port
#COMPOSE_FILE="$COMPOSE_FILE:compose.lan.yml"

SECRET_DB_PASSWORD_VERSION=v1 # length=32
SECRET_API_KEY_VERSION=v2 # generate=false
`;

describe('.env.sample', () => {
  const parsed = parseEnvSample(SAMPLE);
  it('turns keys into fields with defaults, help from comments, and opt-ins', () => {
    // `enabled` is the form's switch: on for a setting abra reads, off for a commented-out one.
    expect(parsed.fields).toEqual([
      { key: 'EXTRA_DOMAINS', value: ', `www.kiwix.example.com`', optional: true, enabled: false, help: 'Domain aliases' },
      { key: 'LETS_ENCRYPT_ENV', value: 'production', optional: false, enabled: true, help: '' },
      { key: 'ZIM_FILES_PATH', value: '/srv/zim', optional: false, enabled: true, help: 'Where the ZIM files live on the host' },
      { key: 'THREADS', value: '4', optional: true, enabled: false, help: 'How many threads kiwix-serve uses' },
    ]);
  });
  it('finds compose overlays and secrets with their modifiers', () => {
    expect(parsed.overlays).toEqual([{ file: 'compose.lan.yml', files: ['compose.lan.yml'], enabled: false, help: 'Publish on a LAN port' }]);
    expect(parsed.secrets).toEqual([
      { key: 'SECRET_DB_PASSWORD_VERSION', name: 'db_password', version: 'v1', length: 32, generate: true },
      { key: 'SECRET_API_KEY_VERSION', name: 'api_key', version: 'v2', generate: false },
    ]);
  });
});

describe('env file changes', () => {
  it('round-trips: changes only the lines asked for, comments and order kept', () => {
    const changed = applyEnvChanges(SAMPLE, {
      set: new Map([
        ['ZIM_FILES_PATH', '/data/zim'],
        ['THREADS', '2'],
        ['NEW_KEY', 'a value'],
      ]),
      unset: new Set(),
      overlays: new Map([['compose.lan.yml', true]]),
    });
    const before = SAMPLE.split('\n');
    const after = changed.split('\n');
    const diff = after.filter((l, i) => l !== before[i]);
    expect(diff).toEqual(['ZIM_FILES_PATH=/data/zim', 'THREADS=2', 'COMPOSE_FILE="$COMPOSE_FILE:compose.lan.yml"', 'NEW_KEY="a value"', '']);
    expect(changed).toContain('# Where the ZIM files live on the host\nZIM_FILES_PATH=/data/zim');
    expect(changed).toContain('SECRET_DB_PASSWORD_VERSION=v1 # length=32');
    const values = readEnvValues(changed);
    expect(values.get('THREADS')).toBe('2');
    expect(values.get('NEW_KEY')).toBe('a value');
    expect(values.has('EXTRA_DOMAINS')).toBe(false);
    // and back: turning things off restores the original lines
    const back = applyEnvChanges(changed, { set: new Map([['ZIM_FILES_PATH', '/srv/zim']]), unset: new Set(['THREADS']), overlays: new Map([['compose.lan.yml', false]]) });
    expect(back.split('\n').slice(0, before.length - 1)).toEqual(before.slice(0, -1).map((l) => (l === '#THREADS=4' ? '#THREADS=2' : l)));
  });
});

describe('env values', () => {
  // Values are quoted and escaped when written (see env-semantics.test.ts), not refused: only what cannot be
  // written on one line, or read back by abra unchanged, is. (These were once refused for their characters.)
  it.each(['production', '/srv/zim', 'a value', 'me@example.org', '', '1.5GB', '$(reboot)', 'x; rm -rf /', '../etc', '"quoted"', "it's", 'back`tick`', 'a#b', 'tab\there', 'Bibliothèque'])(
    'accepts %j',
    (v) => expect(envValueSchema.safeParse(v).success).toBe(true),
  );
  it.each(['a\nB=1', 'a\rb', 'nul\0', 'x'.repeat(10_000), `'it's' "x"`])('refuses %j', (v) => expect(envValueSchema.safeParse(v).success).toBe(false));
});

describe('the settings page against an app env file', () => {
  const sample = parseEnvSample(`TYPE=app
DOMAIN=app.example.com
# Shown on every page
SITE_NAME="Ada's Library"
NEW_IN_THIS_VERSION=1

COMPOSE_FILE="compose.yml"
## Wildcard certificate
#COMPOSE_FILE="$COMPOSE_FILE:compose.wildcard.yml"
#WILDCARDS_ENABLED=1
#SECRET_WILDCARD_CERT_VERSION=v1
`);
  // As installed with an older sample and edited since: no NEW_IN_THIS_VERSION, the overlay on.
  const env = `TYPE=app:1.0.0
DOMAIN=lib.example.org
# Shown on every page
SITE_NAME="Ada's"
COMPOSE_FILE="compose.yml"
## Wildcard certificate
COMPOSE_FILE="$COMPOSE_FILE:compose.wildcard.yml"
WILDCARDS_ENABLED=1
SECRET_WILDCARD_CERT_VERSION=v1
`;
  const doc = parseEnv(env);
  const shown = settingsFor(sample, doc);
  const formOf = (s: typeof shown): Record<string, string> => ({
    ...Object.fromEntries(s.fields.map((f) => [`env.${f.key}`, f.value])),
    ...Object.fromEntries(s.overlays.filter((o) => o.enabled).map((o) => [`overlay.${o.file}`, 'on'])),
  });

  it('shows what the env file holds, and saving it untouched changes nothing (a newer sample key is not added)', () => {
    expect(shown.fields.find((f) => f.key === 'SITE_NAME')!.value).toBe("Ada's");
    expect(shown.overlays[0]).toMatchObject({ file: 'compose.wildcard.yml', enabled: true });
    expect(applyEnvChanges(env, changesFrom(sample, doc, formOf(shown), env))).toBe(env);
  });

  it('switching the overlay off comments out its line, its setting and its secret, nothing else', () => {
    const form = formOf(shown);
    delete form['overlay.compose.wildcard.yml'];
    const out = applyEnvChanges(env, changesFrom(sample, doc, form, env));
    expect(out.split('\n').filter((l, i) => l !== env.split('\n')[i])).toEqual(['#COMPOSE_FILE="$COMPOSE_FILE:compose.wildcard.yml"', '#WILDCARDS_ENABLED=1', '#SECRET_WILDCARD_CERT_VERSION=v1']);
  });

  it('comes back as sent when refused', () => {
    const sent = settingsAsSent(shown, { 'env.SITE_NAME': 'x\ny' });
    expect(sent.fields.find((f) => f.key === 'SITE_NAME')!.value).toBe('x\ny');
    expect(sent.overlays[0]!.enabled).toBe(false);
    expect(() => changesFrom(sample, doc, { 'env.SITE_NAME': 'x\ny' }, env)).toThrow(SettingsRefused);
  });
});
