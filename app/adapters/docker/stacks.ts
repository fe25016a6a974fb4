// Whether the swarm runs a stack of a given name: asked of Docker itself, not of the live model (which may lag).
import type Docker from 'dockerode';

export async function stackExists(docker: Docker, stack: string): Promise<boolean> {
  const services = await docker.listServices({ filters: { label: [`com.docker.stack.namespace=${stack}`] } });
  return services.length > 0;
}
