// Names abra derives and the shapes the node accepts before anything reaches abra.
import { z } from 'zod';

/** abra's STACK_NAME: the domain with dots as underscores, cut to 45 characters. */
export const MAX_STACK_NAME = 45;
export const stackNameFor = (domain: string): string => domain.replace(/\./g, '_').slice(0, MAX_STACK_NAME);

export const recipeNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'is not a recipe name (lower-case letters, digits, - and _)');
// <recipe semver>+<upstream version>, as Co-op Cloud tags releases (annotated git tags).
export const recipeVersionSchema = z
  .string()
  .regex(/^\d{1,6}\.\d{1,6}\.\d{1,6}(?:-[0-9A-Za-z.-]{1,40})?\+[0-9A-Za-z._-]{1,64}$/, 'is not a recipe version such as 1.2.0+3.4.5');
export const serviceNameSchema = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, 'is not a service name');

/** Compares recipe versions: the recipe's semver first, then the upstream part. */
export function compareVersions(a: string, b: string): number {
  const [ra = '', ua = ''] = a.split('+');
  const [rb = '', ub = ''] = b.split('+');
  const num = (v: string) => v.split('-')[0]!.split('.').map(Number);
  const [x, y] = [num(ra), num(rb)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return ua.localeCompare(ub, undefined, { numeric: true });
}
