import { describe, expect, it } from 'vitest';
import { hostsFromRule, isCoopCloudApp, readAppLabels } from '../../app/adapters/docker/labels.ts';

describe('Traefik rules', () => {
  it.each([
    ['Host(`wiki.example.org`)', ['wiki.example.org']],
    ['Host(`a.org`, `www.a.org`)', ['a.org', 'www.a.org']],
    ['Host(`a.org`) || Host(`b.org`)', ['a.org', 'b.org']],
    ['PathPrefix(`/x`)', []],
  ])('%s', (rule, hosts) => expect(hostsFromRule(rule)).toEqual(hosts));
});

describe('Co-op Cloud labels', () => {
  const stack = 'wiki_example_org';
  const labels = {
    'com.docker.stack.namespace': stack,
    [`coop-cloud.${stack}.recipe`]: 'kiwix',
    [`coop-cloud.${stack}.version`]: '1.0.0+3.7.0',
    [`coop-cloud.${stack}.chaos`]: 'false',
    [`coop-cloud.${stack}.timeout`]: '600',
    [`traefik.http.routers.${stack}.rule`]: 'Host(`wiki.example.org`, `www.wiki.example.org`)',
    'traefik.http.routers.other_stack.rule': 'Host(`not-ours.org`)',
  };

  it('reads recipe, version, chaos and domains of the stack named', () => {
    expect(readAppLabels(stack, labels)).toEqual({
      recipe: 'kiwix',
      version: '1.0.0+3.7.0',
      chaos: false,
      chaosVersion: undefined,
      domain: 'wiki.example.org',
      extraDomains: ['www.wiki.example.org'],
    });
  });

  it('reads a chaos deploy', () => {
    const chaos = { ...labels, [`coop-cloud.${stack}.chaos`]: 'true', [`coop-cloud.${stack}.chaos-version`]: 'abc123+U' };
    expect(readAppLabels(stack, chaos)).toMatchObject({ chaos: true, chaosVersion: 'abc123+U', version: '1.0.0+3.7.0' });
  });

  it('tells Co-op Cloud apps from other stacks', () => {
    expect(isCoopCloudApp(stack, labels)).toBe(true);
    expect(isCoopCloudApp('plain', { 'com.docker.stack.namespace': 'plain' })).toBe(false);
    expect(readAppLabels('plain', {})).toEqual({ chaos: false, extraDomains: [], recipe: undefined, version: undefined, chaosVersion: undefined, domain: undefined });
  });
});
