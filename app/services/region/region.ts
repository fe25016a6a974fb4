// A region of nodes: this node's identity and pairings, signed requests, the status it tells paired nodes (apps,
// ZIM holdings, free disk), the status it keeps of theirs (polled; the last copy when one is unreachable), nodes
// nearby on the LAN (mDNS), `.local` names for apps, and ZIM files fetched from a neighbour with their hash checked.
import { EventEmitter } from 'node:events';
import { existsSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { z } from 'zod';
import { listInstalled } from '../../adapters/abra/app-env.ts';
import type { LiveModel } from '../../adapters/docker/live-model.ts';
import { parseEntries, type ZimEntry } from '../../adapters/kiwix/opds.ts';
import type { Meta4 } from '../../adapters/kiwix/meta4.ts';
import { meta4For, opdsFeed } from '../../adapters/kiwix/opds-feed.ts';
import { NEARBY_KEPT_MS, startMdns, type Mdns, type Nearby } from '../../adapters/mdns/responder.ts';
import { readNearby } from '../../adapters/mdns/nearby-feed.ts';
import { peerJson } from '../../adapters/region/peer-http.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/index.ts';
import type { PeerRow } from '../../store/region.ts';
import { NODE_VERSION } from '../../version.ts';
import { appsFrom } from '../apps.ts';
import type { Actor, AuditLog } from '../audit.ts';
import { UserFacingError } from '../../errors.ts';
import { JobFailure } from '../jobs.ts';
import { kiwixApps } from '../zim/kiwix-apps.ts';
import { datedName, filesIn } from '../zim/library.ts';
import { fingerprint, nodeIdentity } from './identity.ts';
import { pairingService } from './pairing.ts';
import { checkGrant, checkSigned, grantQuery, NonceCache, signedHeaders, type SignedCheck } from './signed.ts';

export type RegionConfig = { nodeName: string; nodeUrl: string; lanAddress: string | null; nearbyUrl: string | null; localNamesUpstream: string; pollMs: number; port: number; abraDir: string; zimRoot: string; dataDir: string };

const appStatusSchema = z.object({
  stack: z.string().max(100),
  domain: z.string().max(253).nullable(),
  recipe: z.string().max(100).nullable(),
  version: z.string().max(100).nullable(),
  status: z.string().max(40),
  lanUrl: z.string().max(300).nullable(),
  internetUrl: z.string().max(300).nullable(),
});
const zimStatusSchema = z.object({
  fileName: z.string().max(200),
  title: z.string().max(200),
  language: z.string().max(40),
  date: z.string().max(20),
  size: z.number().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
});
export const nodeStatusSchema = z.object({
  id: z.string().max(40),
  name: z.string().max(64),
  version: z.string().max(40),
  apps: z.array(appStatusSchema).max(500),
  zims: z.array(zimStatusSchema).max(2000),
  freeDiskBytes: z.number().nullable(),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

export type PeerView = {
  id: string;
  name: string;
  url: string;
  fingerprint: string;
  reachable: boolean;
  /** When the kept status was received. */
  statusAt: number | null;
  error: string | null;
  status: NodeStatus | null;
};

/** `kiwix.library.example` → `kiwix`: the `<app>` in `<app>-<node>.local`. */
export const appLabel = (domain: string) => domain.split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]/g, '-');
export const localNameOf = (domain: string, nodeName: string) => `${appLabel(domain)}-${nodeName}.local`;
/**
 * Every name shaped like one of this node's app names (`<label>-<node>.local`). The stand-alone responder
 * (`cli.js mdns`, recipe/compose.mdns.yml) answers these without knowing which apps are turned on: it runs beside
 * the node, on the host's network, and the node itself routes only the names a steward turned on.
 */
export const anyLocalNameOf = (nodeName: string) => {
  const shape = new RegExp(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?-${nodeName.replace(/[^a-z0-9-]/g, '')}\\.local$`);
  return (name: string) => shape.test(name.toLowerCase());
};
const NEIGHBOUR_PATH = '/region/peer/zims/';
const GRANT_DAYS = 7;

export function regionService(deps: { store: Store; docker: Docker; model: LiveModel; audit: AuditLog; log: Logger; now: () => number; config: RegionConfig }) {
  const { store, now, config } = deps;
  const rs = store.region;
  const identity = nodeIdentity(rs, now);
  const self = { identity, name: () => config.nodeName, url: () => config.nodeUrl };
  const pairing = pairingService({ store: rs, self, audit: deps.audit, now });
  const nonces = new NonceCache();
  const events = new EventEmitter<{ change: [] }>();
  events.setMaxListeners(0);
  let mdns: Mdns | undefined;
  /** The nodes nearby as the mDNS responder's feed last gave them (deployed: the responder runs on the host's network). */
  let fed: Nearby[] = [];
  let timer: NodeJS.Timeout | undefined;
  const keyOf = (id: string) => rs.peer(id)?.publicKey;

  /** Installed apps with a domain, and whether a steward turned their `.local` name on. */
  function appsHere() {
    const on = new Set(rs.localNames());
    return appsFrom(deps.model, listInstalled(config.abraDir))
      .filter((a) => a.coopCloud)
      .map((a) => ({ ...a, localName: a.domain && on.has(a.stack) ? localNameOf(a.domain, config.nodeName) : null }));
  }

  /** The ZIM files in this node's Kiwix folders (each folder once), with the hash kept for each. */
  async function zimsHere() {
    const dirs = [...new Set(kiwixApps(config.abraDir, config.zimRoot).flatMap((a) => (a.zimDir ? [a.zimDir] : [])))];
    const out: { fileName: string; dir: string; size: number; sha256: string | null; source: string | null }[] = [];
    for (const dir of dirs) {
      const { zims } = await filesIn(dir).catch(() => ({ zims: [] }));
      for (const z of zims) {
        if (out.some((o) => o.fileName === z.fileName)) continue;
        const kept = rs.keptHash(z.fileName);
        // Only a file of the size its Metalink stated counts as verified; one replaced by hand does not.
        const verified = kept && kept.size === z.size ? kept : undefined;
        out.push({ fileName: z.fileName, dir, size: z.size, sha256: verified?.sha256 ?? null, source: verified?.source ?? null });
      }
    }
    return out;
  }

  const freeDisk = (): number | null => {
    for (const p of [config.zimRoot, config.dataDir]) {
      try {
        if (!existsSync(p)) continue;
        const fs = statfsSync(p);
        return fs.bavail * fs.bsize;
      } catch {
        /* next */
      }
    }
    return null;
  };

  async function localStatus(): Promise<NodeStatus> {
    const zims = await zimsHere();
    return {
      id: identity.id,
      name: config.nodeName,
      version: NODE_VERSION,
      apps: appsHere().map((a) => ({
        stack: a.stack,
        domain: a.domain ?? null,
        recipe: a.recipe ?? null,
        version: a.version ?? null,
        status: a.status,
        lanUrl: a.localName ? `http://${a.localName}` : null,
        internetUrl: a.domain ? `https://${a.domain}` : null,
      })),
      zims: zims.map((z) => {
        const base = z.fileName.replace(/\.zim$/, '');
        const lang = /^[a-z]+_([a-z]{2,3})_/.exec(base)?.[1] ?? '';
        return { fileName: z.fileName, title: base, language: lang, date: datedName(z.fileName)?.date ?? '', size: z.size, sha256: z.sha256 };
      }),
      freeDiskBytes: freeDisk(),
    };
  }

  /** A signed request to a paired node. */
  async function ask<T>(peer: PeerRow, pathname: string): Promise<T> {
    return peerJson<T>(peer.url, pathname, { headers: signedHeaders(identity, peer.id, 'GET', pathname, '', now()) });
  }

  async function pollOne(peer: PeerRow): Promise<void> {
    try {
      const status = nodeStatusSchema.parse(await ask(peer, '/region/peer/status'));
      if (status.id !== peer.id) throw new Error('answered with another node’s id');
      rs.statusSaved(peer.id, JSON.stringify(status), status.name, now());
    } catch (err) {
      rs.statusFailed(peer.id, (err as Error).message.slice(0, 300), now());
    }
  }
  /** The responder's feed, when this node does not browse the LAN itself; an old list ages out while it is silent. */
  async function readFeed(): Promise<void> {
    if (mdns || !config.nearbyUrl) return;
    fed = await readNearby(config.nearbyUrl).catch((err: Error) => {
      deps.log.debug({ err: err.message }, 'the mDNS responder’s list of nodes nearby did not come');
      return fed.filter((n) => now() - n.seenAt < NEARBY_KEPT_MS);
    });
  }
  async function pollAll(): Promise<void> {
    await Promise.all([...rs.peers().map(pollOne), readFeed()]);
    events.emit('change');
  }

  const view = (p: PeerRow): PeerView => {
    let status: NodeStatus | null = null;
    try {
      status = p.status ? nodeStatusSchema.parse(JSON.parse(p.status)) : null;
    } catch {
      status = null;
    }
    // Reachable: the latest attempt got an answer.
    const reachable = p.statusAt !== null && p.attemptedAt === p.statusAt && !p.error;
    return { id: p.id, name: p.name, url: p.url, fingerprint: fingerprint(p.publicKey), reachable, statusAt: p.statusAt, error: p.error, status };
  };

  /** A neighbour's OPDS catalogue of the ZIM files it verified. */
  async function neighbourCatalogue(peerId: string): Promise<{ peer: PeerRow; entries: ZimEntry[] }> {
    const peer = rs.peer(peerId);
    if (!peer) throw new UserFacingError('That node is not paired with this one.', 404);
    const pathname = '/region/peer/opds';
    const res = await fetch(new URL(pathname, peer.url), { headers: signedHeaders(identity, peer.id, 'GET', pathname, '', now()), signal: AbortSignal.timeout(8000), redirect: 'error' }).catch((err: Error) => {
      throw new UserFacingError(`${peer.name} did not answer: ${err.message}`, 502);
    });
    if (!res.ok) throw new UserFacingError(`${peer.name} answered ${res.status}.`, 502);
    return { peer, entries: parseEntries(await res.text(), peer.url).entries };
  }

  return {
    identity,
    pairing,
    events,
    me: () => ({ ...pairing.me(), fingerprint: fingerprint(identity.publicKey) }),
    localStatus,

    /** Checks a peer request's signature; a refusal is audited (it says only "refused" to the sender). */
    verify(req: { method: string; path: string; headers: Record<string, string | undefined>; body: string; ip: string }): SignedCheck {
      const result = checkSigned(req, identity.id, keyOf, nonces, now());
      if (!result.ok) deps.audit.record({ name: null, ip: req.ip }, 'region.peer.refused', { target: req.path.slice(0, 100), outcome: 'denied', detail: { reason: result.reason, node: req.headers['x-lores-node']?.slice(0, 40) } });
      return result;
    },
    verifyGrant(q: Record<string, unknown>, fileName: string, ip: string): SignedCheck {
      const result = checkGrant(q, fileName, identity.id, keyOf, now());
      if (!result.ok) deps.audit.record({ name: null, ip }, 'region.peer.refused', { target: fileName, outcome: 'denied', detail: { reason: result.reason } });
      return result;
    },

    peers: (): PeerView[] => rs.peers().map(view),
    pollAll,
    /** A poll from a timer: a failure (the store closed at shutdown) is logged, never thrown. */
    pollSoon(): void {
      pollAll().catch((err: Error) => deps.log.warn({ err: err.message }, 'could not ask the paired nodes for their status'));
    },
    nearby(): (Nearby & { paired: boolean })[] {
      const known = rs.peers();
      return (mdns?.nearby() ?? fed).map((n) => ({ ...n, paired: known.some((p) => p.url === n.url || p.name === n.name) }));
    },
    mdnsOn: () => mdns !== undefined || config.nearbyUrl !== null,

    /** `.local` names this node answers for, each with the app's own domain (where the node routes it). */
    localNames(): Map<string, { stack: string; domain: string }> {
      const out = new Map<string, { stack: string; domain: string }>();
      for (const a of appsHere()) if (a.localName && a.domain) out.set(a.localName, { stack: a.stack, domain: a.domain });
      return out;
    },
    appsWithNames: appsHere,
    setLocalName(actor: Actor, stack: string, on: boolean): void {
      const app = appsHere().find((a) => a.stack === stack);
      if (!app?.domain) throw new UserFacingError('There is no app with a domain by that name on this node.', 404);
      rs.setLocalName(stack, on, actor.name, now());
      deps.audit.record(actor, on ? 'region.local-name.on' : 'region.local-name.off', { target: stack, detail: { name: localNameOf(app.domain, config.nodeName) } });
      mdns?.announce();
    },

    // ---- ZIM mirror (serving side) ----
    async opds(forPeer: string): Promise<string> {
      const zims = (await zimsHere()).filter((z) => z.sha256);
      const updated = new Date(now()).toISOString();
      return opdsFeed(`ZIM files on ${config.nodeName}`, identity.id, updated, zims.map((z) => ({
        id: `${z.sha256!.slice(0, 8)}-${z.sha256!.slice(8, 12)}-${z.sha256!.slice(12, 16)}-${z.sha256!.slice(16, 20)}-${z.sha256!.slice(20, 32)}`,
        name: (datedName(z.fileName)?.base ?? z.fileName.replace(/\.zim$/, '')).replace(/[^A-Za-z0-9._-]/g, '_'),
        title: z.fileName.replace(/\.zim$/, ''),
        language: /^[a-z]+_([a-z]{2,3})_/.exec(z.fileName)?.[1] ?? '',
        size: z.size,
        updated: new Date(statSync(path.join(z.dir, z.fileName)).mtimeMs).toISOString(),
        downloadUrl: `${config.nodeUrl}${NEIGHBOUR_PATH}${encodeURIComponent(z.fileName)}.meta4`,
        summary: `sha-256 ${z.sha256} · for ${forPeer}`,
      })));
    },
    /** A verified file this node serves to a neighbour: where it is, and its Metalink (pointing back here with the grant). */
    async mirrored(fileName: string, grant: string): Promise<{ file: string; size: number; meta4: string } | undefined> {
      const z = (await zimsHere()).find((f) => f.fileName === fileName && f.sha256);
      if (!z) return undefined;
      return { file: path.join(z.dir, z.fileName), size: z.size, meta4: meta4For(z.fileName, z.size, z.sha256!, `${config.nodeUrl}${NEIGHBOUR_PATH}${encodeURIComponent(z.fileName)}?${grant}`) };
    },

    // ---- ZIM mirror (fetching side) ----
    neighbourCatalogue,
    /**
     * A book from a neighbour as a catalogue entry for the downloader: its Metalink URL carries a grant signed by
     * this node and the sha-256 the file must have: the one this node kept from the book's original catalogue, or
     * else the one the neighbour kept. The downloader checks the Metalink against it (onMetalink) and the bytes
     * against the Metalink.
     */
    async neighbourEntry(peerId: string, fileName: string): Promise<ZimEntry> {
      const { peer, entries } = await neighbourCatalogue(peerId);
      const entry = entries.find((e) => e.fileName === fileName);
      if (!entry) throw new UserFacingError(`${peer.name} does not offer ${fileName}.`, 404);
      const theirs = /sha-256 ([0-9a-f]{64})/.exec(entry.summary)?.[1];
      const expect = rs.keptHash(fileName)?.sha256 ?? theirs;
      if (!expect) throw new UserFacingError(`${peer.name} gives no sha-256 for ${fileName}, so it cannot be verified.`, 502);
      const grant = grantQuery(identity, peer.id, fileName, now() + GRANT_DAYS * 86_400_000);
      return { ...entry, downloadUrl: `${peer.url}${NEIGHBOUR_PATH}${encodeURIComponent(fileName)}.meta4?${grant}&expect=${expect}` };
    },
    /**
     * Called by the downloader with each Metalink it trusts: a neighbour's must state the hash this node expects
     * (or nothing is downloaded); the hash is kept, so this node can serve the file to its own neighbours.
     */
    onMetalink(args: { fileName: string; downloadUrl: string }, meta: Meta4): void {
      const url = new URL(args.downloadUrl);
      if (url.pathname.startsWith(NEIGHBOUR_PATH)) {
        const expect = url.searchParams.get('expect');
        if (!expect || meta.sha256 !== expect) {
          throw new JobFailure(`The neighbour’s Metalink gives the sha-256 ${meta.sha256.slice(0, 12)}…, but this node expects ${expect?.slice(0, 12) ?? 'a known hash'}… (from the book’s original catalogue entry): nothing was downloaded.`);
        }
      }
      const kept = rs.keptHash(meta.fileName);
      if (kept && kept.sha256 !== meta.sha256 && url.pathname.startsWith(NEIGHBOUR_PATH)) throw new JobFailure(`The sha-256 does not match the one this node kept for ${meta.fileName}: nothing was downloaded.`);
      url.search = '';
      rs.keepHash({ fileName: meta.fileName, sha256: meta.sha256, size: meta.size, source: url.href, keptAt: now() });
    },

    start(): void {
      if (config.lanAddress) {
        try {
          mdns = startMdns({ address: config.lanAddress, nodeName: () => config.nodeName, port: config.port, answers: (name) => this.localNames().has(name), log: deps.log, now });
        } catch (err) {
          deps.log.warn({ err: (err as Error).message }, 'mDNS could not start: no discovery or .local names');
        }
      }
      this.pollSoon();
      timer = setInterval(() => this.pollSoon(), config.pollMs);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      mdns?.stop();
      mdns = undefined;
    },
  };
}
export type RegionService = ReturnType<typeof regionService>;
