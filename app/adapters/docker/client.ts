// The Docker Engine client. No API version is pinned: the daemon's own version is used (negotiated by path-less calls).
import Docker from 'dockerode';

export type DockerStatus = { ok: true; version: string; apiVersion: string; swarm: string } | { ok: false; error: string };

export function createDocker(socketPath: string): Docker {
  return new Docker({ socketPath, timeout: 5000 });
}

/** Does the daemon answer? Bounded in time so a hung socket cannot stall a health check. */
export async function dockerStatus(docker: Docker, timeoutMs = 2000): Promise<DockerStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const info = (await Promise.race([docker.info(), timeout])) as {
      ServerVersion: string;
      Swarm?: { LocalNodeState?: string };
    };
    const version = (await Promise.race([docker.version(), timeout])) as { ApiVersion: string };
    return { ok: true, version: info.ServerVersion, apiVersion: version.ApiVersion, swarm: info.Swarm?.LocalNodeState ?? 'unknown' };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
