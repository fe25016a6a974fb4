// The import direction of app/ (.dependency-cruiser.cjs, run by `npm run lint:deps` first in `npm test`): proven
// to reject each kind of wrong import on a small tree written for the test, and to accept the real tree.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type IReporterOutput } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const config = createRequire(import.meta.url)(path.join(root, '.dependency-cruiser.cjs')) as { forbidden: NonNullable<ICruiseOptions['ruleSet']>['forbidden']; options: ICruiseOptions };

/** The rule names the cruise of `dir` (relative to `baseDir`) breaks, as "rule: from → to". */
async function violations(baseDir: string, dir = 'app'): Promise<string[]> {
  const result: IReporterOutput = await cruise([dir], {
    ...config.options,
    baseDir,
    tsConfig: { fileName: path.join(root, 'tsconfig.json') },
    ruleSet: { forbidden: config.forbidden },
    validate: true,
  });
  if (typeof result.output === 'string') throw new Error(result.output);
  return result.output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
}

describe('import rules', () => {
  const fixture = mkdtempSync(path.join(tmpdir(), 'lores-imports-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(fixture, file)), { recursive: true });
    writeFileSync(path.join(fixture, file), text);
  };

  it('rejects every kind of wrong import in a small tree, and nothing else', async () => {
    // Allowed: http → services → adapters → store, everyone → the kernel.
    write('app/errors.ts', 'export class UserFacingError extends Error {}\n');
    write('app/store/jobs.ts', "import { UserFacingError } from '../errors.ts';\nexport const jobs = [UserFacingError];\n");
    write('app/adapters/docker/client.ts', "import { jobs } from '../../store/jobs.ts';\nexport const docker = jobs;\n");
    write('app/services/apps.ts', "import { docker } from '../adapters/docker/client.ts';\nexport const apps = docker;\n");
    write('app/http/routes/apps.ts', "import { apps } from '../../services/apps.ts';\nexport const route = apps;\n");
    expect(await violations(fixture)).toEqual([]);

    // Wrong: a route reaching the store and an adapter, and a type from the store (type-only imports count); an adapter and the store importing upwards; the kernel
    // importing a layer; a cycle between two services (reported once, where it closes); a view imported.
    write('app/http/routes/jobs.ts', "import { jobs } from '../../store/jobs.ts';\nimport { docker } from '../../adapters/docker/client.ts';\nexport const route = [jobs, docker];\n");
    write('app/http/context.ts', "import type { Store } from '../store/index.ts';\nexport type Services = { store: Store };\n");
    write('app/store/index.ts', 'export type Store = { answers(): boolean };\n');
    write('app/adapters/abra/env.ts', "import { apps } from '../../services/apps.ts';\nexport const env = apps;\n");
    write('app/store/users.ts', "import { docker } from '../adapters/docker/client.ts';\nexport const users = docker;\n");
    write('app/validation.ts', "import { apps } from './services/apps.ts';\nexport const v = apps;\n");
    write('app/services/a.ts', "import { b } from './b.ts';\nexport const a = () => b;\n");
    write('app/services/b.ts', "import { a } from './a.ts';\nexport const b = () => a;\n");
    write('app/views/page.ts', 'export const page = 1;\n');
    write('app/services/render.ts', "import { page } from '../views/page.ts';\nexport const r = page;\n");
    expect(await violations(fixture)).toEqual([
      'adapters-below-services: app/adapters/abra/env.ts → app/services/apps.ts',
      'http-gets-services-only: app/http/context.ts → app/store/index.ts',
      'http-gets-services-only: app/http/routes/jobs.ts → app/adapters/docker/client.ts',
      'http-gets-services-only: app/http/routes/jobs.ts → app/store/jobs.ts',
      'kernel-below-all: app/validation.ts → app/services/apps.ts',
      'no-cycles: app/services/a.ts → app/services/b.ts',
      'store-is-lowest: app/store/users.ts → app/adapters/docker/client.ts',
      'views-and-public-not-imported: app/services/render.ts → app/views/page.ts',
    ]);
  }, 30_000);

  it('finds no wrong import in app/', async () => {
    expect(await violations(root)).toEqual([]);
  }, 30_000);
});
