// Parse a form body or path parameter with a schema; a bad value becomes a 400 that says what is wrong.
import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { SettingsRefused } from '../services/env/form.ts';
import { UserFacingError } from '../errors.ts';
import { idSchema, parseOrRefuse } from '../validation.ts';

export function parseForm<S extends z.ZodType>(schema: S, input: unknown, labels: Record<string, string> = {}): z.infer<S> {
  return parseOrRefuse(schema, input ?? {}, labels);
}

export function parseId(value: unknown): number {
  const result = idSchema.safeParse(value);
  if (!result.success) throw new UserFacingError('That id is not a number this node knows.', 400);
  return result.data;
}

/** Only paths on this node are followed after login, so a link cannot bounce a steward elsewhere. */
export function safeNextPath(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : '/';
}

/**
 * A form refused field by field (SettingsRefused) is shown again, 400, with what the steward typed and each error
 * beside its field, instead of an error page. The refusal still goes through `handler`'s own auditing first.
 */
export function withFieldErrors(handler: RequestHandler, again: (req: Request, res: Response, refused: SettingsRefused) => Promise<void> | void): RequestHandler {
  return async (req, res, next) => {
    try {
      await handler(req, res, next);
    } catch (err) {
      if (!(err instanceof SettingsRefused) || res.headersSent) throw err;
      res.status(400);
      await again(req, res, err);
    }
  };
}
