// The app a request names, once its caller may act on it: one check for every route that acts on an app.
import type { Request, Response } from 'express';
import type { AppAction } from '../services/app-access.ts';
import type { AppView } from '../services/apps.ts';
import { callerOf, type Services } from './context.ts';

/** The app, once the caller may take `action` on it (managed or adopted, not the node itself, no host reach for
 *  stewards); a clear 403/404/409 that changes nothing otherwise. */
export function authorizedApp(s: Services, req: Request, res: Response, stack: string, action: AppAction): Promise<AppView> {
  return s.apps.authorized(callerOf(req, res.locals.session), stack, action);
}
