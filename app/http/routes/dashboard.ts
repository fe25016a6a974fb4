// The home page: the apps on this node (an empty state until the live model lands).
import { Router } from 'express';
import type { Services } from '../context.ts';
import { render } from '../render.ts';

export function dashboardRoutes(s: Services): Router {
  const r = Router();
  r.get('/', (req, res) => {
    render(req, res, 'dashboard', { title: 'Apps', nodeDomain: s.settings.current().nodeDomain, apps: [] });
  });
  return r;
}
