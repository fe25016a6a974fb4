// A fixed-window counter per client address, in memory: enough for one node behind one proxy.
import type { RequestHandler } from 'express';
import { clientIp } from '../context.ts';
import { renderError } from '../render.ts';

export function rateLimit(opts: { limit: number; windowMs: number; now: () => number }): RequestHandler {
  const windows = new Map<string, { start: number; count: number }>();
  return (req, res, next) => {
    const now = opts.now();
    const ip = clientIp(req);
    let w = windows.get(ip);
    if (!w || now - w.start >= opts.windowMs) {
      w = { start: now, count: 0 };
      windows.set(ip, w);
      // Drop stale windows now and then so the map stays small.
      if (windows.size > 10_000) for (const [k, v] of windows) if (now - v.start >= opts.windowMs) windows.delete(k);
    }
    w.count += 1;
    if (w.count <= opts.limit) return next();
    const retryAfter = Math.ceil((w.start + opts.windowMs - now) / 1000);
    res.set('Retry-After', String(retryAfter));
    renderError(req, res, {
      status: 429,
      title: 'Too many attempts',
      message: `Too many attempts from your address. Wait ${retryAfter} seconds and try again.`,
    });
  };
}
