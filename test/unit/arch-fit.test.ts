// CPU-architecture fit, pure parts: matching rules, verdicts, badge text, reference checks, error mapping.
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  nodePlatform,
  describeDaemonError,
  formatPlatform,
  normalizePlatform,
  parseImageRef,
  platformFromArch,
  type Platform,
} from '../../app/adapters/docker/platforms.ts';
import { archFitService, imageVerdict, label, overallVerdict, platformRuns, type Fit } from '../../app/services/arch-fit.ts';
import type { ImagePlatformsRow, ImagePlatformsStore } from '../../app/store/image-platforms.ts';

const p = (s: string): Platform => {
  const [architecture, variant] = s.split('/');
  return variant ? { os: 'linux', architecture: architecture!, variant } : { os: 'linux', architecture: architecture! };
};
const AMD64 = platformFromArch('x86_64');
const ARM64 = platformFromArch('aarch64');
const ARMV7 = platformFromArch('armv7l');
const ARMV6 = platformFromArch('armv6l');

describe('node platform from the daemon', () => {
  it('maps uname spellings to OCI names', () => {
    expect(platformFromArch('x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(platformFromArch('aarch64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(platformFromArch('armv7l')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(platformFromArch('armv6l')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(platformFromArch('riscv64')).toEqual({ os: 'linux', architecture: 'riscv64' });
  });

  it('normalizes image platforms without inventing variants', () => {
    expect(normalizePlatform({ os: 'Linux', architecture: 'ARM64' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: '8' })).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(normalizePlatform({ os: 'linux', architecture: 'aarch64' })).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm' })).toEqual({ os: 'linux', architecture: 'arm' });
  });

  it('formats platforms briefly', () => {
    expect(formatPlatform(p('amd64'))).toBe('amd64');
    expect(formatPlatform(p('arm64/v8'))).toBe('arm64');
    expect(formatPlatform(p('arm/v7'))).toBe('arm/v7');
    expect(formatPlatform({ os: 'windows', architecture: 'amd64' })).toBe('windows/amd64');
  });
});

describe('platform matching', () => {
  it('amd64 runs amd64 only', () => {
    expect(platformRuns(AMD64, p('amd64'))).toBe(true);
    expect(platformRuns(AMD64, p('386'))).toBe(false);
    expect(platformRuns(AMD64, p('arm64'))).toBe(false);
    expect(platformRuns(AMD64, { os: 'windows', architecture: 'amd64' })).toBe(false);
  });

  it('arm64 runs arm64 without a variant or v8', () => {
    expect(platformRuns(ARM64, p('arm64'))).toBe(true);
    expect(platformRuns(ARM64, p('arm64/v8'))).toBe(true);
    expect(platformRuns(ARM64, p('arm64/v9'))).toBe(false);
    expect(platformRuns(ARM64, p('arm/v7'))).toBe(false);
    expect(platformRuns(ARM64, p('amd64'))).toBe(false);
  });

  it('arm/v7 runs v7, v6 and v5 but not v8 or arm64', () => {
    for (const v of ['arm/v7', 'arm/v6', 'arm/v5', 'arm']) expect(platformRuns(ARMV7, p(v)), v).toBe(true);
    expect(platformRuns(ARMV7, p('arm/v8'))).toBe(false);
    expect(platformRuns(ARMV7, p('arm64/v8'))).toBe(false);
    expect(platformRuns(ARMV7, p('arm64'))).toBe(false);
  });

  it('arm/v6 does not run v7 (nor an arm image without a variant, taken as v7)', () => {
    expect(platformRuns(ARMV6, p('arm/v6'))).toBe(true);
    expect(platformRuns(ARMV6, p('arm/v5'))).toBe(true);
    expect(platformRuns(ARMV6, p('arm/v7'))).toBe(false);
    expect(platformRuns(ARMV6, p('arm'))).toBe(false);
  });

  it('an image runs when any of its platforms does', () => {
    expect(imageVerdict(ARM64, [p('amd64'), p('arm64/v8')])).toBe('runs');
    expect(imageVerdict(ARMV7, [p('amd64'), p('arm64/v8')])).toBe('not-for-this-cpu');
    expect(imageVerdict(ARMV7, [])).toBe('unknown');
  });
});

describe('verdicts and badge text', () => {
  const node = AMD64;
  const fit = (services: Fit['services']): Fit => ({ verdict: overallVerdict(services), node, services });

  it('runs only when every service runs', () => {
    const f = fit([
      { service: 'app', image: 'a:1', verdict: 'runs', platforms: [p('amd64')] },
      { service: 'db', image: 'b:1', verdict: 'runs', platforms: [p('amd64')] },
    ]);
    expect(f.verdict).toBe('runs');
    expect(label(f)).toBe('runs here');
  });

  it('one service that cannot run decides, even beside unknown ones', () => {
    const f = fit([
      { service: 'app', image: 'a:1', verdict: 'unknown', reason: 'registry unreachable (connection refused)' },
      { service: 'db', image: 'b:1', verdict: 'not-for-this-cpu', platforms: [p('arm64/v8'), p('arm/v7')] },
    ]);
    expect(f.verdict).toBe('not-for-this-cpu');
    expect(label(f)).toBe('not for this CPU: db (arm64, arm/v7 only)');
  });

  it('unknown or unchecked makes the whole unknown, with the reason', () => {
    const f = fit([
      { service: 'app', image: 'a:1', verdict: 'runs', platforms: [p('amd64')] },
      { service: 'db', image: 'b:1', verdict: 'unknown', reason: 'registry unreachable (connection refused)' },
    ]);
    expect(f.verdict).toBe('unknown');
    expect(label(f)).toBe('unknown: registry unreachable (connection refused)');
    const g = fit([
      { service: 'app', image: 'a:1', verdict: 'unchecked', reason: 'not checked yet' },
      { service: 'db', image: 'b:1', verdict: 'unknown', reason: 'not found in the registry (manifest unknown)' },
    ]);
    expect(g.verdict).toBe('unknown');
    expect(label(g)).toBe('unknown: app: not checked yet; db: not found in the registry (manifest unknown)');
    expect(overallVerdict([])).toBe('unknown');
  });
});

describe('image references', () => {
  it('accepts the shapes recipes use', () => {
    expect(parseImageRef('nginx')).toEqual({ name: 'nginx', tag: null, digest: null });
    expect(parseImageRef('ghcr.io/kiwix/kiwix-serve:3.7.0')).toEqual({ name: 'ghcr.io/kiwix/kiwix-serve', tag: '3.7.0', digest: null });
    expect(parseImageRef('127.0.0.1:5000/multi:1')).toEqual({ name: '127.0.0.1:5000/multi', tag: '1', digest: null });
    expect(parseImageRef('localhost:5000/a/b__c-d.e:v1.0-RC')).toMatchObject({ tag: 'v1.0-RC' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseImageRef(`postgres:16@${d}`)).toEqual({ name: 'postgres', tag: '16', digest: d });
    expect(parseImageRef(`postgres@${d}`)).toEqual({ name: 'postgres', tag: null, digest: d });
  });

  it('refuses anything else', () => {
    for (const bad of [
      '"; rm -rf /',
      'nginx; rm -rf /',
      'nginx:1 --help',
      ' nginx',
      'nginx:1\n',
      'Evil/x:1', // Docker would take an uppercase first part as a registry host
      'EVIL.example.com/x:1',
      'registry.example.com/Library/nginx',
      '../../containers/json',
      'a/../b',
      'nginx/json?x=1',
      'nginx#x',
      'a//b',
      '-a',
      'a:',
      'a@sha256:abc',
      `a@sha512:${'a'.repeat(128)}`,
      'a:-tag',
      'x'.repeat(300),
      '',
      'nginx:${VERSION}',
    ])
      expect(parseImageRef(bad), bad).toBeNull();
  });
});

describe('daemon errors', () => {
  const e = (statusCode: number, message: string) => describeDaemonError(Object.assign(new Error('x'), { statusCode, json: { message } }));
  it('maps what the daemon says to a short reason', () => {
    expect(e(404, 'manifest unknown: manifest unknown').reason).toBe('not found in the registry (manifest unknown)');
    expect(e(500, 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused').reason).toBe('registry unreachable (connection refused)');
    expect(e(500, 'Get "https://x.invalid/v2/": dial tcp: lookup x.invalid on 10.0.0.1:53: no such host').reason).toBe('registry unreachable (no such host)');
    expect(e(500, 'Get "http://127.0.0.1:9/v2/": context deadline exceeded').kind).toBe('timeout');
    expect(e(401, 'unauthorized: authentication required').kind).toBe('unauthorized');
    expect(describeDaemonError(Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' })).reason).toBe('Docker does not answer');
  });
});

describe('checking many images', () => {
  it('asks at most 4 at once, each reference once, and stores every answer', async () => {
    const rows = new Map<string, ImagePlatformsRow>();
    const store = {
      imagePlatforms: {
        get: (ref: string) => rows.get(ref),
        byDigest: (digest: string) => [...rows.values()].find((r) => r.digest === digest && r.platforms),
        put: (r: ImagePlatformsRow) => void rows.set(r.ref, r),
      } as unknown as ImagePlatformsStore,
    };
    let open = 0;
    let most = 0;
    const asked: string[] = [];
    const docker = {
      info: async () => ({ Architecture: 'x86_64', OSType: 'linux' }),
      version: async () => ({ Arch: 'amd64', Os: 'linux' }),
      modem: {
        dial(opts: { path: string }, cb: (err: Error | null, data: unknown) => void) {
          asked.push(opts.path);
          open += 1;
          most = Math.max(most, open);
          setTimeout(() => {
            open -= 1;
            const arch = opts.path.includes('arm') ? 'arm64' : 'amd64';
            cb(null, { Descriptor: { digest: `sha256:${opts.path.length.toString(16).padStart(64, '0')}` }, Platforms: [{ os: 'linux', architecture: arch }] });
          }, 20);
        },
      },
    } as unknown as Docker;
    const fit = archFitService({ docker, store, now: () => 1 });
    const images = Array.from({ length: 10 }, (_, i) => ({ service: `s${i}`, image: `reg.example/img${i % 8}:1` }));
    images.push({ service: 'db', image: 'reg.example/arm-only:1' });
    const got = await fit.check(images);
    expect(most).toBe(4);
    expect(asked).toHaveLength(9);
    expect(new Set(asked).size).toBe(9);
    expect(rows.size).toBe(9);
    expect(got.node).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(got.verdict).toBe('not-for-this-cpu');
    expect(label(got)).toBe('not for this CPU: db (arm64 only)');
    expect(fit.cached(images)).toEqual(got);
  });
});

describe("this node's CPU", () => {
  const daemon = (Arch: string | undefined, Architecture: string) => ({ version: async () => ({ Arch, Os: 'linux' }), info: async () => ({ Architecture, OSType: 'linux' }) }) as unknown as Docker;
  it('is what the daemon pulls for, not what the kernel says', async () => {
    // 32-bit Raspberry Pi OS on a 64-bit kernel: uname says aarch64, Docker pulls arm/v7.
    expect(await nodePlatform(daemon('arm', 'aarch64'))).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(await nodePlatform(daemon('arm', 'armv6l'))).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(await nodePlatform(daemon('arm64', 'aarch64'))).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(await nodePlatform(daemon('amd64', 'x86_64'))).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(await nodePlatform(daemon(undefined, 'x86_64'))).toEqual({ os: 'linux', architecture: 'amd64' });
  });
});
