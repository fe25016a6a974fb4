// What the host says about itself: memory (/proc/meminfo), temperature (/sys/class/thermal), disk (statfs) and
// uptime. In the node's container these are the host's own figures: /proc/meminfo, sysfs and sysinfo are not
// limited to the container. Parsers are pure; readers never throw (a reading that cannot be had is undefined).
import { readdirSync, readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { freemem, totalmem, uptime } from 'node:os';
import path from 'node:path';

export type MemoryReading = { totalBytes: number; availableBytes: number };
export type Temperature = { zone: string; type: string; celsius: number };
export type DiskReading = { path: string; totalBytes: number; availableBytes: number; usedBytes: number };

/** MemTotal and MemAvailable (kB) from /proc/meminfo's text; undefined when either is missing (kernels before 3.14). */
export function parseMeminfo(text: string): MemoryReading | undefined {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const totalBytes = kb('MemTotal');
  const availableBytes = kb('MemAvailable');
  return totalBytes !== undefined && availableBytes !== undefined ? { totalBytes, availableBytes } : undefined;
}

/** Memory as the kernel counts what programs can still get (MemAvailable), else Node's total and free. */
export function readMemory(meminfo = '/proc/meminfo'): MemoryReading {
  try {
    const parsed = parseMeminfo(readFileSync(meminfo, 'utf8'));
    if (parsed) return parsed;
  } catch {
    // not Linux, or /proc not mounted
  }
  return { totalBytes: totalmem(), availableBytes: freemem() };
}

/** A thermal zone's `temp` file: millidegrees Celsius. Undefined for anything else, or a value no board reaches. */
export function parseThermal(text: string): number | undefined {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return undefined;
  const celsius = Number(t) / 1000;
  return celsius > -40 && celsius < 150 ? Math.round(celsius * 10) / 10 : undefined;
}

/** Every thermal zone with a readable temperature (a Raspberry Pi has `cpu-thermal`); empty when the host has none. */
export function readTemperatures(root = '/sys/class/thermal'): Temperature[] {
  let zones: string[];
  try {
    zones = readdirSync(root).filter((z) => /^thermal_zone\d+$/.test(z));
  } catch {
    return [];
  }
  const out: Temperature[] = [];
  for (const zone of zones.sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)))) {
    try {
      const celsius = parseThermal(readFileSync(path.join(root, zone, 'temp'), 'utf8'));
      if (celsius === undefined) continue;
      let type = zone;
      try {
        type = readFileSync(path.join(root, zone, 'type'), 'utf8').trim() || zone;
      } catch {
        // the zone's name is enough
      }
      out.push({ zone, type, celsius });
    } catch {
      // a zone whose sensor is off refuses the read (EINVAL / ENODATA): skip it
    }
  }
  return out;
}

/** A filesystem's size from statfs: what is left for the node (bavail, not root's reserve) and what is used. */
export function diskFromStatfs(p: string, s: { bsize: number; blocks: number; bfree: number; bavail: number }): DiskReading {
  return { path: p, totalBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize };
}

/** The filesystem holding `p`; undefined when `p` is not there. */
export async function readDisk(p: string): Promise<DiskReading | undefined> {
  try {
    return diskFromStatfs(p, await statfs(p));
  } catch {
    return undefined;
  }
}

/** Seconds since the host started. */
export const readUptime = (): number => uptime();
