import { describe, expect, it } from 'vitest';
import { applyEnvChanges, envValueSchema, parseEnvSample, readEnvValues } from '../../app/services/env-file.ts';

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
