// A Docker network's address ranges, as its IPAM configuration gives them.
import type Docker from 'dockerode';

/** The subnets (CIDR) of network `name`; throws when Docker does not answer or has no such network. */
export async function networkSubnets(docker: Docker, name: string): Promise<string[]> {
  const info = (await docker.getNetwork(name).inspect()) as { IPAM?: { Config?: { Subnet?: string }[] | null } };
  const subnets = (info.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (subnets.length === 0) throw new Error(`the Docker network ${name} has no subnet`);
  return subnets;
}
