// Which peers may speak for a client (X-Forwarded-For, -Proto, -Host): the proxies TRUST_PROXY names, nothing else.
// Express asks `trusts(address)` for the socket's peer and then for each forwarded hop, right to left.
import { BlockList, isIP } from 'node:net';
import type Docker from 'dockerode';
import type { TrustProxy } from '../config.ts';
import type { Logger } from '../log.ts';
import { networkSubnets } from '../adapters/docker/networks.ts';

const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const RETRY_MS = 30_000;

export type TrustedProxies = {
  trusts(address: string): boolean;
  /** Settles once every Docker network named is resolved (at once when none is). */
  ready: Promise<void>;
  /** The subnets trusted now, for the log and for tests. */
  ranges(): string[];
  stop(): void;
};

/** `::ffff:10.0.0.2` (an IPv4 peer on a dual-stack socket) is `10.0.0.2`. */
function plain(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function addRange(list: BlockList, range: string): void {
  const [ip, prefix] = range.split('/');
  const family = isIP(ip!) === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) list.addAddress(ip!, family);
  else list.addSubnet(ip!, Number(prefix), family);
}

export function trustedProxies(spec: TrustProxy, docker: Docker, log: Logger): TrustedProxies {
  const ranges = spec.addresses.flatMap((a) => NAMED[a] ?? [a]);
  let list = new BlockList();
  for (const r of ranges) addRange(list, r);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  // Until Docker answers, a named network's peers are not trusted: clients then look like the proxy, never the reverse.
  const resolveNetworks = async (): Promise<void> => {
    const pending = new Set(spec.dockerNetworks);
    while (pending.size && !stopped) {
      for (const name of [...pending]) {
        try {
          const subnets = await networkSubnets(docker, name);
          const next = new BlockList();
          for (const r of [...ranges, ...subnets]) addRange(next, r);
          ranges.push(...subnets);
          list = next;
          pending.delete(name);
          log.info({ network: name, subnets }, 'trusting X-Forwarded-* from this Docker network');
        } catch (err) {
          log.warn({ network: name, err: (err as Error).message }, `cannot read the Docker network's subnets: trying again in ${RETRY_MS / 1000} s`);
        }
      }
      if (pending.size && !stopped) await new Promise<void>((resolve) => (timer = setTimeout(resolve, RETRY_MS)).unref());
    }
  };

  return {
    trusts(address) {
      const ip = plain(address);
      const family = isIP(ip);
      return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
    ready: resolveNetworks(),
    ranges: () => [...ranges],
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
