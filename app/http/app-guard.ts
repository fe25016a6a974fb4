// The app a request names, and whether the caller may act on it: one check for every route that acts on an app.
import type { Request, Response } from 'express';
import { listInstalled } from '../adapters/abra/app-env.ts';
import type { AppAction } from '../services/app-access.ts';
import { appsFrom, type AppView } from '../services/apps.ts';
import { UserFacingError } from '../errors.ts';
import { callerOf, type Services } from './context.ts';

/** The app with this stack name, as the swarm and the node's abra know it; 404 when there is none. */
export function appByStack(s: Services, stack: string): AppView {
  const app = appsFrom(s.model, listInstalled(s.config.abraDir), s.access.options()).find((a) => a.stack === stack);
  if (!app) throw new UserFacingError(`There is no app “${stack}” on this node.`, 404);
  return app;
}

/** The app, once the caller may take `action` on it (managed or adopted, not the node itself, no host reach for
 *  stewards); a clear 403/409 that changes nothing otherwise. */
export async function authorizedApp(s: Services, req: Request, res: Response, stack: string, action: AppAction): Promise<AppView> {
  const app = appByStack(s, stack);
  await s.access.authorize(callerOf(req, res.locals.session), app, action);
  return app;
}
