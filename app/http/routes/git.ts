// The config repository over git's smart HTTP protocol, for operators' laptops: clone, pull, push.
//
// These routes sit before the session and CSRF middleware on purpose. They are not browser forms: git sends HTTP
// Basic auth with a per-person access token (made on the People page) on every request, and no cookie is read or
// set, so a cross-site page cannot ride on a session here (a browser would have to know the token). Every request
// that carries credentials is audited: refused tokens, refused pushes, accepted pushes.
import type { Request, RequestHandler, Response } from 'express';
import { serveRepository } from '../../services/config-repo/git-http.ts';
import { clientIp, type Services } from '../context.ts';

const REALM = 'Basic realm="LoRes Node config repository", charset="UTF-8"';
// The smart protocol's three endpoints only: no dumb-HTTP file serving out of the repository directory.
const SMART_PATHS = new Set(['/info/refs', '/git-upload-pack', '/git-receive-pack']);

function basicCredentials(req: Request): { username: string; token: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { username: text.slice(0, i), token: text.slice(i + 1) };
}

export function gitRoutes(s: Services): { git: RequestHandler } {
  const refuse = (res: Response, status: number, message: string) => {
    if (status === 401) res.set('WWW-Authenticate', REALM);
    res.status(status).type('text').send(`${message}\n`);
  };

  // GET /info/refs, POST /git-upload-pack and /git-receive-pack: git's smart protocol.
  const git: RequestHandler = async (req: Request, res: Response) => {
    const sub = `/${([] as string[]).concat(req.params.rest ?? []).join('/')}`;
    const creds = basicCredentials(req);
    // git asks without credentials first and sends them after a 401: that first request is not worth an audit line.
    // A session cookie counts for nothing here.
    if (!creds) return refuse(res, 401, 'This repository needs your access token (People page): use your username and the token as the password.');
    if (!SMART_PATHS.has(sub)) return refuse(res, 404, 'Not found: this node serves its config repository over git’s smart HTTP protocol only.');
    const push = sub === '/git-receive-pack' || req.query.service === 'git-receive-pack';
    const who = s.configSharing.admit(creds, clientIp(req), push);
    if (!who.admitted && who.reason === 'token') return refuse(res, 401, 'That access token is not valid (unknown, revoked, or not this person’s). Ask an admin for a new one.');
    if (!who.admitted) return refuse(res, 403, `${who.user.username} is a ${who.user.role} on this node and may only clone and pull; ask an admin for the steward role to push.`);
    const { actor } = who;
    const before = push && sub === '/git-receive-pack' ? await s.configRepo.head() : undefined;
    // An accepted push is written into the server directory before git's client hears "ok".
    const applyPush = (exitCode: number) => s.configSharing.pushed(actor, before, exitCode);
    await serveRepository(s.configRepo, req, res, {
      pathInfo: `/servers.git${sub}`,
      remoteUser: who.user.username,
      remoteAddr: actor.ip,
      ...(sub === '/git-receive-pack' ? { beforeEnd: applyPush } : {}),
    });
    if (sub === '/git-upload-pack') await s.configSharing.pulled(actor);
  };
  return { git };
}
