// The node's cookies: the session, a pre-login CSRF token for the login and setup forms, and the "known device" mark.
// Apps live at <app>.<NODE_DOMAIN>, the node's own site, so a sibling app can set cookies the node would read.
// Over HTTPS the names carry the `__Host-` prefix (Secure, Path=/, no Domain): browsers let no other host set
// those. Over plain HTTP (a LAN node by IP) no prefix can help, and the plain names stay. Reading takes every
// cookie of a name, since a sibling's duplicate or a malformed one may sit beside the node's own.
import type { Request, Response } from 'express';

export const SESSION_COOKIE = 'lores_session';
export const PRELOGIN_CSRF_COOKIE = 'lores_csrf';
export const KNOWN_DEVICE_COOKIE = 'lores_device';

const HOST_PREFIX = '__Host-';

/** The name cookie `name` has on this request: `__Host-` prefixed over HTTPS. */
export function cookieName(req: Request, name: string): string {
  return req.secure ? `${HOST_PREFIX}${name}` : name;
}

/** Every value of cookie `name` (under its name for this request) that decodes, in the order the browser sent them. */
export function readCookies(req: Request, name: string): string[] {
  const header = req.headers.cookie;
  if (!header) return [];
  const wanted = cookieName(req, name);
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== wanted) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      values.push(decodeURIComponent(value));
    } catch {
      // a malformed value (someone else's) is skipped, never fatal
    }
  }
  return values;
}

/** httpOnly, SameSite=Strict, Path=/, and Secure (with the `__Host-` name) when the request came over HTTPS. */
export function setCookie(req: Request, res: Response, name: string, value: string, maxAgeMs?: number): void {
  res.cookie(cookieName(req, name), value, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', maxAge: maxAgeMs });
}

export function clearCookie(req: Request, res: Response, name: string): void {
  res.clearCookie(cookieName(req, name), { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
}
