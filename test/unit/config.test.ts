import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../app/config.ts';

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.dockerSocket).toBe('/var/run/docker.sock');
    expect(c.adminPassword).toBeUndefined();
    expect(c.nodeDomain).toBe('');
  });

  it('has a floor for remote reads, 1 KB/s over 60 s unless set', () => {
    expect(loadConfig({}).readFloor).toEqual({ minBytesPerSecond: 1024, windowMs: 60_000 });
    expect(loadConfig({ NETWORK_FLOOR_BYTES_PER_SECOND: '0', NETWORK_FLOOR_SECONDS: '3' }).readFloor).toEqual({ minBytesPerSecond: 0, windowMs: 3000 });
    expect(() => loadConfig({ NETWORK_FLOOR_SECONDS: '0' })).toThrow('NETWORK_FLOOR_SECONDS');
    expect(() => loadConfig({ NETWORK_FLOOR_BYTES_PER_SECOND: 'fast' })).toThrow('NETWORK_FLOOR_BYTES_PER_SECOND');
  });

  it('reads ADMIN_PASSWORD_FILE like a Docker secret, without the trailing newline', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    writeFileSync(path.join(dir, 'pw'), 'a long secret value\n');
    expect(loadConfig({ ADMIN_PASSWORD_FILE: path.join(dir, 'pw') }).adminPassword).toBe('a long secret value');
  });

  it('trusts only loopback by default; TRUST_PROXY takes names, IPs, CIDRs and Docker networks', () => {
    expect(loadConfig({}).trustProxy).toEqual({ addresses: ['loopback'], dockerNetworks: [] });
    expect(loadConfig({ TRUST_PROXY: 'none' }).trustProxy).toEqual({ addresses: [], dockerNetworks: [] });
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.1.0/24, fd00::1, docker-network:proxy' }).trustProxy).toEqual({
      addresses: ['loopback', '10.0.1.0/24', 'fd00::1'],
      dockerNetworks: ['proxy'],
    });
  });

  it('ignores *_FILE variables it does not own', () => {
    expect(() => loadConfig({ SOMETHING_ELSE_FILE: '/nonexistent' })).not.toThrow();
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ NODE_DOMAIN: 'not a domain' }, 'NODE_DOMAIN'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ADMIN_PASSWORD_FILE: '/nonexistent/secret' }, 'ADMIN_PASSWORD_FILE: cannot read /nonexistent/secret'],
    [{ TRUST_PROXY: 'loopback, traefik' }, 'TRUST_PROXY: "traefik"'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'docker-network:' }, 'TRUST_PROXY'],
  ])('fails fast with a message naming the setting: %o', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });
});
