// dockerode without its SSH and gRPC code (app/adapters/docker/lean-load.ts), in a fresh Node process as
// server.ts starts it: those modules are never loaded, and using them fails loudly instead of silently.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/server.ts';

const PROBE = `
import './app/adapters/docker/lean-load.ts';
import { createRequire } from 'node:module';
const { default: Docker } = await import('dockerode');
const loaded = Object.keys(createRequire(import.meta.url).cache);
const ssh = await new Docker({ protocol: 'ssh', host: 'example.invalid' }).ping().then(() => 'answered', (e) => e.message);
console.log(JSON.stringify({ dockerode: loaded.some((f) => f.includes('/dockerode/')), unused: loaded.filter((f) => /ssh2|grpc|proto-loader|protobufjs/.test(f) && !f.startsWith('lores-unused:')), ssh }));
`;

describe('dockerode, loaded lean', () => {
  it('loads without SSH and gRPC, and says so if SSH is ever asked for', async () => {
    const { stdout } = await execa(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: REPO_ROOT });
    expect(JSON.parse(stdout)).toEqual({ dockerode: true, unused: [], ssh: 'LoRes Node does not load ssh2: it reaches Docker over its Unix socket only' });
  });
});
