// CPU and memory of a stack's running containers on this node, from Docker's stats (one sample each, not a stream:
// the daemon takes two readings a second apart, which gives the CPU figure).
import type Docker from 'dockerode';

/** The part of Docker's stats JSON read here (cgroup v1 and v2 alike). */
export type DockerStats = {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; stats?: Record<string, number | undefined> };
};

export type Usage = {
  /** Share of the whole machine's CPU time (all cores together), 0–100. */
  cpuPercent: number;
  /** Memory in use, as `docker stats` counts it: usage less the page cache the kernel can drop (inactive files). */
  memoryBytes: number;
};

/** One container's usage from one stats sample; a container that just started has no earlier CPU reading (0 %). */
export function usageFromStats(s: DockerStats): Usage {
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpuPercent = cpuDelta > 0 && systemDelta > 0 && s.precpu_stats?.system_cpu_usage ? Math.min(100, (cpuDelta / systemDelta) * 100) : 0;
  const m = s.memory_stats ?? {};
  const inactive = m.stats?.inactive_file ?? m.stats?.total_inactive_file ?? 0; // v2 : v1
  const usage = m.usage ?? 0;
  return { cpuPercent, memoryBytes: inactive < usage ? usage - inactive : usage };
}

export type StackUsage = Usage & { containers: number };

/** Summed over the stack's running containers on this node (other nodes' tasks are theirs to count). */
export async function stackUsage(docker: Docker, stack: string): Promise<StackUsage> {
  const list = await docker.listContainers({ filters: { label: [`com.docker.stack.namespace=${stack}`], status: ['running'] } });
  const samples = await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .stats({ stream: false })
        .then((s) => usageFromStats(s as DockerStats))
        .catch(() => undefined), // a container that stopped meanwhile counts for nothing
    ),
  );
  const got = samples.filter((u): u is Usage => !!u);
  return {
    containers: got.length,
    cpuPercent: got.reduce((sum, u) => sum + u.cpuPercent, 0),
    memoryBytes: got.reduce((sum, u) => sum + u.memoryBytes, 0),
  };
}
