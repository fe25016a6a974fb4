// Parse a form body or path parameter with a schema; a bad value becomes a 400 that says what is wrong. A refused
// form is shown again (withForm): the same page, what was typed kept, each message beside its field.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { FieldErrors, UserFacingError } from '../errors.ts';
import { describeIssues, idSchema, parseOrRefuse } from '../validation.ts';

/**
 * The parsed form, or a refusal: a FieldErrors keyed by the form's field names when the schema names them (an object
 * schema), a plain 400 otherwise (a path parameter). Each field's message starts with its label.
 */
export function parseForm<S extends z.ZodType>(schema: S, input: unknown, labels: Record<string, string> = {}): z.infer<S> {
  return parseOrRefuse(schema, input ?? {}, labels);
}

/** One field's value parsed on its own: a bad value is refused beside the field `name`. */
export function parseField<S extends z.ZodType>(name: string, schema: S, value: unknown, label: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const message = describeIssues(result.error, { value: label });
  throw new FieldErrors({ [name]: message }, message);
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
 * A refused form as its page shows it again: `values` as typed (never a password), `errors` by field name, the whole
 * `message`, and `id` when a page holds several forms with the same field names (one per row).
 */
export type FormState = { id?: string; status: number; values: Record<string, string>; errors: Record<string, string>; message: string };

/** Fields never sent back to the browser, whatever the form: passwords, keys, tokens, the CSRF token. */
const NEVER_KEPT = /pass|secret|key|^current$|^_csrf$/i;

/** What was typed, as the form shows it again: text values only, without secrets (`secret` names more). */
export function keptValues(body: unknown, secret: readonly string[] = []): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string' && !NEVER_KEPT.test(name) && !secret.includes(name)) values[name] = value;
  }
  return values;
}

/** Is `err` a refusal a form answers beside its fields (or above them), rather than with an error page? */
function isFormRefusal(err: unknown): err is UserFacingError {
  return err instanceof FieldErrors || (err instanceof UserFacingError && (err.status === 400 || err.status === 422));
}

export type FormOptions = {
  /** Which of the page's forms was sent, when it has several (e.g. `role-3`). */
  id?: (req: Request) => string;
  /** Field names never kept beyond the usual ones (a password's repetition named `confirm`). */
  secret?: readonly string[];
};

/**
 * Marks this response as `err`'s refusal of the form that was sent: the next `render` shows the page with the form
 * as typed, the refusal's status, and each message beside its field. `field` names the field a refusal without
 * fields (a plain UserFacingError) is about.
 */
export function keepRefused(req: Request, res: Response, err: UserFacingError, options: FormOptions & { field?: string; status?: number } = {}): void {
  const errors = err instanceof FieldErrors ? { ...err.fields } : options.field ? { [options.field]: err.message } : {};
  res.locals.form = {
    id: options.id?.(req),
    status: options.status ?? err.status,
    values: keptValues(req.method === 'GET' ? req.query : req.body, options.secret),
    errors,
    message: err.message,
  } satisfies FormState;
}

/** The page a form is on: its GET handler, or its path on this node (`{ path }`: that page's route answers, as a GET). */
export type FormPage = ((req: Request, res: Response, next: NextFunction) => unknown) | { path: string };

/** Answers with the page at `path` as if it had been asked for (a GET through the app's routes, login and roles included). */
function pageAt(path: string, req: Request, res: Response, next: NextFunction): void {
  req.method = 'GET';
  req.url = path;
  (req.app as unknown as { handle(req: Request, res: Response, next: NextFunction): void }).handle(req, res, next);
}

/**
 * `handler` with its refusals shown on the form's own page: when it throws a FieldErrors (or another 400/422
 * UserFacingError), `page` runs with `res.locals.form` set, so that `render` gives the page its `form` and the
 * refusal's status. The refusal has gone through `handler`'s own auditing first.
 */
export function withForm(handler: RequestHandler, page: FormPage, options: FormOptions = {}): RequestHandler {
  return async (req, res, next) => {
    try {
      await handler(req, res, next);
    } catch (err) {
      if (!isFormRefusal(err) || res.headersSent) throw err;
      keepRefused(req, res, err, options);
      if (typeof page === 'function') await page(req, res, next);
      else pageAt(page.path, req, res, next);
    }
  };
}

/**
 * A form refused field by field (FieldErrors) is shown again by `again`, with the refusal's status, what the steward
 * typed and each error beside its field, instead of an error page (the settings forms, whose pages take the refusal
 * itself). The refusal still goes through `handler`'s own auditing first.
 */
export function withFieldErrors(handler: RequestHandler, again: (req: Request, res: Response, refused: FieldErrors) => Promise<void> | void): RequestHandler {
  return async (req, res, next) => {
    try {
      await handler(req, res, next);
    } catch (err) {
      if (!(err instanceof FieldErrors) || res.headersSent) throw err;
      keepRefused(req, res, err);
      await again(req, res, err);
    }
  };
}
