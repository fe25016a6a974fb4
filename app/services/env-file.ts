// Co-op Cloud env files, read and written the way abra reads them (app/services/env/): a recipe's .env.sample as a
// settings form, and an app's env file changed line by line so comments, order and untouched lines stay exactly.
import { z } from 'zod';
import { readValues } from '../adapters/abra/env-parse.ts';
import { valueProblem } from './env/write.ts';

export { parseEnvSample, type EnvField, type EnvSample, type Overlay, type SecretField } from './env/sample.ts';
export { applyEnvChanges, encodeValue, valueProblem, type EnvChanges } from './env/write.ts';

export const envKeySchema = z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'is not an env key (capital letters, digits and _)');

/** A value that can be written to an env file so that abra reads it back unchanged (one line, no NUL). */
export const envValueSchema = z.string().superRefine((v, ctx) => {
  const problem = valueProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** What abra reads from an env file: the last active assignment of each key, quotes and escapes resolved. */
export function readEnvValues(text: string): Map<string, string> {
  return readValues(text);
}
