// The live model's reconnect logic against a fake Docker: it must settle, not spin.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { LiveModel } from '../../app/adapters/docker/live-model.ts';
import { createLogger } from '../../app/log.ts';

function fakeDocker(opts: { failReads: number }) {
  const streams: PassThrough[] = [];
  let reads = 0;
  const read = async <T>(value: T): Promise<T> => value;
  const docker = {
    getEvents: async () => {
      const s = new PassThrough();
      streams.push(s);
      return s;
    },
    listServices: async () => {
      reads += 1;
      if (reads <= opts.failReads) throw new Error('swarm has no leader');
      return [{ ID: 's1', Spec: { Name: 'wiki_app', Labels: { 'com.docker.stack.namespace': 'wiki' }, Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: 'x:1' } } } }];
    },
    listTasks: () => read([{ ID: 't1', ServiceID: 's1', Slot: 1, NodeID: 'n1', DesiredState: 'running', Status: { State: 'running', ContainerStatus: { ContainerID: 'c1' } } }]),
    listNodes: () => read([{ ID: 'n1', Description: { Hostname: 'pi' }, Spec: { Role: 'manager', Availability: 'active' }, Status: { State: 'ready' } }]),
    getContainer: () => ({ inspect: () => read({ State: { Health: { Status: 'healthy' } } }) }),
    ping: () => read('OK'),
  };
  return { docker: docker as unknown as Docker, streams, reads: () => reads };
}

describe('live model', () => {
  it('recovers from a failed first read after reconnecting, then stays settled', async () => {
    const fake = fakeDocker({ failReads: 1 });
    const model = new LiveModel(fake.docker, createLogger('silent'));
    let statusChanges = 0;
    model.on('status', () => (statusChanges += 1));
    await model.start();
    expect(model.status.stale).toBe(true);
    await new Promise((r) => setTimeout(r, 2000));
    expect(model.status.stale).toBe(false);
    expect(model.services.get('s1')?.tasks[0]?.health).toBe('healthy');
    expect(model.stats.fullSyncs).toBe(1);
    expect(fake.streams.length).toBe(2); // one lost with the failed read, one live
    expect(statusChanges).toBeLessThanOrEqual(2);
    model.stop();
  });

  it('marks itself stale when the event stream ends, and resyncs fully on reconnect', async () => {
    const fake = fakeDocker({ failReads: 0 });
    const model = new LiveModel(fake.docker, createLogger('silent'));
    await model.start();
    expect(model.status.stale).toBe(false);
    fake.streams[0]!.end();
    fake.streams[0]!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(model.status.stale).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(model.status.stale).toBe(false);
    expect(model.stats.fullSyncs).toBe(2);
    model.stop();
  });
});
