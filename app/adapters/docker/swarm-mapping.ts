// Docker's JSON for services, tasks and nodes, turned into the state pages show: pure functions, no Docker calls.
// The live model (live-model.ts) reads the JSON and keeps the result current; this module only says what it means.
import { STACK_LABEL } from './labels.ts';

export type TaskState = {
  id: string;
  slot: number | null;
  nodeId: string;
  state: string;
  desiredState: string;
  message: string;
  error: string | null;
  exitCode: number | null;
  health: string | null;
  containerId: string | null;
  updatedAt: string;
  /** What the task reserved on its swarm node (compose deploy.resources.reservations). */
  reservedCpus: number;
  reservedMemoryBytes: number;
};

/** A task swarm gave up on: why, and when. */
export type TaskFailure = { at: string; error: string; exitCode: number | null };

export type ServiceState = {
  id: string;
  name: string;
  stack: string | null;
  image: string;
  mode: 'replicated' | 'global';
  /** Replicas asked for (replicated), or tasks meant to run (global). */
  desired: number;
  running: number;
  labels: Record<string, string>;
  updateStatus: { state: string; message: string } | null;
  tasks: TaskState[];
  /** The newest task that failed, even after swarm replaced it: a crash loop shows here, not in `tasks`. */
  lastFailure: TaskFailure | null;
  /** Every failed task swarm still remembers (its task history), newest first: a deploy watch counts them. */
  failures?: (TaskFailure & { oldSpec?: boolean })[];
  /** TCP ports published on the hosts (a LAN overlay's way in, without Traefik). */
  ports: { published: number; target: number; mode: string }[];
  /** When its spec last changed (a deploy updates it): failures before that belong to an older spec. */
  specUpdatedAt?: string;
};

export type NodeState = {
  id: string;
  hostname: string;
  role: string;
  availability: string;
  state: string;
  architecture: string;
  cpus: number;
  memoryBytes: number;
};

export type RawTask = {
  ID: string;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState: string;
  UpdatedAt?: string;
  Status: { State: string; Message?: string; Err?: string; Timestamp?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
  Spec?: { ContainerSpec?: unknown; Resources?: { Reservations?: { NanoCPUs?: number; MemoryBytes?: number } } };
};

export type RawService = {
  ID: string;
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    Mode: { Replicated?: { Replicas?: number }; Global?: object };
    TaskTemplate: { ContainerSpec?: { Image?: string; [more: string]: unknown } };
    EndpointSpec?: { Ports?: { PublishedPort?: number; TargetPort?: number; PublishMode?: string; Protocol?: string }[] };
  };
  UpdateStatus?: { State?: string; Message?: string };
  UpdatedAt?: string;
};

export type RawNode = {
  ID: string;
  Description?: { Hostname?: string; Platform?: { Architecture?: string }; Resources?: { NanoCPUs?: number; MemoryBytes?: number } };
  Spec: { Role?: string; Availability?: string };
  Status?: { State?: string };
};

const TRANSITIONAL = new Set(['new', 'pending', 'assigned', 'accepted', 'ready', 'preparing', 'starting']);

/** A task counts until swarm is done with it: shutdown/complete tasks are history, not state. */
export const isCurrent = (t: RawTask) => t.DesiredState === 'running' || t.DesiredState === 'ready' || t.Status.State === 'running';

/** The container a task runs in, if it got one. */
export const containerOf = (t: RawTask): string | undefined => t.Status.ContainerStatus?.ContainerID || undefined;

export function toTask(t: RawTask, health: string | null): TaskState {
  return {
    id: t.ID,
    slot: t.Slot ?? null,
    nodeId: t.NodeID ?? '',
    state: t.Status.State,
    desiredState: t.DesiredState,
    message: t.Status.Message ?? '',
    error: t.Status.Err ?? null,
    exitCode: t.Status.ContainerStatus?.ExitCode ?? null,
    health,
    containerId: t.Status.ContainerStatus?.ContainerID ?? null,
    updatedAt: t.Status.Timestamp ?? t.UpdatedAt ?? '',
    reservedCpus: (t.Spec?.Resources?.Reservations?.NanoCPUs ?? 0) / 1e9,
    reservedMemoryBytes: t.Spec?.Resources?.Reservations?.MemoryBytes ?? 0,
  };
}

/**
 * What decides whether a task's container can start: image, command, environment and mounts. Docker writes the rest
 * of a task's copy of the spec a little differently (empty fields left out), so the whole of it cannot be compared.
 */
function specPrint(spec: unknown): string {
  const c = (spec ?? {}) as { Image?: string; Command?: unknown; Args?: unknown; Env?: unknown; Mounts?: { Type?: string; Source?: string; Target?: string }[] };
  return JSON.stringify([(c.Image ?? '').replace(/@sha256:[0-9a-f]+$/, ''), c.Command ?? null, c.Args ?? null, c.Env ?? null, (c.Mounts ?? []).map((m) => [m.Type, m.Source, m.Target])]);
}

const toFailure = (t: RawTask): TaskFailure => ({ at: t.Status.Timestamp ?? '', error: t.Status.Err ?? t.Status.Message ?? 'failed', exitCode: t.Status.ContainerStatus?.ExitCode ?? null });

/**
 * One service with its tasks. `healthOf` gives a container's health as Docker last reported it (`none` when the
 * image has no healthcheck, undefined when unknown).
 */
export function toService(s: RawService, allTasks: RawTask[], healthOf: (containerId: string) => string | undefined): ServiceState {
  const labels = s.Spec.Labels ?? {};
  const containerSpec = specPrint(s.Spec.TaskTemplate.ContainerSpec);
  const global = !!s.Spec.Mode.Global;
  const failed = allTasks
    .filter((t) => t.Status.State === 'failed' || t.Status.State === 'rejected')
    .sort((a, b) => (b.Status.Timestamp ?? '').localeCompare(a.Status.Timestamp ?? ''));
  const current = allTasks.filter(isCurrent).map((t) => {
    const cid = t.Status.ContainerStatus?.ContainerID;
    const health = cid ? (healthOf(cid) ?? null) : null;
    return toTask(t, health === 'none' ? null : health);
  });
  return {
    id: s.ID,
    name: s.Spec.Name,
    stack: labels[STACK_LABEL] ?? null,
    image: (s.Spec.TaskTemplate.ContainerSpec?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, ''),
    mode: global ? 'global' : 'replicated',
    desired: global ? current.filter((t) => t.desiredState === 'running').length : (s.Spec.Mode.Replicated?.Replicas ?? 0),
    running: current.filter((t) => t.state === 'running').length,
    labels,
    updateStatus: s.UpdateStatus?.State ? { state: s.UpdateStatus.State, message: s.UpdateStatus.Message ?? '' } : null,
    tasks: current.sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0)),
    lastFailure: failed[0] ? toFailure(failed[0]) : null,
    // A task made from an older spec (before a deploy changed it) is history of other settings, marked so.
    // A rejected task never ran (Docker still says exit code 0): only a failed one has an exit code worth counting.
    failures: failed.map((t) => ({ ...toFailure(t), ...(t.Status.State === 'rejected' ? { exitCode: null } : {}), ...(specPrint(t.Spec?.ContainerSpec) === containerSpec ? {} : { oldSpec: true }) })),
    ports: (s.Spec.EndpointSpec?.Ports ?? [])
      .filter((p) => p.PublishedPort && (p.Protocol ?? 'tcp') === 'tcp')
      .map((p) => ({ published: p.PublishedPort!, target: p.TargetPort ?? 0, mode: p.PublishMode ?? 'ingress' })),
    specUpdatedAt: s.UpdatedAt ?? '',
  };
}

export function toNode(n: RawNode): NodeState {
  return {
    id: n.ID,
    hostname: n.Description?.Hostname ?? n.ID.slice(0, 12),
    role: n.Spec.Role ?? 'unknown',
    availability: n.Spec.Availability ?? 'unknown',
    state: n.Status?.State ?? 'unknown',
    architecture: n.Description?.Platform?.Architecture ?? 'unknown',
    cpus: (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
    memoryBytes: n.Description?.Resources?.MemoryBytes ?? 0,
  };
}

/** Swarm is still working on a service: replicas short, or a task on its way somewhere. */
export function isConverging(s: ServiceState): boolean {
  return s.running !== s.desired || s.tasks.some((t) => TRANSITIONAL.has(t.state) || t.desiredState !== 'running');
}
