import { describe, expect, it } from 'vitest';
import type { NodeState, ServiceState, TaskState } from '../../app/adapters/docker/live-model.ts';
import { appStatus, appsFrom, nodesFrom } from '../../app/services/apps.ts';

const task = (over: Partial<TaskState> = {}): TaskState => ({
  id: 't', slot: 1, nodeId: 'n1', state: 'running', desiredState: 'running', message: '', error: null, exitCode: null,
  health: null, containerId: 'c', updatedAt: '2026-11-27T00:00:00Z', reservedCpus: 0, reservedMemoryBytes: 0, ...over,
});
const service = (over: Partial<ServiceState> = {}): ServiceState => ({
  id: 's', name: 'wiki_app', stack: 'wiki', image: 'x:1', mode: 'replicated', desired: 1, running: 1, labels: {},
  updateStatus: null, tasks: [task()], lastFailure: null, ports: [], ...over,
});
const node: NodeState = { id: 'n1', hostname: 'pi', role: 'manager', availability: 'active', state: 'ready', architecture: 'aarch64', cpus: 4, memoryBytes: 4 * 2 ** 30 };

describe('app status', () => {
  it.each([
    [[service()], 'running'],
    [[service({ desired: 0, running: 0, tasks: [] })], 'stopped'],
    [[service({ running: 0, tasks: [task({ state: 'starting' })] })], 'starting'],
    [[service({ running: 0, tasks: [], lastFailure: { at: new Date().toISOString(), error: 'exit 3', exitCode: 3 } })], 'failing'],
    [[service({ tasks: [task({ health: 'unhealthy' })] })], 'degraded'],
    [[service({ updateStatus: { state: 'updating', message: '' } })], 'updating'],
  ] as const)('%#: %s', (services, status) => expect(appStatus([...services])).toBe(status));
});

describe('swarm nodes', () => {
  it('subtract the reservations of the tasks meant to run on them', () => {
    const services = new Map([
      ['s', service({ tasks: [task({ reservedCpus: 0.5, reservedMemoryBytes: 2 ** 30 }), task({ id: 't2', reservedCpus: 1, desiredState: 'shutdown' })] })],
    ]);
    const [view] = nodesFrom({ nodes: new Map([['n1', node]]), services });
    expect(view).toMatchObject({ hostname: 'pi', tasks: 1, freeCpus: 3.5, freeMemoryBytes: 3 * 2 ** 30 });
  });
});

describe('apps', () => {
  it('lists an app installed with abra but not deployed', () => {
    const apps = appsFrom({ nodes: new Map(), services: new Map() }, [
      { domain: 'wiki.example.org', stack: 'wiki_example_org', recipe: 'kiwix', version: '1.0.0+3.7.0', envPath: '/x.env' },
    ]);
    expect(apps).toEqual([expect.objectContaining({ stack: 'wiki_example_org', status: 'not deployed', recipe: 'kiwix', domain: 'wiki.example.org', coopCloud: true })]);
  });
});

describe('how each app is managed', () => {
  it('installed apps are managed, others read-only unless adopted, Traefik read-only, the node itself self', () => {
    const services = new Map([
      ['a', service({ id: 'a', name: 'plain_web', stack: 'plain' })],
      ['b', service({ id: 'b', name: 'wiki_app', stack: 'wiki' })],
      ['c', service({ id: 'c', name: 'traefik_app', stack: 'traefik' })],
      ['d', service({ id: 'd', name: 'other_app', stack: 'other' })],
    ]);
    const installed = [
      { domain: 'wiki.org', stack: 'wiki', recipe: 'kiwix', version: '1.0.0+1', envPath: '/w.env' },
      { domain: 'traefik.org', stack: 'traefik', recipe: 'traefik', version: '1.0.0+1', envPath: '/t.env' },
      { domain: 'node.org', stack: 'node_org', recipe: 'lores-node', version: '1.0.0+1', envPath: '/n.env' },
    ];
    const by = (opts?: Parameters<typeof appsFrom>[2]) => Object.fromEntries(appsFrom({ nodes: new Map(), services }, installed, opts).map((a) => [a.stack, a.management]));
    expect(by()).toEqual({ plain: 'read-only', wiki: 'managed', traefik: 'read-only', other: 'read-only', node_org: 'managed' });
    expect(by({ adopted: new Set(['plain']), selfStack: 'node_org' })).toEqual({ plain: 'adopted', wiki: 'managed', traefik: 'read-only', other: 'read-only', node_org: 'self' });
  });
});
