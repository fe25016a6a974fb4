// The bench's own stacks on the shared swarm: deployed in parallel batches, always removed, by exact name only.
import { execa } from 'execa';
import { coopCloudStack, deployStack } from '../test/support/swarm.ts';
import { sleep } from './stats.ts';

export function benchStackNames(count: number): string[] {
  const run = `${Date.now().toString(36).slice(-4)}${Math.random().toString(36).slice(2, 5)}`;
  return Array.from({ length: count }, (_, i) => `bench_${run}_${String(i + 1).padStart(2, '0')}`);
}

let inflight: Promise<unknown> = Promise.resolve();
let stopped = false;

/** Stops deployAll before its next batch and resolves once the batch under way has finished (so cleanup sees it all). */
export async function stopDeploying(): Promise<void> {
  stopped = true;
  await inflight;
}

/** Deploys `stacks` `batch` at a time; one labelled `app` service each, replicas 1. */
export async function deployAll(stacks: string[], batch: number, progress: (done: number) => void): Promise<void> {
  let done = 0;
  for (let i = 0; i < stacks.length && !stopped; i += batch) {
    const run = Promise.all(
      stacks.slice(i, i + batch).map(async (stack) => {
        const domain = `${stack.replaceAll('_', '-')}.bench.example.org`;
        await deployStack(stack, coopCloudStack(stack, { recipe: 'bench', version: '1.0.0+bench', domain }));
        done += 1;
      }),
    );
    inflight = run.catch(() => {});
    await run;
    progress(done);
  }
  if (stopped) throw new Error('deploying was stopped');
}

/** Removes exactly these stacks and waits (bounded) for their containers and networks to go. */
export async function removeAll(stacks: string[], timeoutMs = 90_000): Promise<{ leftovers: string[] }> {
  if (stacks.length === 0) return { leftovers: [] };
  const ours = new Set(stacks);
  // One `docker stack rm` per chunk of names keeps the command line short and the daemon busy in parallel.
  for (let i = 0; i < stacks.length; i += 25) {
    await execa('docker', ['stack', 'rm', ...stacks.slice(i, i + 25)], { reject: false });
  }
  const until = Date.now() + timeoutMs;
  let left: string[] = [];
  while (Date.now() < until) {
    const ps = await execa('docker', ['ps', '-a', '--format', '{{.Label "com.docker.stack.namespace"}}'], { reject: false });
    const services = await execa('docker', ['service', 'ls', '--format', '{{.Name}}'], { reject: false });
    const nets = await execa('docker', ['network', 'ls', '--format', '{{.Name}}'], { reject: false });
    const containersLeft = new Set(ps.stdout.split('\n').filter((s) => ours.has(s)));
    const servicesLeft = services.stdout.split('\n').filter((n) => stacks.some((s) => n.startsWith(`${s}_`)));
    const netsLeft = nets.stdout.split('\n').filter((n) => stacks.some((s) => n === `${s}_default`));
    left = [...containersLeft, ...servicesLeft, ...netsLeft];
    if (left.length === 0) return { leftovers: [] };
    if (servicesLeft.length) await execa('docker', ['service', 'rm', ...servicesLeft], { reject: false });
    // `docker stack rm` gives up on a network while a container is still attached: retry once they are gone.
    if (containersLeft.size === 0 && netsLeft.length) await execa('docker', ['network', 'rm', ...netsLeft], { reject: false });
    await sleep(500);
  }
  return { leftovers: left };
}
