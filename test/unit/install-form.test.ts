// The install form, out of lifecycle: the node's defaults for host folders (Kiwix's ZIM_FILES_PATH starts at
// ZIM_ROOT, not the sample's /srv/zims), a submitted form as env changes, the env file abra deploys, the needs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvSample } from '../../app/services/env-file.ts';
import { SettingsRefused } from '../../app/services/env/form.ts';
import { envAfterForm, formChanges, installEnvText, needsOf, nodeDefaultsForm, withNodeDefaults } from '../../app/services/install-form.ts';
import { REPO_ROOT } from '../support/server.ts';

const kiwixSample = parseEnvSample(readFileSync(path.join(REPO_ROOT, 'recipes', 'kiwix', '.env.sample'), 'utf8'));
const roots = { zimRoot: '/var/lib/lores/zims' };

describe('install form', () => {
  it('starts a Kiwix app’s folder at the node’s ZIM_ROOT, and leaves other recipes’ fields as the sample has them', () => {
    expect(kiwixSample.fields.find((f) => f.key === 'ZIM_FILES_PATH')?.value).toBe('/srv/zims');
    const shown = withNodeDefaults('kiwix', kiwixSample, roots);
    expect(shown.fields.find((f) => f.key === 'ZIM_FILES_PATH')?.value).toBe('/var/lib/lores/zims');
    expect(shown.fields.find((f) => f.key === 'LETS_ENCRYPT_ENV')?.value).toBe('production');
    expect(withNodeDefaults('other', kiwixSample, roots).fields).toEqual(kiwixSample.fields);
    expect(nodeDefaultsForm('kiwix', kiwixSample, roots)).toEqual({ 'env.ZIM_FILES_PATH': '/var/lib/lores/zims' });
    expect(nodeDefaultsForm('other', kiwixSample, roots)).toEqual({});
  });

  it('turns a form into env changes: changed values set, untouched lines left, overlays switched', () => {
    const changes = formChanges(kiwixSample, { 'env.ZIM_FILES_PATH': '/var/lib/lores/zims', 'env.LETS_ENCRYPT_ENV': 'production', 'overlay.compose.lan.yml': 'on', 'env.KIWIX_LAN_PORT': '8099' });
    expect([...changes.set]).toEqual([['ZIM_FILES_PATH', '/var/lib/lores/zims'], ['KIWIX_LAN_PORT', '8099']]);
    expect([...changes.overlays]).toEqual([['compose.lan.yml', true]]);
    const text = installEnvText(kiwixSample.text, changes, 'kiwix.node.test');
    expect(text).toMatch(/^DOMAIN=kiwix\.node\.test$/m);
    expect(text).toMatch(/^ZIM_FILES_PATH=\/var\/lib\/lores\/zims$/m);
    expect(text).toMatch(/^LETS_ENCRYPT_ENV=production$/m);
    expect(text).toMatch(/compose\.lan\.yml/);
  });

  it('shows the env file a form would leave, or nothing when the form itself is refused', () => {
    expect(envAfterForm(kiwixSample, { 'env.ZIM_FILES_PATH': '/var/lib/lores/zims/en' })).toMatch(/^ZIM_FILES_PATH=\/var\/lib\/lores\/zims\/en$/m);
    expect(envAfterForm(kiwixSample, { 'env.ZIM_FILES_PATH': 'a\nb' })).toBeUndefined();
  });

  it('refuses a setting the recipe does not have, and a value that cannot be written, beside its field', () => {
    expect(() => formChanges(kiwixSample, { 'env.NOT_A_SETTING': 'x' })).toThrow(/is not a setting of this recipe/);
    try {
      formChanges(kiwixSample, { 'env.ZIM_FILES_PATH': 'a\nb' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsRefused);
      expect(Object.keys((err as SettingsRefused).fields)).toEqual(['env.ZIM_FILES_PATH']);
    }
  });

  it('says what an install asks of the node, and nothing when the compose file cannot say', () => {
    const compose = 'services:\n  app:\n    image: x\n    deploy:\n      resources:\n        reservations:\n          memory: 64M\n';
    const needs = needsOf(compose, kiwixSample, '/tmp');
    expect(needs?.resources.reserved).toBe(64 * 1024 ** 2);
    expect(needs?.settings).toBe(kiwixSample.fields.length);
    expect(needs?.overlays).toEqual(['compose.lan.yml']);
    expect(needsOf(undefined, kiwixSample, '/tmp')).toBeUndefined();
    expect(needsOf('services: [unclosed', kiwixSample, '/tmp')).toBeUndefined();
  });
});
