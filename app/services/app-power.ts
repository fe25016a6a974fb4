// Stop and start an app: stop scales every service to 0 and remembers the counts; start puts them back.
import type Docker from 'dockerode';
import type { LiveModel } from '../adapters/docker/live-model.ts';
import { readMode, setGlobalStopped, setReplicas } from '../adapters/docker/scale.ts';
import type { Store } from '../store/index.ts';
import type { AppLocks } from './app-locks.ts';
import { appsFrom } from './apps.ts';
import { UserFacingError } from './errors.ts';

export type PowerChange = { service: string; from: number | 'global'; to: number | 'global' };

export function appPower(deps: { docker: Docker; store: Store; model: LiveModel; locks: AppLocks; now: () => number }) {
  const { docker, store, model, locks, now } = deps;

  function servicesOf(stack: string) {
    const app = appsFrom(model).find((a) => a.stack === stack);
    if (!app) throw new UserFacingError(`There is no app “${stack}” on this node.`, 404);
    if (app.recipe === 'lores-node') throw new UserFacingError('The node cannot stop or start itself from its own page.', 400);
    return app.services;
  }

  return {
    stop(stack: string, by: string): Promise<PowerChange[]> {
      return locks.run(stack, 'stop', async () => {
        const changes: PowerChange[] = [];
        for (const s of servicesOf(stack)) {
          const current = await readMode(docker, s.id);
          if (current.mode === 'replicated' && current.replicas > 0) {
            store.stoppedServices.save([{ stack, service: s.name, mode: 'replicated', replicas: current.replicas, stoppedAt: now(), stoppedBy: by }]);
            await setReplicas(docker, s.id, 0);
            changes.push({ service: s.name, from: current.replicas, to: 0 });
          } else if (current.mode === 'global' && !current.stoppedByUs) {
            store.stoppedServices.save([{ stack, service: s.name, mode: 'global', replicas: 0, stoppedAt: now(), stoppedBy: by }]);
            await setGlobalStopped(docker, s.id, true);
            changes.push({ service: s.name, from: 'global', to: 0 });
          }
        }
        return changes;
      });
    },

    start(stack: string): Promise<PowerChange[]> {
      return locks.run(stack, 'start', async () => {
        const saved = new Map(store.stoppedServices.forStack(stack).map((r) => [r.service, r]));
        const changes: PowerChange[] = [];
        for (const s of servicesOf(stack)) {
          const current = await readMode(docker, s.id);
          // When the node stopped this app, bring back exactly what it stopped; a service at 0 by design stays at 0.
          if (saved.size > 0 && !saved.has(s.name)) continue;
          if (current.mode === 'replicated' && current.replicas === 0) {
            // Without a remembered count (stopped outside the node), one replica is the sensible start.
            const replicas = saved.get(s.name)?.replicas || 1;
            await setReplicas(docker, s.id, replicas);
            changes.push({ service: s.name, from: 0, to: replicas });
          } else if (current.mode === 'global' && current.stoppedByUs) {
            await setGlobalStopped(docker, s.id, false);
            changes.push({ service: s.name, from: 0, to: 'global' });
          }
          store.stoppedServices.forget(stack, s.name);
        }
        return changes;
      });
    },
  };
}
export type AppPower = ReturnType<typeof appPower>;
