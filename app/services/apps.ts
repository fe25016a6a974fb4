// Apps as stewards see them: one per stack, summarised from the live model.
import { isCoopCloudApp, readAppLabels, type AppLabels } from '../adapters/docker/labels.ts';
import type { LiveModel, NodeState, ServiceState } from '../adapters/docker/live-model.ts';
import type { InstalledApp } from '../adapters/abra/app-env.ts';
import { managementOf, type Management } from './app-access.ts';

export type AppStatus = 'running' | 'starting' | 'degraded' | 'failing' | 'stopped' | 'updating' | 'not deployed';

export type AppView = AppLabels & {
  stack: string;
  coopCloud: boolean;
  status: AppStatus;
  desired: number;
  running: number;
  lastError: string | null;
  services: ServiceView[];
  /** Set when this node's abra has the app's env file, so the node can change it. */
  installed?: InstalledApp;
  /** Whether the node may act on it, and for whom (see app-access.ts). */
  management: Management;
};

export type ServiceView = Omit<ServiceState, 'tasks'> & { shortName: string; tasks: (ServiceState['tasks'][number] & { nodeName: string })[] };

const UPDATING = new Set(['updating', 'rollback_started']);
// A task failure this recent, on a service short of replicas, means a crash loop rather than a slow start.
const RECENT_FAILURE_MS = 2 * 60_000;

const failingNow = (s: ServiceState, now: number) =>
  s.running < s.desired && !!s.lastFailure && now - Date.parse(s.lastFailure.at) < RECENT_FAILURE_MS;

export function appStatus(services: ServiceState[], now = Date.now()): AppStatus {
  const desired = services.reduce((n, s) => n + s.desired, 0);
  const running = services.reduce((n, s) => n + s.running, 0);
  if (services.some((s) => s.updateStatus && UPDATING.has(s.updateStatus.state))) return 'updating';
  if (desired === 0) return 'stopped';
  const unhealthy = services.some((s) => s.tasks.some((t) => t.health === 'unhealthy'));
  const failed = services.some((s) => failingNow(s, now) || s.tasks.some((t) => ['failed', 'rejected'].includes(t.state)));
  if (running === 0) return failed ? 'failing' : 'starting';
  if (running < desired || unhealthy) return failed || unhealthy ? 'degraded' : 'starting';
  if (services.some((s) => s.tasks.some((t) => t.health === 'starting'))) return 'starting';
  return 'running';
}

function lastError(services: ServiceState[]): string | null {
  const errors = services
    .flatMap((s) => [
      ...s.tasks.filter((t) => t.error).map((t) => ({ at: t.updatedAt, text: `${s.name}: ${t.error}` })),
      ...(s.lastFailure && failingNow(s, Date.now()) ? [{ at: s.lastFailure.at, text: `${s.name}: ${s.lastFailure.error}` }] : []),
    ])
    .sort((a, b) => b.at.localeCompare(a.at));
  const paused = services.find((s) => s.updateStatus?.state === 'paused' || s.updateStatus?.state === 'rollback_paused');
  if (paused) return `${paused.name}: update ${paused.updateStatus!.state.replace('_', ' ')} — ${paused.updateStatus!.message}`;
  return errors[0]?.text ?? null;
}

/** Which stacks an admin adopted and which one is the node itself; without them, only installed apps are managed. */
export type ManagementOptions = { adopted: ReadonlySet<string>; selfStack?: string };

export function appsFrom(model: Pick<LiveModel, 'services' | 'nodes'>, installed: InstalledApp[] = [], access: ManagementOptions = { adopted: new Set() }): AppView[] {
  const installedByStack = new Map(installed.map((a) => [a.stack, a]));
  const byStack = Map.groupBy([...model.services.values()].filter((s) => s.stack), (s) => s.stack!);
  const nodeName = (id: string) => model.nodes.get(id)?.hostname ?? (id ? id.slice(0, 12) : '—');
  const apps: AppView[] = [];
  for (const [stack, services] of byStack) {
    const main = services.find((s) => s.name === `${stack}_app`);
    const labels = main?.labels ?? {};
    const env = installedByStack.get(stack);
    installedByStack.delete(stack);
    const coopCloud = isCoopCloudApp(stack, labels) || !!env;
    const sorted = [...services].sort((a, b) => (a === main ? -1 : b === main ? 1 : a.name.localeCompare(b.name)));
    const fromLabels = readAppLabels(stack, labels);
    const recipe = fromLabels.recipe ?? env?.recipe;
    apps.push({
      stack,
      coopCloud,
      ...fromLabels,
      recipe,
      version: fromLabels.version ?? env?.version ?? undefined,
      domain: fromLabels.domain ?? env?.domain,
      installed: env,
      management: managementOf({ stack, recipe, installed: env }, access),
      status: appStatus(services),
      desired: services.reduce((n, s) => n + s.desired, 0),
      running: services.reduce((n, s) => n + s.running, 0),
      lastError: lastError(services),
      services: sorted.map((s) => ({
        ...s,
        shortName: s.name.startsWith(`${stack}_`) ? s.name.slice(stack.length + 1) : s.name,
        tasks: s.tasks.map((t) => ({ ...t, nodeName: nodeName(t.nodeId) })),
      })),
    });
  }
  // Installed with abra on this node but not running as a stack (new, or undeployed).
  for (const env of installedByStack.values()) {
    apps.push({
      stack: env.stack,
      coopCloud: true,
      recipe: env.recipe,
      version: env.version ?? undefined,
      chaos: false,
      domain: env.domain,
      extraDomains: [],
      status: 'not deployed',
      desired: 0,
      running: 0,
      lastError: null,
      services: [],
      installed: env,
      management: managementOf({ stack: env.stack, recipe: env.recipe, installed: env }, access),
    });
  }
  return apps.sort((a, b) => Number(b.coopCloud) - Number(a.coopCloud) || (a.domain ?? a.stack).localeCompare(b.domain ?? b.stack));
}

export type NodeView = NodeState & { freeCpus: number; freeMemoryBytes: number; tasks: number };

/** Swarm nodes with what is left after the reservations of the tasks meant to run on them. */
export function nodesFrom(model: Pick<LiveModel, 'nodes' | 'services'>): NodeView[] {
  const tasks = [...model.services.values()].flatMap((s) => s.tasks).filter((t) => t.desiredState === 'running');
  return [...model.nodes.values()]
    .map((n) => {
      const here = tasks.filter((t) => t.nodeId === n.id);
      return {
        ...n,
        tasks: here.length,
        freeCpus: Math.max(0, n.cpus - here.reduce((sum, t) => sum + t.reservedCpus, 0)),
        freeMemoryBytes: Math.max(0, n.memoryBytes - here.reduce((sum, t) => sum + t.reservedMemoryBytes, 0)),
      };
    })
    .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

/** One sentence on an app's live state when the node came back, for the output of jobs a restart cut off (pages show the state now beside it). */
export function describeLiveState(deps: { model: Pick<LiveModel, 'services' | 'nodes' | 'status'> }, stack: string | null): string {
  if (!stack) return '';
  if (deps.model.status.stale) return 'Docker does not answer right now, so the app’s state is unknown.';
  const app = appsFrom(deps.model).find((a) => a.stack === stack);
  return app ? `When the node came back, the app was ${app.status}, ${app.running}/${app.desired} running.` : 'When the node came back, the app was not deployed.';
}
