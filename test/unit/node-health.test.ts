// "This server" and per-app figures: the host readings' parsers (meminfo, thermal zones, statfs), Docker's stats
// JSON, the words a steward reads, and the 10-second keep that makes a panel cheap.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { usageFromStats } from '../../app/adapters/docker/stats.ts';
import { diskFromStatfs, parseMeminfo, parseThermal, readDisk, readMemory, readTemperatures } from '../../app/adapters/host/readings.ts';
import { describeCpu, describeDisk, describeMemory, describeTemperature, describeUptime, KEEP_MS, nodeHealth } from '../../app/services/node-health.ts';

const work = mkdtempSync(path.join(tmpdir(), 'lores-health-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A Raspberry Pi 4 (4 GB) as its /proc/meminfo begins.
const PI_MEMINFO = `MemTotal:        3885396 kB
MemFree:          181732 kB
MemAvailable:    2764556 kB
Buffers:          112188 kB
Cached:          2404096 kB
SwapCached:            0 kB
`;

describe('/proc/meminfo', () => {
  it('reads MemTotal and MemAvailable, in bytes', () => {
    expect(parseMeminfo(PI_MEMINFO)).toEqual({ totalBytes: 3885396 * 1024, availableBytes: 2764556 * 1024 });
  });
  it('says nothing when MemAvailable is missing (kernels before 3.14) or the text is not meminfo', () => {
    expect(parseMeminfo('MemTotal:        3885396 kB\nMemFree:          181732 kB\n')).toBeUndefined();
    expect(parseMeminfo('')).toBeUndefined();
    expect(parseMeminfo('MemAvailable: lots\nMemTotal: 12 kB\n')).toBeUndefined();
  });
  it('falls back to Node’s own figures when the file is not there', () => {
    const m = readMemory(path.join(work, 'no-meminfo'));
    expect(m.totalBytes).toBeGreaterThan(0);
    expect(m.availableBytes).toBeGreaterThan(0);
    expect(m.availableBytes).toBeLessThanOrEqual(m.totalBytes);
  });
});

describe('thermal zones', () => {
  it('temp is in millidegrees Celsius', () => {
    expect(parseThermal('48312\n')).toBe(48.3);
    expect(parseThermal('-5000')).toBe(-5);
    expect(parseThermal('')).toBeUndefined();
    expect(parseThermal('n/a')).toBeUndefined();
    expect(parseThermal('250000')).toBeUndefined(); // no board runs at 250 °C: a broken sensor
  });

  it('reads every zone with a temperature, by number, named by its type; skips the rest', () => {
    const root = path.join(work, 'thermal');
    const zone = (name: string, files: Record<string, string>) => {
      mkdirSync(path.join(root, name), { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(path.join(root, name, f), text);
    };
    zone('thermal_zone10', { temp: '61000\n', type: 'gpu-thermal\n' });
    zone('thermal_zone0', { temp: '52615\n', type: 'cpu-thermal\n' });
    zone('thermal_zone2', { type: 'off-sensor\n' }); // no temp file
    zone('thermal_zone3', { temp: 'garbage', type: 'x' });
    zone('cooling_device0', { temp: '1' });
    expect(readTemperatures(root)).toEqual([
      { zone: 'thermal_zone0', type: 'cpu-thermal', celsius: 52.6 },
      { zone: 'thermal_zone10', type: 'gpu-thermal', celsius: 61 },
    ]);
    expect(readTemperatures(path.join(work, 'no-thermal'))).toEqual([]);
  });

  it('says "not available" when the host exposes none, the warmest otherwise, and warns when hot', () => {
    expect(describeTemperature([])).toEqual({ text: 'not available on this server', hot: false });
    expect(describeTemperature([{ zone: 'thermal_zone0', type: 'cpu-thermal', celsius: 52.6 }])).toEqual({ text: '52.6 °C', hot: false });
    const two = describeTemperature([{ zone: 'z0', type: 'cpu-thermal', celsius: 52.6 }, { zone: 'z1', type: 'gpu-thermal', celsius: 82 }]);
    expect(two).toEqual({ text: '82.0 °C (gpu-thermal, the warmest of 2): hot, the CPU may slow down', hot: true });
  });
});

describe('disks (statfs)', () => {
  it('size, what is left for the node (not root’s reserve) and what is used', () => {
    const d = diskFromStatfs('/srv/zims', { bsize: 4096, blocks: 1000, bfree: 300, bavail: 250 });
    expect(d).toEqual({ path: '/srv/zims', totalBytes: 4096_000, availableBytes: 1_024_000, usedBytes: 2_867_200 });
    expect(describeDisk(d)).toMatch(/free of .* \(74 % used\)$/); // 700 used of 950 a person can have, as df counts
  });
  it('reads a real folder, and nothing for one that is not there', async () => {
    const d = await readDisk(work);
    expect(d!.totalBytes).toBeGreaterThan(0);
    expect(d!.availableBytes).toBeLessThanOrEqual(d!.totalBytes);
    expect(await readDisk(path.join(work, 'missing'))).toBeUndefined();
  });
});

describe('Docker stats', () => {
  const sample = (over: Record<string, unknown> = {}) => ({
    cpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 40_000_000_000, online_cpus: 4 },
    precpu_stats: { cpu_usage: { total_usage: 1_800_000_000 }, system_cpu_usage: 36_000_000_000 },
    memory_stats: { usage: 150 * 2 ** 20, stats: { inactive_file: 50 * 2 ** 20 } },
    ...over,
  });
  it('CPU as a share of the whole machine, memory without the droppable page cache (cgroup v2)', () => {
    expect(usageFromStats(sample())).toEqual({ cpuPercent: 5, memoryBytes: 100 * 2 ** 20 });
  });
  it('cgroup v1 names the cache total_inactive_file', () => {
    expect(usageFromStats(sample({ memory_stats: { usage: 80 * 2 ** 20, stats: { total_inactive_file: 30 * 2 ** 20 } } })).memoryBytes).toBe(50 * 2 ** 20);
  });
  it('a container’s first sample has no earlier CPU reading: 0 %, not a made-up figure', () => {
    expect(usageFromStats(sample({ precpu_stats: { cpu_usage: { total_usage: 0 } } })).cpuPercent).toBe(0);
    expect(usageFromStats({})).toEqual({ cpuPercent: 0, memoryBytes: 0 });
  });
  it('in words', () => {
    expect(describeCpu(5.4)).toBe('5 % of this server’s CPU');
    expect(describeCpu(0.2)).toBe('under 1 % of this server’s CPU');
    expect(describeCpu(0)).toBe('0 % of this server’s CPU');
  });
});

describe('uptime and memory in words', () => {
  it('two units at most', () => {
    expect(describeUptime(59)).toBe('0 minutes');
    expect(describeUptime(60)).toBe('1 minute');
    expect(describeUptime(3 * 3600 + 12 * 60)).toBe('3 hours 12 minutes');
    expect(describeUptime(3600)).toBe('1 hour');
    expect(describeUptime(3 * 86_400 + 4 * 3600 + 59)).toBe('3 days 4 hours');
    expect(describeUptime(86_400)).toBe('1 day');
  });
  it('memory: free of total', () => {
    expect(describeMemory({ totalBytes: 4 * 2 ** 30, availableBytes: 2 ** 30 })).toMatch(/^1(\.0)? GB free of 4(\.0)? GB$/);
  });
});

describe('readings are kept 10 s, and asked only when a panel wants them', () => {
  it('one reading serves every panel within KEEP_MS; the next is fresh; a failure is not kept', async () => {
    let t = 1_000_000;
    let stackReads = 0;
    let diskReads = 0;
    let fail = false;
    const health = nodeHealth({
      docker: {} as Docker,
      dataDir: '/data',
      zimRoot: '/srv/zims',
      now: () => t,
      readers: {
        disk: async (p) => (diskReads++, diskFromStatfs(p, { bsize: 1, blocks: 10, bfree: 5, bavail: 5 })),
        memory: () => ({ totalBytes: 10, availableBytes: 5 }),
        uptime: () => 42,
        temperatures: () => [],
        stack: async () => {
          stackReads++;
          if (fail) throw new Error('Docker does not answer');
          return { containers: 1, cpuPercent: 1, memoryBytes: 1 };
        },
      },
    });
    expect(stackReads + diskReads).toBe(0); // nothing read until asked
    await Promise.all([health.app('kiwix'), health.app('kiwix'), health.node(), health.node()]);
    expect([stackReads, diskReads]).toEqual([1, 2]); // two disks, once
    t += KEEP_MS - 1;
    await health.app('kiwix');
    expect(stackReads).toBe(1);
    await health.app('other');
    expect(stackReads).toBe(2);
    t += 1;
    fail = true;
    await expect(health.app('kiwix')).rejects.toThrow(/Docker/);
    fail = false;
    expect((await health.app('kiwix')).containers).toBe(1);
    expect(stackReads).toBe(4);
    expect((await health.node()).disks.map((d) => d.label)).toEqual(['The node’s data', 'ZIM files']);
  });
});
