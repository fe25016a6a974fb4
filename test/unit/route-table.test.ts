// The route table (app/http/routes.ts): each path once, and the guards every kind of route must have.
import { describe, expect, it } from 'vitest';
import { gitRouteTable, routeTable, type Route } from '../../app/http/routes.ts';
import type { Services } from '../../app/http/context.ts';

/** Services that are never called: building the table only wires handlers. */
const stub: Services = new Proxy(() => stub, { get: () => stub, apply: () => stub }) as unknown as Services;
const routes: Route[] = [...gitRouteTable(stub), ...routeTable(stub, Date.now)];
const guards = (r: Route) => r.guards.map((g) => g.name);
const key = (r: Route) => `${r.method.toUpperCase()} ${r.path}`;

// Without a login on purpose: health, other nodes (their own checks), logging in, and git (access tokens).
const OPEN = new Set([
  'GET /healthz',
  'POST /region/peer/pair-request',
  'POST /region/peer/pair-confirm',
  'GET /region/peer/status',
  'GET /region/peer/opds',
  'GET /region/peer/zims/:file',
  'GET /login',
  'POST /login',
  'GET /setup',
  'POST /setup',
  'GET /git/servers.git/*rest',
  'POST /git/servers.git/*rest',
]);
// State changes that carry no CSRF token: signed or limited requests from other nodes, and git's own protocol.
const NO_CSRF = new Set(['POST /region/peer/pair-request', 'POST /region/peer/pair-confirm', 'POST /git/servers.git/*rest']);

describe('the route table', () => {
  it('names each method and path once', () => {
    const keys = routes.map(key);
    expect(keys.length).toBeGreaterThan(90);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('puts every route but the open ones behind the login, and the login first', () => {
    for (const r of routes) {
      if (OPEN.has(key(r))) expect(guards(r), key(r)).not.toContain('login');
      else expect(guards(r)[0], key(r)).toBe('login');
    }
  });

  it('asks every state change for its CSRF token, right after the login', () => {
    for (const r of routes.filter((x) => x.method === 'post' && !NO_CSRF.has(key(x)))) {
      const g = guards(r);
      expect(g, key(r)).toContain('csrf');
      expect(g.indexOf('csrf'), key(r)).toBe(OPEN.has(key(r)) ? 0 : 1);
    }
    for (const r of routes.filter((x) => x.method === 'get')) expect(guards(r), key(r)).not.toContain('csrf');
  });

  it('keeps people, settings and the audit log to admins, and logs to those who may read them', () => {
    for (const r of routes.filter((x) => /^\/(users|tokens|audit|settings|node\/backups)\b/.test(x.path))) expect(guards(r), key(r)).toContain('can(administer)');
    for (const r of routes.filter((x) => x.path.includes('/logs'))) expect(guards(r), key(r)).toContain('can(read-logs)');
  });
});
