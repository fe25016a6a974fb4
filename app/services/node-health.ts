// The figures a steward of a small server looks at: this server's disks (the node's data and the ZIM folder), memory,
// uptime and temperature, and each app's CPU and memory on it. Read only when a panel asks, and kept for a few
// seconds, so that open pages refreshing together cost one reading (Docker's stats take a second per container).
import type Docker from 'dockerode';
import { stackUsage, type StackUsage } from '../adapters/docker/stats.ts';
import { readDisk, readMemory, readTemperatures, readUptime, type DiskReading, type MemoryReading, type Temperature } from '../adapters/host/readings.ts';
import { formatBytes } from './resource-fit.ts';

export type NodeReadings = {
  disks: { label: string; path: string; reading: DiskReading | undefined }[];
  memory: MemoryReading;
  uptimeSeconds: number;
  temperatures: Temperature[];
  at: number;
};
export type AppReadings = StackUsage & { at: number };

/** How long a reading is reused. */
export const KEEP_MS = 10_000;

export type HostReaders = {
  disk: (p: string) => Promise<DiskReading | undefined>;
  memory: () => MemoryReading;
  uptime: () => number;
  temperatures: () => Temperature[];
  stack: (stack: string) => Promise<StackUsage>;
};

/** A reading kept for KEEP_MS; callers that ask while one is under way share it. */
function kept<T>(now: () => number, read: () => Promise<T>) {
  let value: { at: number; p: Promise<T> } | undefined;
  return () => {
    if (!value || now() - value.at >= KEEP_MS) {
      const p = read();
      value = { at: now(), p };
      p.catch(() => (value = undefined)); // a failure is not kept
    }
    return value.p;
  };
}

export function nodeHealth(deps: { docker: Docker; dataDir: string; zimRoot: string; now: () => number; readers?: Partial<HostReaders> }) {
  const read: HostReaders = {
    disk: readDisk,
    memory: () => readMemory(),
    uptime: readUptime,
    temperatures: () => readTemperatures(),
    stack: (stack) => stackUsage(deps.docker, stack),
    ...deps.readers,
  };
  const node = kept(deps.now, async (): Promise<NodeReadings> => {
    const places = [
      { label: 'The node’s data', path: deps.dataDir },
      { label: 'ZIM files', path: deps.zimRoot },
    ];
    const disks = await Promise.all(places.map(async (d) => ({ ...d, reading: await read.disk(d.path) })));
    return { disks, memory: read.memory(), uptimeSeconds: read.uptime(), temperatures: read.temperatures(), at: deps.now() };
  });
  const apps = new Map<string, () => Promise<AppReadings>>();

  return {
    node,
    /** The app's running containers on this node, summed. */
    app(stack: string): Promise<AppReadings> {
      if (apps.size > 200) apps.clear(); // stacks come and go: the map never grows past a few hundred
      let get = apps.get(stack);
      if (!get) apps.set(stack, (get = kept(deps.now, async () => ({ ...(await read.stack(stack)), at: deps.now() }))));
      return get();
    },
  };
}
export type NodeHealth = ReturnType<typeof nodeHealth>;

// ---- words

/** "3 days 4 hours", "5 hours 12 minutes", "8 minutes". */
export function describeUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days) return hours ? `${unit(days, 'day')} ${unit(hours, 'hour')}` : unit(days, 'day');
  if (hours) return minutes ? `${unit(hours, 'hour')} ${unit(minutes, 'minute')}` : unit(hours, 'hour');
  return unit(minutes, 'minute');
}

/** "12.5 GB free of 29.3 GB (57 % used)". */
export function describeDisk(d: DiskReading): string {
  const used = d.totalBytes ? Math.round((d.usedBytes / (d.usedBytes + d.availableBytes)) * 100) : 0;
  return `${formatBytes(d.availableBytes)} free of ${formatBytes(d.totalBytes)} (${used} % used)`;
}

/** "1.2 GB free of 3.8 GB". */
export const describeMemory = (m: MemoryReading): string => `${formatBytes(m.availableBytes)} free of ${formatBytes(m.totalBytes)}`;

/** The hottest zone's temperature (a Pi throttles at 80–85 °C), or "not available" when the host exposes none. */
export function describeTemperature(zones: Temperature[]): { text: string; hot: boolean } {
  if (!zones.length) return { text: 'not available on this server', hot: false };
  const top = zones.reduce((a, b) => (b.celsius > a.celsius ? b : a));
  const hot = top.celsius >= 80;
  return { text: `${top.celsius.toFixed(1)} °C${zones.length > 1 ? ` (${top.type}, the warmest of ${zones.length})` : ''}${hot ? ': hot, the CPU may slow down' : ''}`, hot };
}

/** "3 % of this server's CPU" — below 1 %, "under 1 %". */
export const describeCpu = (percent: number): string => (percent > 0 && percent < 1 ? 'under 1 %' : `${Math.round(percent)} %`) + ' of this server’s CPU';
