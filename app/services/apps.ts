// Apps as stewards see them: one per stack, summarised from the live model.
import { isCoopCloudApp, readAppLabels } from '../adapters/docker/labels.ts';
import type { LiveModel, NodeState, ServiceState } from '../adapters/docker/live-model.ts';

export type AppStatus = 'running' | 'starting' | 'degraded' | 'failing' | 'stopped' | 'updating';

export type AppView = {
  stack: string;
  coopCloud: boolean;
  recipe?: string;
  version?: string;
  chaos: boolean;
  chaosVersion?: string;
  domain?: string;
  status: AppStatus;
  desired: number;
  running: number;
  lastError: string | null;
  services: ServiceView[];
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

export function appsFrom(model: Pick<LiveModel, 'services' | 'nodes'>): AppView[] {
  const byStack = Map.groupBy([...model.services.values()].filter((s) => s.stack), (s) => s.stack!);
  const nodeName = (id: string) => model.nodes.get(id)?.hostname ?? (id ? id.slice(0, 12) : '—');
  const apps: AppView[] = [];
  for (const [stack, services] of byStack) {
    const main = services.find((s) => s.name === `${stack}_app`);
    const labels = main?.labels ?? {};
    const coopCloud = isCoopCloudApp(stack, labels);
    const sorted = [...services].sort((a, b) => (a === main ? -1 : b === main ? 1 : a.name.localeCompare(b.name)));
    apps.push({
      stack,
      coopCloud,
      ...readAppLabels(stack, labels),
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
  return apps.sort((a, b) => Number(b.coopCloud) - Number(a.coopCloud) || (a.domain ?? a.stack).localeCompare(b.domain ?? b.stack));
}

export function nodesFrom(model: Pick<LiveModel, 'nodes'>): NodeState[] {
  return [...model.nodes.values()].sort((a, b) => a.hostname.localeCompare(b.hostname));
}
