// A region of nodes over HTTP. `peer`: what other nodes call (pairing, and signed requests for status, the ZIM
// catalogue and files), outside the login. `pages`: the region page and pairing for people (guests may look;
// admins pair; stewards turn `.local` names on and fetch ZIM files from a neighbour). `localNames`: requests for
// `<app>-<node>.local`, passed on to Traefik as the app's own domain.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { UserFacingError } from '../../errors.ts';
import type { RegionService } from '../../services/region/region.ts';
import { formatBytes } from '../../services/resource-fit.ts';
import { zimName } from '../../services/zim/library.ts';
import { stackSchema } from '../../validation.ts';
import { authorizedApp } from '../app-guard.ts';
import { auditRefusals } from '../audited.ts';
import { actorOf, clientIp, type Services } from '../context.ts';
import { ago } from '../format.ts';
import { keepRefused, parseForm } from '../forms.ts';
import { render, renderPartial } from '../render.ts';
import { LoginLimiter } from '../../services/login-limiter.ts';
import { can } from '../../services/policy.ts';

type RegionServices = Services & { region: RegionService };

const headersOf = (req: Request) => Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));

export function peerRoutes(s: RegionServices, now: () => number) {
  const { region } = s;
  const refuse = (res: Response) => res.status(403).json({ error: 'refused' });
  // Pairing attempts are few: ten per address, then a back-off that doubles from a minute, slows code guessing
  // further (the same bounded limiter as logins; every attempt counts, right or wrong).
  const pairLimiter = new LoginLimiter({ now, address: { free: 10, baseMs: 60_000, maxBlockMs: 15 * 60_000 } });
  const pairLimit: RequestHandler = (req, res, next) => {
    const verdict = pairLimiter.begin({ address: clientIp(req) });
    if (verdict.allowed) return next();
    res.set('Retry-After', String(verdict.retryAfterSeconds));
    res.status(429).json({ error: 'too many attempts' });
  };
  const signed: RequestHandler = (req, res, next) => {
    const check = region.verify({ method: req.method, path: req.originalUrl, headers: headersOf(req), body: '', ip: clientIp(req) });
    if (!check.ok) return refuse(res);
    res.locals.peer = check.from;
    next();
  };
  const answer = (fn: (req: Request) => unknown): RequestHandler => (req, res) => {
    try {
      res.json(fn(req) ?? { ok: true });
    } catch (err) {
      if (err instanceof UserFacingError) return void res.status(err.status).json({ error: err.message });
      throw err;
    }
  };

  const pairRequest = answer((req) => void region.pairing.received(req.body, clientIp(req)));
  const pairConfirm = answer((req) => {
    const answered = region.pairing.confirm(req.body, clientIp(req));
    // The other node keeps this one's key once it has read the answer: ask it for its status a moment later.
    setTimeout(() => region.pollSoon(), 1000).unref();
    return answered;
  });
  const status: RequestHandler = async (_req, res) => void res.json(await region.localStatus());
  const opds: RequestHandler = async (_req, res) => void res.type('application/atom+xml').send(await region.opds(String(res.locals.peer)));
  const peerZim: RequestHandler = async (req, res) => {
    const raw = String(req.params.file);
    const isMeta = raw.endsWith('.meta4');
    const parsed = z.string().safeParse(isMeta ? raw.slice(0, -6) : raw);
    let fileName: string;
    try {
      fileName = zimName(parsed.data);
    } catch {
      return void res.status(404).json({ error: 'not found' });
    }
    if (!region.verifyGrant(req.query, fileName, clientIp(req)).ok) return void refuse(res);
    const grant = new URLSearchParams({ node: String(req.query.node), exp: String(req.query.exp), sig: String(req.query.sig) }).toString();
    const m = await region.mirrored(fileName, grant);
    if (!m) return void res.status(404).json({ error: 'not found' });
    if (isMeta) return void res.type('application/metalink4+xml').send(m.meta4);
    res.sendFile(m.file, { acceptRanges: true, cacheControl: false, lastModified: true, dotfiles: 'deny' });
  };
  return { pairLimit, signed, pairRequest, pairConfirm, status, opds, zim: peerZim };
}

/** `Host: kiwix-library.local` → Traefik, with `Host: <the app's domain>`: routed exactly as the real domain is. */
export function localNameRoutes(s: RegionServices, localNamesUpstream: string): RequestHandler {
  return (req, res, next) => {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (!host.endsWith('.local')) return next();
    const target = s.region.localNames().get(host);
    if (!target) return next();
    const upstream = new URL(localNamesUpstream);
    const tls = upstream.protocol === 'https:';
    const options = { host: upstream.hostname, port: upstream.port || (tls ? 443 : 80), method: req.method, path: req.originalUrl, headers: { ...req.headers, host: target.domain, 'x-forwarded-host': host, 'x-forwarded-proto': 'http' } };
    // Traefik's https entrypoint (the recipe's upstream: compose.mdns.yml) is asked for the app's own domain by SNI.
    // Its certificate is not checked: the hop stays on this host, and a LAN node offline often has none that a
    // client could verify; the phone's side of a `.local` name is plain http anyway.
    const out = (tls ? httpsRequest : httpRequest)(
      tls ? { ...options, servername: target.domain, rejectUnauthorized: false } : options,
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', (err) => {
      s.log.warn({ host, err: err.message }, 'the .local route could not reach Traefik');
      if (!res.headersSent) res.status(502).type('text').send(`${host}: the app could not be reached.`);
    });
    req.pipe(out);
  };
}

export function regionRoutes(s: RegionServices, now: () => number) {
  const { region } = s;
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;

  const peersView = () =>
    region.peers().map((p) => ({
      ...p,
      age: p.statusAt ? ago(p.statusAt, now()) : null,
      freeText: p.status?.freeDiskBytes != null ? formatBytes(p.status.freeDiskBytes) : '—',
      zims: p.status?.zims.map((z) => ({ ...z, sizeText: formatBytes(z.size) })) ?? [],
    }));
  const page = (req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) =>
    render(req, res, 'region', {
      title: 'Region',
      me: region.me(),
      peers: peersView(),
      nearby: region.nearby(),
      mdnsOn: region.mdnsOn(),
      requests: can(res.locals.session?.user, 'administer') ? region.pairing.requests() : [],
      apps: region.appsWithNames().filter((a) => a.domain),
      nodeName: region.me().name,
      ...extra,
    }, status);

  const regionPage: RequestHandler = (req, res) => page(req, res);
  const peersPartial: RequestHandler = (_req, res) => void res.type('html').send(renderPartial(res, 'region-peers', { peers: peersView() }));

  /** A refused pairing: the page again, what was typed kept and the reason beside `field` of form `id`. */
  const pairFail = (req: Request, res: Response, err: unknown, id: string, field?: string) => {
    if (!(err instanceof UserFacingError)) throw err;
    keepRefused(req, res, err, { id: () => id, field, status: err.status === 403 || err.status === 410 ? 400 : err.status });
    page(req, res);
  };
  const pair: RequestHandler = async (req, res) => {
    const url = typeof body(req).url === 'string' && body(req).url ? String(body(req).url) : undefined;
    try {
      const offer = await region.pairing.offer(actorOf(req, res.locals.session), url);
      page(req, res, { offer });
    } catch (err) {
      pairFail(req, res, err, url ? 'pair' : 'offer', url ? 'url' : undefined);
    }
  };
  const acceptRequest: RequestHandler = async (req, res) => {
    try {
      const peer = await region.pairing.accept(actorOf(req, res.locals.session), { request: String(req.params.id), code: body(req).code });
      await region.pollAll();
      page(req, res, { notice: `Paired with ${peer.name}.` });
    } catch (err) {
      pairFail(req, res, err, `accept-${String(req.params.id)}`, 'code');
    }
  };
  const pairByLink: RequestHandler = async (req, res) => {
    try {
      const peer = await region.pairing.accept(actorOf(req, res.locals.session), { link: String(body(req).link ?? '') });
      await region.pollAll();
      page(req, res, { notice: `Paired with ${peer.name}.` });
    } catch (err) {
      pairFail(req, res, err, 'link', 'link');
    }
  };
  const unpair: RequestHandler = auditRefusals(s, 'region.unpair', (req, res) => {
    region.pairing.unpair(actorOf(req, res.locals.session), String(req.params.id));
    res.redirect(303, '/region');
  });
  const refresh: RequestHandler = async (_req, res) => {
    await region.pollAll();
    res.redirect(303, '/region');
  };
  const setLocalName: RequestHandler = auditRefusals(s, 'region.local-name', async (req, res) => {
    // A LAN name publishes the app on the LAN: a change to it, allowed to whoever may change its settings.
    const { stack } = await authorizedApp(s, req, res, parseForm(stackSchema, body(req).stack, { value: 'The app' }), 'config');
    region.setLocalName(actorOf(req, res.locals.session), stack, body(req).on === '1');
    res.redirect(303, '/region');
  });

  // ---- ZIM files from a neighbour ----
  const neighboursPage: RequestHandler = async (req, res) => {
    const app = s.zims.shelf.find(parseForm(stackSchema, req.params.stack, { value: 'The app' }));
    const catalogues = await Promise.all(
      region.peers().map(async (p) => {
        try {
          const { entries } = await region.neighbourCatalogue(p.id);
          return { peer: p, entries: entries.map((e) => ({ ...e, sizeText: formatBytes(e.size) })), error: null };
        } catch (err) {
          return { peer: p, entries: [], error: (err as Error).message };
        }
      }),
    );
    render(req, res, 'zim-neighbours', { title: `From a neighbour · ${app.domain}`, app, catalogues });
  };
  const fromNeighbour: RequestHandler = auditRefusals(s, 'job.zim-download', async (req, res) => {
    const app = s.zims.shelf.find(parseForm(stackSchema, req.params.stack, { value: 'The app' }));
    const peer = parseForm(z.string().regex(/^[0-9a-f]{20}$/), body(req).peer, { value: 'The node' });
    const entry = await region.neighbourEntry(peer, zimName(body(req).fileName));
    res.redirect(303, `/jobs/${s.zims.downloads.start(app.stack, entry, actorOf(req, res.locals.session)).id}`);
  });
  return { regionPage, peersPartial, pair, acceptRequest, pairByLink, unpair, refresh, setLocalName, neighboursPage, fromNeighbour };
}
