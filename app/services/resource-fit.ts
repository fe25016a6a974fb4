// What a recipe version says it needs (compose `deploy.resources`) against what this node has free right now.
import { statfsSync } from 'node:fs';
import { readMemory } from '../adapters/host/readings.ts';
import { parse } from 'yaml';

export type ServiceResources = { service: string; copies: number; reservation: number | null; limit: number | null };
export type NodeCapacity = { memTotal: number; memAvailable: number; diskFree: number; diskTotal: number; diskPath: string };
export type ResourceFit = { services: ServiceResources[]; reserved: number; limited: number; declared: boolean; capacity: NodeCapacity; warnings: string[] };

/** Below this much free disk an install is risky: images, volumes and logs all grow. */
export const MIN_DISK_FREE = 2 * 1024 ** 3;

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Compose memory sizes: a byte count or `512M`, `1.5g`, `256mb`, `1gib`. */
export function parseMemory(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt])?(?:i?b)?\s*$/i.exec(value);
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

type ComposeService = { deploy?: { mode?: string; replicas?: number; resources?: { reservations?: { memory?: unknown }; limits?: { memory?: unknown } } } };

export function resourcesIn(composeText: string): ServiceResources[] {
  const doc = parse(composeText) as { services?: Record<string, ComposeService> } | null;
  return Object.entries(doc?.services ?? {}).map(([service, s]) => ({
    service,
    // A global service runs one task on this (single) node; replicated ones run `replicas` tasks.
    copies: s?.deploy?.mode === 'global' ? 1 : Math.max(0, Number(s?.deploy?.replicas ?? 1)) || 0,
    reservation: parseMemory(s?.deploy?.resources?.reservations?.memory),
    limit: parseMemory(s?.deploy?.resources?.limits?.memory),
  }));
}

/** Memory of the machine (what programs can still get, as the kernel counts it) and free disk where the node keeps its
 *  data (the same disk as Docker's, on a node). */
export function nodeCapacity(diskPath: string): NodeCapacity {
  const fs = statfsSync(diskPath);
  const memory = readMemory();
  return { memTotal: memory.totalBytes, memAvailable: memory.availableBytes, diskFree: fs.bavail * fs.bsize, diskTotal: fs.blocks * fs.bsize, diskPath };
}

export const formatBytes = (n: number): string => {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
};

export function resourceFit(services: ServiceResources[], capacity: NodeCapacity): ResourceFit {
  const sum = (pick: (s: ServiceResources) => number | null) => services.reduce((t, s) => t + (pick(s) ?? 0) * s.copies, 0);
  const reserved = sum((s) => s.reservation);
  const limited = sum((s) => s.limit ?? s.reservation);
  const warnings: string[] = [];
  if (reserved > capacity.memAvailable) {
    warnings.push(`It reserves ${formatBytes(reserved)} of memory, but only ${formatBytes(capacity.memAvailable)} is free now: the swarm may not start it.`);
  } else if (limited > capacity.memAvailable) {
    warnings.push(`Under load it may use up to ${formatBytes(limited)} of memory; only ${formatBytes(capacity.memAvailable)} is free now.`);
  }
  if (capacity.diskFree < MIN_DISK_FREE) warnings.push(`Only ${formatBytes(capacity.diskFree)} of disk is free: its images and data may not fit.`);
  return { services, reserved, limited, declared: services.some((s) => s.reservation !== null || s.limit !== null), capacity, warnings };
}
