// can(user, action, app?): the one table of who may do what, and the flags pages get from it.
import { describe, expect, it } from 'vitest';
import { can, mayFor } from '../../app/services/policy.ts';

const admin = { role: 'admin' as const };
const steward = { role: 'steward' as const };
const guest = { role: 'guest' as const };
const app = (management: 'self' | 'managed' | 'adopted' | 'read-only', more: Partial<{ recipe: string; installed: unknown; services: unknown[] }> = {}) => ({
  stack: 'wiki',
  management,
  services: [{}],
  ...more,
});

describe('can()', () => {
  it('gives changing apps and logs to stewards and admins, administering to admins, nothing to guests or nobody', () => {
    expect([admin, steward, guest, undefined].map((u) => can(u, 'change-apps'))).toEqual([true, true, false, false]);
    expect([admin, steward, guest, undefined].map((u) => can(u, 'read-logs'))).toEqual([true, true, false, false]);
    expect([admin, steward, guest, undefined].map((u) => can(u, 'administer'))).toEqual([true, false, false, false]);
    expect([admin, steward, guest].map((u) => can(u, 'confirm-host-reach'))).toEqual([true, false, false]);
  });

  it('offers power to managed and adopted apps only, never the node itself', () => {
    expect(can(steward, 'app.power', app('managed', { installed: {} }))).toBe(true);
    expect(can(steward, 'app.power', app('adopted'))).toBe(true);
    expect(can(admin, 'app.power', app('read-only'))).toBe(false);
    expect(can(admin, 'app.power', app('managed', { recipe: 'lores-node', installed: {} }))).toBe(false);
    expect(can(guest, 'app.power', app('managed', { installed: {} }))).toBe(false);
  });

  it('offers abra changes only where this node installed the app', () => {
    expect(can(steward, 'app.manage', app('managed', { installed: {} }))).toBe(true);
    expect(can(steward, 'app.manage', app('adopted'))).toBe(false);
    expect(can(steward, 'app.manage', app('adopted', { installed: {} }))).toBe(true);
  });

  it('lets admins adopt running read-only stacks and release adopted ones', () => {
    expect(can(admin, 'app.adopt', app('read-only'))).toBe(true);
    expect(can(admin, 'app.adopt', app('read-only', { services: [] }))).toBe(false);
    expect(can(steward, 'app.adopt', app('read-only'))).toBe(false);
    expect(can(admin, 'app.release', app('adopted'))).toBe(true);
    expect(can(admin, 'app.release', app('managed'))).toBe(false);
  });
});

describe('mayFor()', () => {
  it('gives a page the same answers as can(), per app too', () => {
    expect(mayFor(guest)).toMatchObject({ change: false, logs: false, administer: false, confirmHostReach: false });
    expect(mayFor(steward)).toMatchObject({ change: true, logs: true, administer: false });
    expect(mayFor(admin).on(app('read-only'))).toEqual({ power: false, manage: false, adopt: true, release: false, self: true });
    expect(mayFor(undefined).on(app('managed', { installed: {} }))).toEqual({ power: false, manage: false, adopt: false, release: false, self: false });
  });
});
