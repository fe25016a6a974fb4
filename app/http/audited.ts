// Refused actions are audited too: a job audits its own outcome, but a request turned away never becomes a job.
import type { Request, RequestHandler, Response } from 'express';
import { UserFacingError } from '../services/errors.ts';
import { actorOf, type Services } from './context.ts';

export function auditRefusals(s: Services, action: string, handler: (req: Request, res: Response) => unknown): RequestHandler {
  return async (req, res) => {
    try {
      await handler(req, res);
    } catch (err) {
      if (err instanceof UserFacingError) {
        s.audit.record(actorOf(req, res.locals.session), action, {
          target: [req.params.stack, req.params.recipe, req.params.name].find((p): p is string => typeof p === 'string'),
          outcome: 'denied',
          detail: { status: err.status, error: err.message },
        });
      }
      throw err;
    }
  };
}
