// Docker's JSON → the state pages show: tasks, services (current tasks, failures, ports, replicas), nodes.
import { describe, expect, it } from 'vitest';
import { isConverging, toNode, toService, toTask, type RawService, type RawTask } from '../../app/adapters/docker/swarm-mapping.ts';

const raw = (over: Partial<RawService['Spec']> = {}, rest: Partial<RawService> = {}): RawService => ({
  ID: 's1',
  Spec: { Name: 'wiki_app', Labels: { 'com.docker.stack.namespace': 'wiki' }, Mode: { Replicated: { Replicas: 2 } }, TaskTemplate: { ContainerSpec: { Image: 'nginx:1@sha256:' + 'a'.repeat(64), DNSConfig: {} } }, ...over },
  ...rest,
});
const task = (id: string, state: string, over: Partial<RawTask> = {}, status: Partial<RawTask['Status']> = {}): RawTask => ({
  Spec: { ContainerSpec: { Image: 'nginx:1@sha256:' + 'a'.repeat(64), Isolation: 'default' } },
  ID: id,
  ServiceID: 's1',
  Slot: 1,
  NodeID: 'n1',
  DesiredState: state === 'running' ? 'running' : 'shutdown',
  Status: { State: state, Timestamp: '2026-12-04T10:00:00.000000001Z', ...status },
  ...over,
});

describe('swarm mapping', () => {
  it('maps a task with its reservations, exit code and container', () => {
    const t = toTask(task('t1', 'running', { Spec: { Resources: { Reservations: { NanoCPUs: 5e8, MemoryBytes: 1024 } } } }, { Message: 'started', ContainerStatus: { ContainerID: 'c1', ExitCode: 0 } }), 'healthy');
    expect(t).toMatchObject({ id: 't1', slot: 1, state: 'running', desiredState: 'running', message: 'started', exitCode: 0, containerId: 'c1', health: 'healthy', reservedCpus: 0.5, reservedMemoryBytes: 1024 });
  });

  it('keeps current tasks, counts running ones, remembers failures newest first, and strips the image digest', () => {
    const tasks = [
      task('t2', 'running', { Slot: 2 }, { ContainerStatus: { ContainerID: 'c2' } }),
      task('t1', 'running', {}, { ContainerStatus: { ContainerID: 'c1' } }),
      task('f1', 'failed', {}, { Err: 'task: non-zero exit (1)', Timestamp: '2026-12-04T09:00:00Z', ContainerStatus: { ExitCode: 1 } }),
      task('f2', 'rejected', {}, { Err: 'invalid mount config for type "bind": bind source path does not exist: /srv/x', Timestamp: '2026-12-04T09:30:00Z', ContainerStatus: { ExitCode: 0 } }),
      task('old', 'shutdown'),
    ];
    const s = toService(raw({}, { UpdatedAt: '2026-12-04T08:00:00Z', UpdateStatus: { State: 'completed' } }), tasks, (cid) => (cid === 'c1' ? 'healthy' : 'none'));
    expect(s.image).toBe('nginx:1');
    expect(s.stack).toBe('wiki');
    expect(s.desired).toBe(2);
    expect(s.running).toBe(2);
    expect(s.tasks.map((t) => [t.id, t.health])).toEqual([['t1', 'healthy'], ['t2', null]]);
    expect(s.lastFailure).toEqual({ at: '2026-12-04T09:30:00Z', error: expect.stringContaining('bind source path does not exist'), exitCode: 0 });
    expect(s.failures?.map((f) => f.exitCode)).toEqual([null, 1]);
    const changed = toService(raw({ TaskTemplate: { ContainerSpec: { Image: 'nginx:2' } } }), tasks, () => undefined);
    expect(changed.failures?.map((f) => f.oldSpec)).toEqual([true, true]); // made from the spec before this one
    expect(s.specUpdatedAt).toBe('2026-12-04T08:00:00Z');
    expect(s.updateStatus).toEqual({ state: 'completed', message: '' });
    expect(isConverging(s)).toBe(false);
  });

  it('counts a global service’s tasks as its desired copies, and lists only published TCP ports', () => {
    const s = toService(
      raw({ Mode: { Global: {} }, EndpointSpec: { Ports: [{ PublishedPort: 8081, TargetPort: 8080, PublishMode: 'host' }, { PublishedPort: 53, TargetPort: 53, Protocol: 'udp' }, { TargetPort: 9 }] } }),
      [task('t1', 'starting', { DesiredState: 'running' })],
      () => undefined,
    );
    expect(s.mode).toBe('global');
    expect(s.desired).toBe(1);
    expect(s.running).toBe(0);
    expect(s.ports).toEqual([{ published: 8081, target: 8080, mode: 'host' }]);
    expect(isConverging(s)).toBe(true);
  });

  it('maps a node, with defaults for what Docker left out', () => {
    expect(toNode({ ID: 'abcdefghijklmnop', Spec: {}, Description: { Resources: { NanoCPUs: 4e9, MemoryBytes: 8 } } })).toEqual({
      id: 'abcdefghijklmnop', hostname: 'abcdefghijkl', role: 'unknown', availability: 'unknown', state: 'unknown', architecture: 'unknown', cpus: 4, memoryBytes: 8,
    });
  });
});
