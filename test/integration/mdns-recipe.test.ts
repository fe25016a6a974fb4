// recipe/compose.mdns.yml's responder on the real swarm: its `mdns` service, as the recipe writes it (the swarm's
// `host` network, the environment, the healthcheck command), deployed from a local Node 24 base with this worktree
// mounted in place of the node's image (`node app/cli.ts` for `node dist/app/cli.js`). From the host, an mDNS
// question for an app's `.local` name on the host's docker0 address is answered with that address; another node's
// name is not. Traffic stays on this machine (docker0 is a local bridge).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { resolveLocal } from '../../app/adapters/mdns/responder.ts';
import { ensureBaseImage } from '../support/image.ts';
import { within } from '../support/poll.ts';
import { haveDocker } from '../support/requirements.ts';
import { REPO_ROOT } from '../support/server.ts';
import { removeStack } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 120_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const STACK = `lores_mdns_${id}`;
const NODE_NAME = `t${id}`;
const NEARBY_PORT = 15380 + Math.floor(Math.random() * 1000);

type MdnsService = { image: string; command: string[]; environment: string[]; networks: string[]; healthcheck: { test: string[]; interval?: string; start_period?: string }; deploy: unknown; working_dir?: string; volumes?: unknown[] };

describe.skipIf(!dockerThere)('the recipe’s mDNS responder on the swarm’s host network', () => {
  let address: string;
  let dir: string;

  beforeAll(async () => {
    address = (await execa('docker', ['network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}'])).stdout.trim();
    const image = await ensureBaseImage();
    const recipe = parse(readFileSync(path.join(REPO_ROOT, 'recipe', 'compose.mdns.yml'), 'utf8')) as { services: { mdns: MdnsService }; networks: Record<string, unknown> };
    const env: Record<string, string> = { LAN_ADDRESS: address, NODE_NAME, LOG_LEVEL: 'info', LAN_PORT: '8080', MDNS_NEARBY_PORT: String(NEARBY_PORT) };
    const mdns = recipe.services.mdns;
    // The recipe's service, with this worktree for the image; its healthcheck probed every 3 s instead of 60.
    const fromSource = (argv: string[]) => argv.map((a) => (a === 'dist/app/cli.js' ? '/src/app/cli.ts' : a));
    const service: MdnsService = {
      ...mdns,
      image,
      command: fromSource(mdns.command),
      environment: mdns.environment.map((e) => e.replace(/\$\{(\w+)[^}]*\}/g, (_, k: string) => env[k] ?? '')),
      healthcheck: { ...mdns.healthcheck, test: fromSource(mdns.healthcheck.test), interval: '3s', start_period: '5s' },
      working_dir: '/tmp',
      volumes: [{ type: 'bind', source: REPO_ROOT, target: '/src', read_only: true }],
    };
    dir = mkdtempSync(path.join(tmpdir(), 'mdns-stack-'));
    const file = path.join(dir, 'compose.yml');
    writeFileSync(file, stringify({ version: '3.8', services: { mdns: service }, networks: recipe.networks }));
    await execa('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', file, STACK]);
  }, 120_000);

  afterAll(async () => {
    await removeStack(STACK);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('answers an app’s .local name with the host’s address, and becomes healthy by its own check', async () => {
    const t0 = Date.now();
    const { value } = await within(`kiwix-${NODE_NAME}.local to resolve by mDNS`, 60_000, () => resolveLocal(`kiwix-${NODE_NAME}.local`, { address, timeoutMs: 2000 }), {
      detail: () => `service logs: ${STACK}_mdns`,
    });
    expect(value).toBe(address);
    console.log(`mdns_service_to_answer_s: ${((Date.now() - t0) / 1000).toFixed(1)}`);
    // Only this node's names: another node's is left to that node.
    expect(await resolveLocal(`kiwix-x${NODE_NAME}.local`, { address, timeoutMs: 1500 })).toBeUndefined();
    // The swarm ran it on the host's network, and its healthcheck (cli.js mdns --check) passes there.
    const health = await within('the responder’s task to be healthy', 60_000, async () => {
      const ids = (await execa('docker', ['ps', '-q', '-f', `label=com.docker.swarm.service.name=${STACK}_mdns`])).stdout.trim().split('\n').filter(Boolean);
      if (!ids.length) return undefined;
      const state = JSON.parse((await execa('docker', ['inspect', ids[0]!, '--format', '{{json .State.Health.Status}} {{json .HostConfig.NetworkMode}}'])).stdout.replace(' ', ',').replace(/^/, '[').replace(/$/, ']')) as [string, string];
      return state[0] === 'healthy' ? state : undefined;
    });
    expect(health.value).toEqual(['healthy', 'host']);
  });

  it('serves the nodes it finds nearby on the host’s address, where the node on the overlay network reads them', async () => {
    // The recipe's app service gets the same address and port as its MDNS_NEARBY_URL.
    const recipe = parse(readFileSync(path.join(REPO_ROOT, 'recipe', 'compose.mdns.yml'), 'utf8')) as { services: { app: { environment: string[] } } };
    expect(recipe.services.app.environment).toContain("MDNS_NEARBY_URL=http://${LAN_ADDRESS:?set LAN_ADDRESS to the host's LAN IPv4 address}:${MDNS_NEARBY_PORT:-5380}/nearby");
    const { value } = await within('the responder’s list of nodes nearby', 30_000, async () => {
      const res = await fetch(`http://${address}:${NEARBY_PORT}/nearby`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.status === 200 && ((await res.json()) as unknown);
    });
    // Alone on this LAN: an empty list, as JSON (the node leaves its own name out).
    expect(value).toEqual([]);
  });
});
