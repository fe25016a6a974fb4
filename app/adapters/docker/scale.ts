// Changes replica counts and placement through the Engine API: abra has no verb for stopping an app.
import type Docker from 'dockerode';

type ServiceSpec = {
  Mode: { Replicated?: { Replicas?: number }; Global?: object };
  TaskTemplate: { Placement?: { Constraints?: string[] } };
};
type Inspected = { ID: string; Version: { Index: number }; Spec: ServiceSpec };

/** Global services cannot be scaled: a constraint no node meets takes their tasks down; removing it brings them back. */
export const STOPPED_CONSTRAINT = 'node.labels.lores-node.stopped==true';

async function updateSpec(docker: Docker, id: string, change: (spec: ServiceSpec) => void): Promise<void> {
  const service = docker.getService(id);
  const current = (await service.inspect()) as Inspected;
  const spec = structuredClone(current.Spec);
  change(spec);
  // _query/_body keep the version in the URL and the spec in the body (docker-modem otherwise sends both in both).
  await service.update({ _query: { version: current.Version.Index }, _body: spec } as never);
}

export async function readMode(docker: Docker, id: string): Promise<{ mode: 'replicated' | 'global'; replicas: number; stoppedByUs: boolean }> {
  const { Spec } = (await docker.getService(id).inspect()) as Inspected;
  const constraints = Spec.TaskTemplate.Placement?.Constraints ?? [];
  return Spec.Mode.Global
    ? { mode: 'global', replicas: 0, stoppedByUs: constraints.includes(STOPPED_CONSTRAINT) }
    : { mode: 'replicated', replicas: Spec.Mode.Replicated?.Replicas ?? 0, stoppedByUs: false };
}

export function setReplicas(docker: Docker, id: string, replicas: number): Promise<void> {
  return updateSpec(docker, id, (spec) => {
    spec.Mode = { Replicated: { Replicas: replicas } };
  });
}

export function setGlobalStopped(docker: Docker, id: string, stopped: boolean): Promise<void> {
  return updateSpec(docker, id, (spec) => {
    const placement = (spec.TaskTemplate.Placement ??= {});
    const others = (placement.Constraints ?? []).filter((c) => c !== STOPPED_CONSTRAINT);
    placement.Constraints = stopped ? [...others, STOPPED_CONSTRAINT] : others;
  });
}
