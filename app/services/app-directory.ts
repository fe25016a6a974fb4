// The apps every page shows, from the live model and the node's abra env files: one list per live-model version
// (and per change to the env files or adoptions), shared by every open page and every SSE push instead of one
// mapping per viewer. Also the lookups routes make by stack name, and the change notifications pages follow.
import { listInstalled, type InstalledApp } from '../adapters/abra/app-env.ts';
import type { LiveModel } from '../adapters/docker/live-model.ts';
import { UserFacingError } from '../errors.ts';
import type { AppAccess, AppAction, Caller } from './app-access.ts';
import { appsFrom, nodesFrom, type AppView, type NodeView } from './apps.ts';
import type { JobHistory } from './job-history.ts';
import type { JobRunner } from './jobs.ts';
import type { NodeSelf } from './node-self.ts';
import type { SettingsService } from './settings.ts';
import { versionSpans } from './version-span.ts';

export type { InstalledApp };
export type ManagedApp = AppView & { installed: InstalledApp };
export type DashboardData = { apps: AppView[]; otherStacks: AppView[]; nodes: NodeView[]; live: LiveModel['status']; nodeDomain: string; busy: (stack: string) => string | undefined };

const AGEING_MS = 15_000;

type Deps = { model: LiveModel; abraDir: string; access: AppAccess; jobs: JobRunner; history: JobHistory; settings: SettingsService; self: NodeSelf };

export function appDirectory(deps: Deps) {
  const { model, access, jobs, history } = deps;
  let kept: { version: number; period: number; installed: InstalledApp[]; adopted: string; selfStack?: string; apps: AppView[] } | undefined;
  // Counts the lists made: a new one whenever the model, an env file or an adoption moved (pages are kept by it).
  let generation = 0;
  // listInstalled hands back the same object for an env file that did not change, so a list compares by identity.
  const same = (a: InstalledApp[], b: InstalledApp[]) => a.length === b.length && a.every((x, i) => x === b[i]);

  /** Every stack on the swarm and every app installed here; recomputed only when one of its sources moved. */
  function list(): AppView[] {
    const installed = listInstalled(deps.abraDir);
    const options = access.options();
    const adopted = [...options.adopted].sort().join('\0');
    // Statuses also age without the swarm moving ("failing" lasts as long as a failure is recent): a list is made
    // afresh at least every AGEING_MS.
    const period = Math.floor(Date.now() / AGEING_MS);
    if (kept && kept.version === model.version && kept.period === period && kept.adopted === adopted && kept.selfStack === options.selfStack && same(kept.installed, installed)) return kept.apps;
    kept = { version: model.version, period, installed, adopted, selfStack: options.selfStack, apps: appsFrom(model, installed, options) };
    generation += 1;
    return kept.apps;
  }

  const lookup = (stack: string): AppView | undefined => list().find((a) => a.stack === stack);

  /** The app with this stack name; a 404 that says so (and that Docker may be out of reach) otherwise. */
  function find(stack: string): AppView {
    const app = lookup(stack);
    if (!app) throw new UserFacingError(`There is no app “${stack}” on this node${model.status.stale ? ' (or the node cannot reach Docker right now)' : ''}.`, 404);
    return app;
  }

  /** The app, once the caller may take `action` on it (managed or adopted, not the node itself, no host reach for
   *  stewards); a clear 403/409 that changes nothing otherwise. */
  async function authorized(caller: Caller, stack: string, action: AppAction): Promise<AppView> {
    const app = find(stack);
    await access.authorize(caller, app, action);
    return app;
  }

  /** As `authorized`, and installed by this node's abra (so abra can change it). */
  async function managed(caller: Caller, stack: string, action: AppAction): Promise<ManagedApp> {
    const app = await authorized(caller, stack, action);
    if (!app.installed) throw new UserFacingError(`${app.domain ?? app.stack} was deployed from elsewhere (not with this node’s abra), so the node can show it but not change it.`, 409);
    return app as ManagedApp;
  }

  /** As `managed` for 'remove': only an app that is not deployed (undeploy first) is removed. */
  async function removable(caller: Caller, stack: string): Promise<ManagedApp> {
    const app = await managed(caller, stack, 'remove');
    if (app.status !== 'not deployed') throw new UserFacingError(`${app.installed.domain} is still deployed. Undeploy it first, then remove it.`, 409);
    return app;
  }

  /** The env file of an installed app, by stack name (the config repository's pages). */
  function installed(stack: string): InstalledApp | undefined {
    return listInstalled(deps.abraDir).find((a) => a.stack === stack);
  }

  function dashboard(): DashboardData {
    const apps = list();
    return {
      apps: apps.filter((a) => a.coopCloud),
      otherStacks: apps.filter((a) => !a.coopCloud),
      nodes: nodesFrom(model),
      live: model.status,
      nodeDomain: deps.settings.current().nodeDomain,
      busy: (stack: string) => jobs.holder(stack),
    };
  }

  const spans = versionSpans(deps.abraDir);
  /** What an app's page shows besides the app: where it can upgrade or roll back to, its events, jobs, busy state. */
  async function page(app: AppView) {
    if (app.installed?.recipe) await spans.refresh(app.installed.recipe);
    return detail(app);
  }
  function detail(app: AppView) {
    return {
      app,
      span: app.installed ? spans.around(app.installed.recipe, app.installed.version) : undefined,
      live: model.status,
      recent: [...(model.recent.get(app.stack) ?? [])].reverse(),
      busy: jobs.holder(app.stack),
      jobs: history.list({ limit: 5, app: app.stack }),
      isSelf: deps.self.isSelf(app.stack),
    };
  }

  /** Calls `fn` with the stacks that changed (on the swarm, or a job on them started or ended; null: the Docker
   *  connection's status); returns the unsubscribe. */
  function onChange(fn: (stacks: Set<string | null> | null) => void): () => void {
    const changed = (stacks: Set<string | null>) => fn(stacks);
    const status = () => fn(null);
    model.on('change', changed);
    model.on('status', status);
    const stopFollowingJobs = jobs.onHolderChange((stack) => fn(new Set([stack])));
    return () => {
      model.off('change', changed);
      model.off('status', status);
      stopFollowingJobs();
    };
  }

  return {
    list,
    lookup,
    find,
    authorized,
    managed,
    removable,
    installed,
    dashboard,
    page,
    detail,
    onChange,
    /** Changes whenever what the dashboard shows may have changed: the apps list (live model, env files, adoptions),
     *  the jobs, the node's domain. */
    version: () => {
      list();
      return `${generation}-${jobs.version}-${deps.settings.current().nodeDomain}`;
    },
    status: () => model.status,
  };
}
export type AppDirectory = ReturnType<typeof appDirectory>;
