// What the HTTP layer is built from: the services, and the few facts routes need about the request.
import type { Request } from 'express';
import type { Caller } from '../services/app-access.ts';
import type { Actor } from '../services/audit.ts';
import type { Session } from '../services/sessions.ts';

/** Routes get services only (no store, no Docker client, no config): see app/services/index.ts. */
export type { Services } from '../services/index.ts';

declare global {
  namespace Express {
    interface Locals {
      session?: Session;
      /** The CSRF token forms on this page must send back. */
      csrfToken: string;
    }
  }
}

export const clientIp = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

export const actorOf = (req: Request, session: Session | undefined): Actor => ({
  name: session?.user.username ?? null,
  ip: clientIp(req),
});

/** The actor with the role of their session, for services that decide by role. */
export const callerOf = (req: Request, session: Session | undefined): Caller => ({ ...actorOf(req, session), role: session?.user.role ?? 'guest' });

/** htmx sets HX-Request on its own requests; they get fragments and status codes instead of redirects. */
export const isHtmx = (req: Request): boolean => req.get('HX-Request') === 'true';
