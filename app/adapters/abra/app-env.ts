// abra's app env files ($ABRA_DIR/servers/default/<domain>.env): the truth for how an app is configured.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { domainSchema } from '../../validation.ts';
import { readValues as readEnvValues } from './env-parse.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { stackNameFor } from './names.ts';

export type InstalledApp = { domain: string; stack: string; recipe: string; version: string | null; envPath: string };

export const serverDir = (abraDir: string) => path.join(abraDir, 'servers', 'default');
export const envPathFor = (abraDir: string, domain: string) => path.join(serverDir(abraDir), `${domain}.env`);

export function describeEnv(domain: string, envPath: string, text: string): InstalledApp {
  const values = readEnvValues(text);
  const [recipe = '', version = null] = (values.get('TYPE') ?? values.get('RECIPE') ?? '').split(':');
  return { domain, stack: values.get('STACK_NAME') || stackNameFor(domain), recipe, version, envPath };
}

// Pages list installed apps on every render: re-read an env file only when it changed on disk.
const parsed = new Map<string, { mtimeMs: number; size: number; app: InstalledApp }>();

export function listInstalled(abraDir: string): InstalledApp[] {
  const dir = serverDir(abraDir);
  if (!existsSync(dir)) return [];
  const apps: InstalledApp[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.env') || !domainSchema.safeParse(f.slice(0, -4)).success) continue;
    const file = path.join(dir, f);
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) continue;
    let hit = parsed.get(file);
    if (!hit || hit.mtimeMs !== st.mtimeMs || hit.size !== st.size) {
      hit = { mtimeMs: st.mtimeMs, size: st.size, app: describeEnv(f.slice(0, -4), file, readFileSync(file, 'utf8')) };
      parsed.set(file, hit);
    }
    apps.push(hit.app);
  }
  return apps;
}

export function readAppEnv(abraDir: string, domain: string): string | undefined {
  const file = envPathFor(abraDir, domain);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export function writeAppEnv(abraDir: string, domain: string, text: string): void {
  writeFileAtomic(envPathFor(abraDir, domain), text);
}
