// Parse a form body or path parameter with a schema; a bad value becomes a 400 that says what is wrong.
import type { z } from 'zod';
import { UserFacingError } from '../services/errors.ts';
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
