// The same assertions against the abra test double and, when ABRA_CONTRACT_BIN points at one, a real abra:
// what the node relies on (argv, files written, -m JSON shapes, exit codes) holds for both.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { abraCommands } from '../../app/adapters/abra/commands.ts';
import { AbraError } from '../../app/adapters/abra/run.ts';
import { installBundledRecipes } from '../../app/adapters/recipes/checkout.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES } from '../support/abra.ts';
import { haveDocker } from '../support/requirements.ts';

const dockerThere = await haveDocker();
const realAbra = process.env.ABRA_CONTRACT_BIN;
if (!realAbra) console.warn('abra contract: real abra NOT RUN (set ABRA_CONTRACT_BIN=/path/to/abra to check the double against it)');

function contract(label: string, bin: string) {
  describe.skipIf(!dockerThere)(`abra contract: ${label}`, () => {
    const abraDir = mkdtempSync(path.join(tmpdir(), 'lores-contract-'));
    const abra = abraCommands({ bin, abraDir, pty: 'script', timeoutMs: 120_000 });
    const domain = `c${randomBytes(3).toString('hex')}.lores.test`;
    const stack = domain.replaceAll('.', '_');

    afterAll(async () => {
      const secrets = await execa('docker', ['secret', 'ls', '-q', '--filter', `name=${stack}_`], { reject: false });
      if (secrets.stdout.trim()) await execa('docker', ['secret', 'rm', ...secrets.stdout.trim().split('\n')], { reject: false });
      rmSync(abraDir, { recursive: true, force: true });
    });

    it('reports its version', async () => {
      expect(await abra.version()).toMatch(/\d+\.\d+\.\d+/);
    });

    it('registers the local server once and lists it as JSON', async () => {
      await abra.serverAddLocal();
      await abra.serverAddLocal(); // idempotent: a second run must not fail
      expect(existsSync(path.join(abraDir, 'servers', 'default'))).toBe(true);
      expect(await abra.serverLs()).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'default' })]));
    });

    it('creates an app env file from the recipe version, offline, with TYPE=<recipe>:<version>', async () => {
      await installBundledRecipes(FIXTURE_RECIPES, abraDir, () => {});
      await abra.appNew({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain });
      const env = readFileSync(path.join(abraDir, 'servers', 'default', `${domain}.env`), 'utf8');
      expect(env).toMatch(/^(TYPE|RECIPE)=lores-test-app:1\.0\.0\+1\.0$/m);
      expect(env).toContain('# What the app says hello to');
    });

    it('refuses a second app with the same domain with a non-zero exit and a readable reason', async () => {
      const err = await abra.appNew({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbraError);
      expect((err as AbraError).exitCode).toBe(1);
      expect((err as AbraError).message).toMatch(/^abra failed: .+/);
    });

    it('generates the declared secrets and prints them once as JSON the node can read', async () => {
      const secrets = await abra.secretGenerateAll(domain);
      expect(secrets).toEqual([expect.objectContaining({ name: 'db_password', version: 'v1', dockerName: `${stack}_db_password_v1` })]);
      expect(secrets[0]!.value).toHaveLength(32);
      expect((await execa('docker', ['secret', 'ls', '--format', '{{.Name}}'])).stdout).toContain(`${stack}_db_password_v1`);
    });

    it('removes an undeployed app: env file and secrets', async () => {
      await abra.appRemove(domain);
      expect(existsSync(path.join(abraDir, 'servers', 'default', `${domain}.env`))).toBe(false);
      expect((await execa('docker', ['secret', 'ls', '--format', '{{.Name}}'])).stdout).not.toContain(`${stack}_db_password_v1`);
    });
  });
}

contract('test double', ABRA_DOUBLE);
if (realAbra) contract(`real abra at ${realAbra}`, realAbra);
else it.todo('abra contract against a real abra: not run (set ABRA_CONTRACT_BIN)');
