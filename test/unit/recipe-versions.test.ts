// Version resolution: the newest when none is named, only published versions, and which way upgrades and
// rollbacks go (recipe versions are semver with a +upstream part).
import { describe, expect, it } from 'vitest';
import { checkDirection, resolveVersion, versionsToward } from '../../app/services/recipe-versions.ts';

const published = ['1.0.0+1', '1.1.0+2', '1.10.0+3', '2.0.0+1.0'];

describe('version resolution', () => {
  it('takes the newest published version when none is named, and a named one only when published', () => {
    expect(resolveVersion('wiki', published, undefined)).toBe('2.0.0+1.0');
    expect(resolveVersion('wiki', published, '')).toBe('2.0.0+1.0');
    expect(resolveVersion('wiki', published, '1.10.0+3')).toBe('1.10.0+3');
    expect(() => resolveVersion('wiki', published, '3.0.0+1')).toThrow('wiki has no version 3.0.0+1.');
    expect(() => resolveVersion('wiki', published, '../etc')).toThrow(/version/i);
    expect(() => resolveVersion('wiki', [], undefined)).toThrow('The wiki recipe has no published versions.');
  });

  it('lists the versions an upgrade or a rollback can move to, numerically', () => {
    expect(versionsToward(published, '1.1.0+2', 'newer')).toEqual(['1.10.0+3', '2.0.0+1.0']);
    expect(versionsToward(published, '1.1.0+2', 'older')).toEqual(['1.0.0+1']);
    expect(versionsToward(published, null, 'newer')).toEqual(published);
    expect(versionsToward(published, null, 'older')).toEqual([]);
  });

  it('refuses an upgrade that is not newer and a rollback that is not older', () => {
    expect(() => checkDirection('1.10.0+3', '1.1.0+2', 'upgrade')).not.toThrow();
    expect(() => checkDirection('1.1.0+2', '1.1.0+2', 'upgrade')).toThrow('1.1.0+2 is not newer than 1.1.0+2.');
    expect(() => checkDirection('1.10.0+3', '1.1.0+2', 'rollback')).toThrow('1.10.0+3 is not older than 1.1.0+2.');
    expect(() => checkDirection('1.0.0+1', '1.1.0+2', 'rollback')).not.toThrow();
    expect(() => checkDirection('1.0.0+1', null, 'upgrade')).not.toThrow();
  });
});
