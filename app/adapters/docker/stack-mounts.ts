// A stack's services with their labels and named volumes, read from the swarm now (not the live model, which
// keeps no mounts), and the stack's containers: what backups need to find data and run hooks.
import type Docker from 'dockerode';
import { STACK_LABEL } from './labels.ts';

export type StackServiceMounts = { name: string; labels: Record<string, string>; volumes: string[] };

type RawService = { Spec: { Name: string; Labels?: Record<string, string>; TaskTemplate: { ContainerSpec?: { Mounts?: { Type?: string; Source?: string }[] } } } };

export async function stackServices(docker: Docker, stack: string): Promise<StackServiceMounts[]> {
  const list = (await docker.listServices({ filters: { label: [`${STACK_LABEL}=${stack}`] } })) as unknown as RawService[];
  return list.map((s) => ({
    name: s.Spec.Name,
    labels: s.Spec.Labels ?? {},
    volumes: (s.Spec.TaskTemplate.ContainerSpec?.Mounts ?? []).filter((m) => (m.Type ?? 'volume') === 'volume' && m.Source).map((m) => m.Source!),
  }));
}

/** How many of the stack's containers run now. */
export async function runningContainers(docker: Docker, stack: string): Promise<number> {
  return (await docker.listContainers({ filters: { label: [`${STACK_LABEL}=${stack}`], status: ['running'] } })).length;
}

/** Creates a named volume of the stack when it is missing (a node rebuilt from its backups). */
export async function ensureVolume(docker: Docker, stack: string, name: string): Promise<void> {
  const found = await docker.getVolume(name).inspect().then(() => true, () => false);
  if (!found) await docker.createVolume({ Name: name, Labels: { [STACK_LABEL]: stack } });
}
