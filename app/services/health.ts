// What /healthz reports: whether the store answers (up or down), and for an admin Docker's state too.
import type Docker from 'dockerode';
import { dockerStatus, type DockerStatus } from '../adapters/docker/client.ts';
import type { Store } from '../store/index.ts';

export function healthService(deps: { store: Store; docker: Docker }) {
  return {
    storeAnswers: (): boolean => deps.store.answers(),
    /** Docker being down is reported, not fatal: the node can still show its pages and recover. */
    docker: (timeoutMs = 1500): Promise<DockerStatus> => dockerStatus(deps.docker, timeoutMs),
  };
}
export type HealthService = ReturnType<typeof healthService>;
