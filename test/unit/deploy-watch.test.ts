// The deploy watch: which task errors end a deploy's wait at once (a missing folder, a missing image, a crash loop,
// a repeated rejection), said in plain words; old failures and single hiccups do not.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { ServiceState, TaskFailure } from '../../app/adapters/docker/swarm-mapping.ts';
import { plainReason, troubleIn, watchDeploy, withoutPictographs } from '../../app/services/deploy-watch.ts';

const T0 = Date.parse('2026-12-04T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const service = (failures: TaskFailure[], over: Partial<ServiceState> = {}): ServiceState => ({
  id: 's1', name: 'wiki_app', stack: 'wiki', image: 'x', mode: 'replicated', desired: 1, running: 0, labels: {}, updateStatus: null, tasks: [],
  lastFailure: failures[0] ?? null, failures, ports: [], specUpdatedAt: iso(T0), ...over,
});
const mount = 'invalid mount config for type "bind": bind source path does not exist: /srv/zims/wiki';

describe('deploy watch', () => {
  it('says a missing folder, a missing image and a busy port in plain words, with what to do', () => {
    expect(plainReason(mount)).toBe("The folder /srv/zims/wiki does not exist on this server. Create it on the app's settings page, or choose another folder.");
    expect(plainReason('No such image: lores-test/nope:1')).toMatch(/^The image lores-test\/nope:1 is not on this server and could not be downloaded\./);
    expect(plainReason('task: non-zero exit (1)')).toBeUndefined();
    for (const words of [plainReason(mount), plainReason('No such image: a:1')]) expect(words).not.toMatch(/[\u{1F300}-\u{1FAFF}\u2600-\u27BF]/u);
  });

  it('ends the wait at the first mount or image error since the deploy, and ignores older ones', () => {
    expect(troubleIn([service([{ at: iso(T0 + 2000), error: mount, exitCode: null }])], 'wiki', T0)).toEqual({ service: 'app', reason: expect.stringContaining('/srv/zims/wiki does not exist') });
    expect(troubleIn([service([{ at: iso(T0 - 5000), error: mount, exitCode: null }])], 'wiki', T0)).toBeUndefined();
    // Swarm moves UpdatedAt again when it pauses a failing update: a failure before that still counts.
    expect(troubleIn([service([{ at: iso(T0 + 1000), error: mount, exitCode: null }], { specUpdatedAt: iso(T0 + 3000) })], 'wiki', T0)).toBeDefined();
    expect(troubleIn([service([{ at: iso(T0 + 2000), error: mount, exitCode: null }], { stack: 'other' })], 'wiki', T0)).toBeUndefined();
    // The model has not yet seen this deploy change the service: its failures are the old settings'.
    expect(troubleIn([service([{ at: iso(T0 + 2000), error: mount, exitCode: null }], { specUpdatedAt: iso(T0 - 60_000) })], 'wiki', T0)).toBeUndefined();
    // A task made from the spec before this deploy's, failing after the deploy changed it.
    expect(troubleIn([service([{ at: iso(T0 + 5000), error: mount, exitCode: null, oldSpec: true } as TaskFailure])], 'wiki', T0)).toBeUndefined();
  });

  it('calls three exits in a row a crash loop, and two alike rejections a refusal, but not one hiccup', () => {
    const exit = (n: number): TaskFailure => ({ at: iso(T0 + n * 1000), error: 'task: non-zero exit (3)', exitCode: 3 });
    expect(troubleIn([service([exit(3), exit(2)])], 'wiki', T0)).toBeUndefined();
    expect(troubleIn([service([exit(3), exit(2), exit(1)])], 'wiki', T0)?.reason).toBe("The app's app service keeps stopping right after it starts (exit code 3, 3 times). Its logs on the app's page say why; fix its settings, then deploy again.");
    expect(troubleIn([service([exit(3), exit(2), exit(1)], { running: 1 })], 'wiki', T0)).toBeUndefined();
    const rejected = (n: number): TaskFailure => ({ at: iso(T0 + n * 1000), error: 'secret not found: wiki_x_v1', exitCode: null });
    expect(troubleIn([service([rejected(1)])], 'wiki', T0)).toBeUndefined();
    expect(troubleIn([service([rejected(2), rejected(1)])], 'wiki', T0)?.reason).toMatch(/cannot start the app's app service: secret not found/);
  });

  it('names the reason with one failure once abra has given up, and drops pictographs from abra’s words', () => {
    const once = [service([{ at: iso(T0 + 1), error: 'task: non-zero exit (3)', exitCode: 3 }])];
    expect(troubleIn(once, 'wiki', T0)).toBeUndefined();
    expect(troubleIn(once, 'wiki', T0, { settled: true })?.reason).toBe("The app's app service stopped right after it started (exit code 3). Its logs on the app's page say why; fix its settings, then deploy again.");
    expect(troubleIn([service([])], 'wiki', T0, { settled: true })).toBeUndefined();
    expect(withoutPictographs('abra failed: deploy failed 🛑 (wiki_app paused)')).toBe('abra failed: deploy failed (wiki_app paused)');
    expect(withoutPictographs('deploy timed out 🙁')).toBe('deploy timed out');
  });

  it('watches the model: settles on the change that brings the trouble, and stops listening', async () => {
    const model = Object.assign(new EventEmitter(), { services: new Map<string, ServiceState>() });
    const watch = watchDeploy(model, 'wiki', T0);
    model.services.set('s1', service([]));
    model.emit('change', new Set(['wiki']));
    model.services.set('s1', service([{ at: iso(T0 + 2000), error: mount, exitCode: null }]));
    model.emit('change', new Set(['wiki']));
    await expect(watch.trouble).resolves.toMatchObject({ service: 'app' });
    expect(model.listenerCount('change')).toBe(0);
    const idle = watchDeploy(model, 'other', T0);
    idle.stop();
    expect(model.listenerCount('change')).toBe(0);
  });
});
