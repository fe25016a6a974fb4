// Stop and start an app, as jobs: stop scales every service to 0 and remembers the counts; start puts them back.
import type Docker from 'dockerode';
import { readMode, setGlobalStopped, setReplicas } from '../adapters/docker/scale.ts';
import type { Store } from '../store/index.ts';
import type { JobRow } from '../store/jobs.ts';
import type { AppAccess, Caller } from './app-access.ts';
import type { AppView } from './apps.ts';
import { UserFacingError } from '../errors.ts';
import type { JobLog, JobRunner } from './jobs.ts';

export function appPower(deps: { docker: Docker; store: Store; jobs: JobRunner; access: AppAccess; apps: { lookup: (stack: string) => AppView | undefined }; now: () => number }) {
  const { docker, store, jobs, now } = deps;

  function appOf(stack: string): AppView {
    const app = deps.apps.lookup(stack);
    if (!app) throw new UserFacingError(`There is no app “${stack}” on this node.`, 404);
    return app;
  }
  function servicesOf(stack: string) {
    const app = appOf(stack);
    if (app.recipe === 'lores-node') throw new UserFacingError('The node cannot stop or start itself from its own page.', 400);
    return app.services;
  }

  async function stop(stack: string, by: string | null, log: JobLog): Promise<void> {
    for (const s of servicesOf(stack)) {
      const current = await readMode(docker, s.id);
      if (current.mode === 'replicated' && current.replicas > 0) {
        store.stoppedServices.save([{ stack, service: s.name, mode: 'replicated', replicas: current.replicas, stoppedAt: now(), stoppedBy: by }]);
        await setReplicas(docker, s.id, 0);
        log(`${s.name}: ${current.replicas} → 0 replicas`);
      } else if (current.mode === 'global' && !current.stoppedByUs) {
        store.stoppedServices.save([{ stack, service: s.name, mode: 'global', replicas: 0, stoppedAt: now(), stoppedBy: by }]);
        await setGlobalStopped(docker, s.id, true);
        log(`${s.name}: global service held off every node`);
      } else {
        log(`${s.name}: already stopped`);
      }
    }
  }

  async function start(stack: string, log: JobLog): Promise<void> {
    const saved = new Map(store.stoppedServices.forStack(stack).map((r) => [r.service, r]));
    for (const s of servicesOf(stack)) {
      // When the node stopped this app, bring back exactly what it stopped; a service at 0 by design stays at 0.
      if (saved.size > 0 && !saved.has(s.name)) continue;
      const current = await readMode(docker, s.id);
      if (current.mode === 'replicated' && current.replicas === 0) {
        // Without a remembered count (stopped outside the node), one replica is the sensible start.
        const replicas = saved.get(s.name)?.replicas || 1;
        await setReplicas(docker, s.id, replicas);
        log(`${s.name}: 0 → ${replicas} replicas`);
      } else if (current.mode === 'global' && current.stoppedByUs) {
        await setGlobalStopped(docker, s.id, false);
        log(`${s.name}: global service back on every node`);
      } else {
        log(`${s.name}: already running`);
      }
      store.stoppedServices.forget(stack, s.name);
    }
  }

  return {
    /** Stops the app within a job of the caller's (a restore): the counts are remembered for `startNow`. */
    stopNow: stop,
    startNow: start,
    /** Checks the app exists, is not the node, and the caller may act on it; then starts the job (or throws busy). */
    async submit(action: 'stop' | 'start', stack: string, caller: Caller): Promise<JobRow> {
      await deps.access.authorize(caller, appOf(stack), action);
      servicesOf(stack);
      const actor = { name: caller.name, ip: caller.ip };
      return jobs.submit({
        kind: action,
        app: stack,
        recipe: null,
        actor,
        run: ({ log }) => (action === 'stop' ? stop(stack, actor.name, log) : start(stack, log)),
      });
    },
  };
}
export type AppPower = ReturnType<typeof appPower>;
