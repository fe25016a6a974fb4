import { describe, expect, it } from 'vitest';
import { formatBytes, parseMemory, resourceFit, resourcesIn, MIN_DISK_FREE } from '../../app/services/resource-fit.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const compose = `
services:
  app:
    image: x
    deploy:
      replicas: 2
      resources:
        reservations: { memory: 256M }
        limits: { memory: 1G }
  db:
    image: y
    deploy:
      mode: global
      resources:
        limits: { memory: 512mb }
  worker:
    image: z
`;

describe('resource fit', () => {
  it('reads compose memory sizes', () => {
    expect(parseMemory('512M')).toBe(512 * MiB);
    expect(parseMemory('1.5g')).toBe(1.5 * GiB);
    expect(parseMemory('256mib')).toBe(256 * MiB);
    expect(parseMemory(1024)).toBe(1024);
    expect(parseMemory('lots')).toBeNull();
    expect(parseMemory(undefined)).toBeNull();
  });

  it('adds up reservations and limits per task', () => {
    const services = resourcesIn(compose);
    expect(services).toEqual([
      { service: 'app', copies: 2, reservation: 256 * MiB, limit: GiB },
      { service: 'db', copies: 1, reservation: null, limit: 512 * MiB },
      { service: 'worker', copies: 1, reservation: null, limit: null },
    ]);
    const fit = resourceFit(services, { memTotal: 8 * GiB, memAvailable: 4 * GiB, diskFree: 50 * GiB, diskTotal: 100 * GiB, diskPath: '/' });
    expect(fit.reserved).toBe(512 * MiB);
    expect(fit.limited).toBe(2.5 * GiB);
    expect(fit.declared).toBe(true);
    expect(fit.warnings).toEqual([]);
  });

  it('warns when memory or disk is short', () => {
    const services = resourcesIn(compose);
    const small = resourceFit(services, { memTotal: GiB, memAvailable: 300 * MiB, diskFree: MIN_DISK_FREE - 1, diskTotal: 8 * GiB, diskPath: '/' });
    expect(small.warnings[0]).toMatch(/reserves 512 MB of memory, but only 300 MB is free/);
    expect(small.warnings[1]).toMatch(/of disk is free/);
    const tight = resourceFit(services, { memTotal: 4 * GiB, memAvailable: GiB, diskFree: 10 * GiB, diskTotal: 20 * GiB, diskPath: '/' });
    expect(tight.warnings).toEqual(['Under load it may use up to 2.5 GB of memory; only 1.0 GB is free now.']);
    expect(formatBytes(1536)).toBe('1.5 KB');
  });
});
