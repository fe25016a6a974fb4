// abra's app env files ($ABRA_DIR/servers/default/<domain>.env): the truth for how an app is configured.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { domainSchema } from '../../validation.ts';
import { readEnvValues, writeFileAtomic } from '../../services/env-file.ts';
import { stackNameFor } from './names.ts';

export type InstalledApp = { domain: string; stack: string; recipe: string; version: string | null; envPath: string };

export const serverDir = (abraDir: string) => path.join(abraDir, 'servers', 'default');
export const envPathFor = (abraDir: string, domain: string) => path.join(serverDir(abraDir), `${domain}.env`);

export function describeEnv(domain: string, envPath: string, text: string): InstalledApp {
  const values = readEnvValues(text);
  const [recipe = '', version = null] = (values.get('TYPE') ?? values.get('RECIPE') ?? '').split(':');
  return { domain, stack: values.get('STACK_NAME') || stackNameFor(domain), recipe, version, envPath };
}

export function listInstalled(abraDir: string): InstalledApp[] {
  const dir = serverDir(abraDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.env') && domainSchema.safeParse(f.slice(0, -4)).success)
    .map((f) => describeEnv(f.slice(0, -4), path.join(dir, f), readFileSync(path.join(dir, f), 'utf8')));
}

export function readAppEnv(abraDir: string, domain: string): string | undefined {
  const file = envPathFor(abraDir, domain);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export function writeAppEnv(abraDir: string, domain: string, text: string): void {
  writeFileAtomic(envPathFor(abraDir, domain), text);
}
