// GET /healthz, without login: up or down, for the swarm healthcheck and load balancers. The details (process,
// version, Docker's version and swarm state) help an attacker more than a passer-by: only a logged-in admin sees them.
import type { RequestHandler } from 'express';
import type { Services } from '../context.ts';
import { NODE_VERSION } from '../../version.ts';

export function healthRoutes(s: Services) {
  const healthz: RequestHandler = async (_req, res) => {
    const store = s.health.storeAnswers();
    const status = store ? 'ok' : 'failing';
    if (res.locals.session?.user.role !== 'admin') return res.status(store ? 200 : 503).json({ status });
    const docker = await s.health.docker();
    // Docker being down is reported, not fatal: the node can still show its pages and recover.
    res.status(store ? 200 : 503).json({
      status,
      version: NODE_VERSION,
      process: { pid: process.pid, uptimeSeconds: Math.round(process.uptime()), rssBytes: process.memoryUsage.rss() },
      store: { ok: store },
      docker,
    });
  };
  return { healthz };
}
