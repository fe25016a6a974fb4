// Refused actions are audited too: a job audits its own outcome, but a request turned away never becomes a job.
import type { Request, RequestHandler, Response } from 'express';
import type { ZodType } from 'zod';
import { recipeNameSchema } from '../services/catalogue.ts';
import { cleanText } from '../services/audit.ts';
import { UserFacingError } from '../errors.ts';
import { stackSchema } from '../validation.ts';
import { actorOf, type Services } from './context.ts';

/** The path parameters an audited route may name its target by, and what a valid one looks like. */
const TARGET_PARAMS: [string, ZodType][] = [
  ['stack', stackSchema],
  ['recipe', recipeNameSchema],
  ['name', recipeNameSchema],
];
const INVALID_SHOWN = 40;

/**
 * What the refusal was about, from the path: a valid name as it is; anything else (often the very reason for the
 * refusal) as a short clean sample marked invalid, never the raw text of what was sent.
 */
export function auditTarget(params: Request['params']): string | undefined {
  for (const [key, schema] of TARGET_PARAMS) {
    const value = params[key];
    if (typeof value !== 'string') continue;
    if (schema.safeParse(value).success) return value;
    return `(invalid, ${value.length} chars) ${cleanText(value, INVALID_SHOWN)}`;
  }
  return undefined;
}

/**
 * The one audit row the HTTP layer writes itself (every other action is recorded by the service that takes it,
 * test/unit/audit-in-services.test.ts): a request turned away before or inside its service, recorded as refused
 * under the action it asked for, whichever layer refused it.
 */
export function auditRefusals(s: Services, action: string, handler: (req: Request, res: Response) => unknown): RequestHandler {
  return async (req, res) => {
    try {
      await handler(req, res);
    } catch (err) {
      if (err instanceof UserFacingError) {
        s.audit.record(actorOf(req, res.locals.session), action, {
          target: auditTarget(req.params),
          outcome: 'denied',
          detail: { status: err.status, error: err.message },
        });
      }
      throw err;
    }
  };
}
