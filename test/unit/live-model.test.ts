// The live model's reconnect logic against a fake Docker: it must settle, not spin.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { describe, expect, it, vi } from 'vitest';
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

describe('live model follow-ups', () => {
  /** Two services of one stack: `stuck` never gets a node (its task stays pending); `app` is scaled from 0 to 1. */
  function swarmWithStuckService() {
    const stream = new PassThrough();
    const stuck = { ID: 'stuck', Spec: { Name: 'wiki_stuck', Labels: { 'com.docker.stack.namespace': 'wiki' }, Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: 'x:1' } } } };
    const app = { ID: 'app', Spec: { Name: 'wiki_app', Labels: { 'com.docker.stack.namespace': 'wiki' }, Mode: { Replicated: { Replicas: 0 } }, TaskTemplate: { ContainerSpec: { Image: 'x:1' } } } };
    const stuckTask = { ID: 't-stuck', ServiceID: 'stuck', Slot: 1, DesiredState: 'running', Status: { State: 'pending', Message: 'no suitable node' } };
    const appTask = { ID: 't-app', ServiceID: 'app', Slot: 1, NodeID: 'n1', DesiredState: 'running', Status: { State: 'starting', ContainerStatus: { ContainerID: 'c-app' } } };
    const reads = new Map<string, number>();
    let appScaled = false;
    const tasksOf = (id?: string) => [...(id !== 'app' ? [stuckTask] : []), ...(id !== 'stuck' && appScaled ? [appTask] : [])];
    const docker = {
      getEvents: async () => stream,
      listServices: async () => [stuck, app],
      listTasks: async (opts?: { filters?: { service?: string[] } }) => tasksOf(opts?.filters?.service?.[0]),
      listNodes: async () => [{ ID: 'n1', Description: { Hostname: 'pi' }, Spec: { Role: 'manager', Availability: 'active' }, Status: { State: 'ready' } }],
      getService: (id: string) => ({
        inspect: async () => {
          reads.set(id, (reads.get(id) ?? 0) + 1);
          return id === 'stuck' ? stuck : app;
        },
      }),
      getContainer: () => ({ inspect: async () => ({ State: {} }) }),
      ping: async () => 'OK',
    };
    return {
      docker: docker as unknown as Docker,
      reads,
      /** `docker service scale wiki_app=1`: one service event, then a task that starts. */
      scaleApp() {
        app.Spec.Mode.Replicated.Replicas = 1;
        appScaled = true;
        stream.write(`${JSON.stringify({ Type: 'service', Action: 'update', Actor: { ID: 'app', Attributes: { name: 'wiki_app' } } })}\n`);
      },
      /** Swarm marks the task running without an event of its own (API 1.41): only a re-read finds out. */
      appRunning() {
        appTask.Status.State = 'running';
      },
    };
  }

  it('a service that never converges backs off on its own timer: a freshly scaled service is followed within a second', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const swarm = swarmWithStuckService();
      const model = new LiveModel(swarm.docker, createLogger('silent'));
      await model.start();
      // Let the stuck service's follow-ups back off to their longest delay (400 ms doubling every 5 re-reads, up to 5 s).
      await vi.advanceTimersByTimeAsync(40_000);
      expect(swarm.reads.get('stuck')).toBeGreaterThan(15);
      expect(swarm.reads.get('stuck')).toBeLessThan(30); // backing off, not every 400 ms
      // Scale right after the stuck service's re-read, when its next one is the full back-off away.
      const before = swarm.reads.get('stuck');
      for (let i = 0; i < 200 && swarm.reads.get('stuck') === before; i++) await vi.advanceTimersByTimeAsync(50);
      const stuckReads = swarm.reads.get('stuck') ?? 0;
      expect(stuckReads).toBeGreaterThan(before!);

      swarm.scaleApp();
      await vi.advanceTimersByTimeAsync(100);
      const app = () => [...model.services.values()].find((s) => s.name === 'wiki_app')!;
      expect(app()).toMatchObject({ desired: 1, running: 0 });
      swarm.appRunning();
      await vi.advanceTimersByTimeAsync(1000);
      expect(app()).toMatchObject({ desired: 1, running: 1 });
      // And the stuck service kept its own pace meanwhile: at most one more re-read in that 1.1 s.
      expect((swarm.reads.get('stuck') ?? 0) - stuckReads).toBeLessThanOrEqual(1);
      model.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('live model versions', () => {
  it('changes services only together with its version, one flush at a time: no reader sees a re-read half applied, no older read wins', async () => {
    const stream = new PassThrough();
    const service = (id: string, replicas: number) => ({ ID: id, Spec: { Name: `wiki_${id}`, Labels: { 'com.docker.stack.namespace': 'wiki' }, Mode: { Replicated: { Replicas: replicas } }, TaskTemplate: { ContainerSpec: { Image: 'x:1' } } } });
    const live = { a: service('a', 1), b: service('b', 1) };
    let releaseB: (() => void) | undefined;
    const docker = {
      getEvents: async () => stream,
      listServices: async () => Object.values(live),
      listTasks: async () => [],
      listNodes: async () => [],
      getService: (id: 'a' | 'b') => ({
        // b's inspect answers only when the test lets it: a slow Docker answering one re-read before the other.
        inspect: () => (id === 'b' ? new Promise((r) => (releaseB = () => r(live.b))) : Promise.resolve(live.a)),
      }),
      getContainer: () => ({ inspect: async () => ({ State: {} }) }),
      ping: async () => 'OK',
    };
    const model = new LiveModel(docker as unknown as Docker, createLogger('silent'));
    await model.start();
    const desired = (id: string) => model.services.get(id)?.desired;
    const version = model.version;
    live.a = service('a', 3);
    live.b = service('b', 2);
    for (const id of ['a', 'b']) stream.write(`${JSON.stringify({ Type: 'service', Action: 'update', Actor: { ID: id, Attributes: { name: `wiki_${id}` } } })}\n`);
    for (let i = 0; i < 50 && !releaseB; i++) await new Promise((r) => setTimeout(r, 5));
    expect(releaseB).toBeDefined();
    await new Promise((r) => setTimeout(r, 20)); // a's re-read has long answered
    expect([model.version, desired('a'), desired('b')]).toEqual([version, 1, 1]);
    // a changes again while that re-read still waits: its newer state must not be overwritten by the older read.
    live.a = service('a', 5);
    stream.write(`${JSON.stringify({ Type: 'service', Action: 'update', Actor: { ID: 'a', Attributes: { name: 'wiki_a' } } })}\n`);
    await new Promise((r) => setTimeout(r, 50));
    releaseB!();
    for (let i = 0; i < 50 && desired('a') !== 5; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect([desired('a'), desired('b')]).toEqual([5, 2]);
    expect(model.version).toBe(version + 2); // the held flush, then the one that waited for it
    model.stop();
  });
});

describe('live model re-read failures', () => {
  function swarm(opts: { pingAnswers: boolean }) {
    const stream = new PassThrough();
    const a = (replicas: number) => ({ ID: 'a', Spec: { Name: 'wiki_a', Labels: { 'com.docker.stack.namespace': 'wiki' }, Mode: { Replicated: { Replicas: replicas } }, TaskTemplate: { ContainerSpec: { Image: 'x:1' } } } });
    let live = a(1);
    let failNext = 0;
    const docker = {
      getEvents: async () => stream,
      listServices: async () => [live],
      listTasks: async () => [],
      listNodes: async () => [],
      getService: () => ({
        inspect: async () => {
          if (failNext > 0) {
            failNext -= 1;
            throw new Error('socket hang up'); // what docker-modem's timeout leaves behind
          }
          return live;
        },
      }),
      getContainer: () => ({ inspect: async () => ({ State: {} }) }),
      ping: async () => {
        if (!opts.pingAnswers) throw new Error('connect ENOENT /var/run/docker.sock');
        return 'OK';
      },
    };
    return {
      docker: docker as unknown as Docker,
      /** `docker service scale wiki_a=N`, whose first re-read (or `failures` of them) fails. */
      scale(replicas: number, failures: number) {
        live = a(replicas);
        failNext = failures;
        stream.write(`${JSON.stringify({ Type: 'service', Action: 'update', Actor: { ID: 'a', Attributes: { name: 'wiki_a' } } })}\n`);
      },
    };
  }
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  };

  it('asks again shortly when Docker still answers: no stale flag, no full resync', async () => {
    const fake = swarm({ pingAnswers: true });
    const model = new LiveModel(fake.docker, createLogger('silent'));
    await model.start();
    let stale = false;
    model.on('status', (s: { stale: boolean }) => (stale ||= s.stale));
    fake.scale(3, 2);
    await until(() => model.services.get('a')?.desired === 3);
    expect(model.services.get('a')?.desired).toBe(3);
    expect(stale).toBe(false);
    expect(model.stats.fullSyncs).toBe(1);
    model.stop();
  });

  it('takes a failed re-read for Docker going away when it does not answer its ping either', async () => {
    const fake = swarm({ pingAnswers: false });
    const model = new LiveModel(fake.docker, createLogger('silent'));
    await model.start();
    expect(model.status.stale).toBe(false);
    fake.scale(3, 1);
    await until(() => model.status.stale);
    expect(model.status.stale).toBe(true);
    model.stop();
  });
});
