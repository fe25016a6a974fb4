// Deploying recipe/ the way abra does it, for the end-to-end tests: the app's env file made from .env.sample,
// read the way abra reads it, the compose files it names, abra's own labels on `app`, `docker stack deploy`.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { stackNameFor } from '../../app/adapters/abra/names.ts';
import { applyEnvChanges } from '../../app/services/env-file.ts';
import { REPO_ROOT } from '../support/server.ts';

export const RECIPE_DIR = path.join(REPO_ROOT, 'recipe');
export const RECIPE_NAME = 'lores-node';

/**
 * The app's env file as an operator makes it from .env.sample for a LAN node (what `abra app new` and
 * `abra app config` leave): DOMAIN set, the LAN overlay switched on with LAN_PORT. Every other line as sampled.
 */
export function lanAppEnv(domain: string, lanPort: number): string {
  const sample = readFileSync(path.join(RECIPE_DIR, '.env.sample'), 'utf8');
  return applyEnvChanges(sample, {
    set: new Map([
      ['DOMAIN', domain],
      ['LAN_PORT', String(lanPort)],
    ]),
    unset: new Set(),
    overlays: new Map([['compose.lan.yml', true]]),
  });
}

/** An env file read as abra (godotenv) reads it: uncommented lines, quotes stripped, `$VAR` from earlier lines. */
export function readAppEnv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const expand = (v: string) => v.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_]\w*)=(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[2]!.trim();
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      const end = rest.indexOf(quote, 1);
      const inner = end < 0 ? rest.slice(1) : rest.slice(1, end);
      vars[m[1]!] = quote === '"' ? expand(inner) : inner;
    } else {
      const hash = rest.search(/\s#/);
      vars[m[1]!] = expand((hash < 0 ? rest : rest.slice(0, hash)).trim());
    }
  }
  return vars;
}

export type RecipeRelease = {
  /** The recipe version being deployed, `<recipe>+<node>`. */
  version: string;
  /** The image this release's compose.yml names (a local test tag). */
  image: string;
};

/**
 * `abra app deploy` of a release of the recipe: compose.yml as in recipe/ except for its image and version label
 * (what a release changes), the other compose files of COMPOSE_FILE unchanged, plus the labels abra itself puts
 * on `app`; deployed with the env file's values and STACK_NAME, local images (no registry look-up).
 */
/**
 * The recipe as a release of it would be: recipe/ with its compose.yml naming the release's image and version
 * (what `abra recipe release` changes), written to `dir`.
 */
export function writeReleaseTree(release: RecipeRelease, dir: string): void {
  cpSync(RECIPE_DIR, dir, { recursive: true });
  const file = path.join(dir, 'compose.yml');
  const text = readFileSync(file, 'utf8');
  const images = text.match(/^(\s*image:\s*)\S+\s*$/gm) ?? [];
  const versions = text.match(/coop-cloud\.\$\{STACK_NAME\}\.version=[^"\s]+/g) ?? [];
  if (images.length !== 1 || versions.length !== 1) throw new Error(`compose.yml should name one image and one version label (${images.length}, ${versions.length})`);
  writeFileSync(file, text.replace(/^(\s*image:\s*)\S+\s*$/m, `$1${release.image}`).replace(/(coop-cloud\.\$\{STACK_NAME\}\.version=)[^"\s]+/, `$1${release.version}`));
}

export async function deployRelease(
  appEnvText: string,
  release: RecipeRelease,
  workDir: string,
  /** `always`: the image is looked up in its registry (a multi-architecture index: the swarm picks the variant). */
  resolveImage: 'never' | 'always' = 'never',
): Promise<{ stack: string; files: string[] }> {
  const env = readAppEnv(appEnvText);
  const stack = env.STACK_NAME || stackNameFor(env.DOMAIN ?? '');
  const files = (env.COMPOSE_FILE || 'compose.yml').split(':').filter(Boolean);
  const dir = mkdtempSync(path.join(workDir, `release-${release.version}-`));
  writeReleaseTree(release, dir);
  writeFileSync(path.join(dir, '.env'), appEnvText);
  // abra labels the app service with the recipe, the deployed version and chaos=false on every deploy.
  const abraLabels = {
    version: '3.8',
    services: {
      app: {
        deploy: {
          labels: {
            [`coop-cloud.${stack}.recipe`]: RECIPE_NAME,
            [`coop-cloud.${stack}.version`]: release.version,
            [`coop-cloud.${stack}.chaos`]: 'false',
          },
        },
      },
    },
  };
  writeFileSync(path.join(dir, 'abra-labels.yml'), stringify(abraLabels));
  const args = ['stack', 'deploy', '--resolve-image', resolveImage, ...[...files, 'abra-labels.yml'].flatMap((f) => ['-c', f]), stack];
  await execa('docker', args, { cwd: dir, env: { ...env, STACK_NAME: stack } });
  return { stack, files };
}

export type UpdateStatus = { State?: string; StartedAt?: string; CompletedAt?: string; Message?: string };

export async function serviceInspect(service: string): Promise<{ image: string; labels: Record<string, string>; update: UpdateStatus | null }> {
  const { stdout } = await execa('docker', ['service', 'inspect', service, '--format', '{{json .}}']);
  const s = JSON.parse(stdout) as {
    Spec: { Labels?: Record<string, string>; TaskTemplate: { ContainerSpec: { Image: string } } };
    UpdateStatus?: UpdateStatus;
  };
  return { image: s.Spec.TaskTemplate.ContainerSpec.Image, labels: s.Spec.Labels ?? {}, update: s.UpdateStatus ?? null };
}

export type Container = { id: string; image: string; health: string };

/** The service's running containers, with their image and health. */
export async function runningContainers(service: string): Promise<Container[]> {
  const ps = await execa('docker', ['ps', '-q', '-f', `label=com.docker.swarm.service.name=${service}`, '-f', 'status=running'], { reject: false });
  const ids = ps.stdout.split('\n').filter(Boolean);
  if (!ids.length) return [];
  const r = await execa('docker', ['inspect', '--format', '{{.Id}} {{.Config.Image}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', ...ids], { reject: false });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id = '', image = '', health = ''] = l.split(' ');
      return { id, image, health };
    });
}

/** A password as abra generates one for `# length=32`: 32 letters and digits. */
export function generatedPassword(length = 32): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint32Array(length);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => chars[b % chars.length]).join('');
}

export const tmp = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/**
 * The recipe's forge, as `abra recipe release` leaves it: a git repository with one commit and annotated tag per
 * release (for the node to fetch new versions of itself from).
 */
export async function makeForge(releases: RecipeRelease[], dir: string): Promise<void> {
  const git = (...args: string[]) => execa('git', ['-C', dir, '-c', 'user.name=e2e', '-c', 'user.email=e2e@lores.invalid', ...args]);
  mkdirSync(dir, { recursive: true });
  await git('init', '-q', '-b', 'main');
  for (const release of releases) {
    for (const entry of readdirSync(dir)) if (entry !== '.git') rmSync(path.join(dir, entry), { recursive: true, force: true });
    writeReleaseTree(release, dir);
    await git('add', '-A');
    await git('commit', '-q', '-m', `lores-node ${release.version}`);
    await git('tag', '-a', release.version, '-m', `lores-node ${release.version}`);
  }
}
