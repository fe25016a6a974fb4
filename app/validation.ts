// Shared validators for anything a person types that later reaches SQLite, abra or Docker.
import { z } from 'zod';
import { FieldErrors, UserFacingError } from './errors.ts';

// RFC 1123 host names: labels of letters, digits and hyphens, not starting or ending with a hyphen.
const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** A domain as people paste it: `https://Kiwix.Library.test/` means `kiwix.library.test` (scheme, trailing slash and case dropped). */
export function cleanDomainInput(value: string): string {
  return value.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '').replace(/\/+$/, '');
}

export const domainSchema = z
  .string()
  .transform(cleanDomainInput)
  .pipe(z.string().regex(DOMAIN_RE, 'must be a domain name such as node.example.org (letters, digits, hyphens and dots)'));

export const usernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z][a-z0-9._-]{1,31}$/, 'must be 2–32 characters: letters, digits, dot, dash or underscore, starting with a letter');

export const passwordSchema = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(200, 'must be at most 200 characters');

export const ROLES = ['admin', 'steward', 'guest'] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES, { message: 'must be admin, steward or guest' });

// Docker stack names as abra makes them (domain with dots as underscores, at most 45 characters) or as operators choose.
export const stackSchema = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'is not a stack name');

export const idSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** Turn a zod failure into one sentence a person can act on. */
export function describeIssues(error: z.ZodError, labels: Record<string, string> = {}): string {
  return error.issues
    .map((issue) => {
      const key = String(issue.path[0] ?? 'value');
      return `${labels[key] ?? key} ${issue.message}`;
    })
    .join('; ');
}

/**
 * The parsed value, or a 400 that says in one sentence what is wrong with it: a FieldErrors keyed by field name when
 * the schema names its fields (an object schema: a form shows each message beside its field, starting with its label).
 */
export function parseOrRefuse<S extends z.ZodType>(schema: S, value: unknown, labels: Record<string, string> = {}): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const message = describeIssues(result.error, labels);
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const name = issue.path.length ? String(issue.path[0]) : '';
    if (name && !(name in fields)) fields[name] = `${labels[String(issue.path[0])] ?? name} ${issue.message}`;
  }
  throw Object.keys(fields).length ? new FieldErrors(fields, message) : new UserFacingError(message);
}
