// Pre-flight: before abra deploys anything, what the node itself can check, it checks, and says what is wrong
// beside the setting that causes it: a host folder under the node's roots that is missing, a host port another
// stack already publishes, an image neither on this node nor in its registry. Findings are not guesses: what the
// node cannot see (host folders outside its roots, a registry that does not answer for a present image) passes.
import { chmodSync, existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { parse } from 'yaml';
import type { ServiceState } from '../adapters/docker/live-model.ts';
import { ImageLookupError, imagePlatforms, localImagePlatform } from '../adapters/docker/platforms.ts';
import { fileAt } from '../adapters/recipes/checkout.ts';
import { readEnvValues } from './env-file.ts';
import { SettingsRefused } from './env/form.ts';
import { UserFacingError } from '../errors.ts';
import { abraShExports, composeFilesOf, interpolate } from './host-reach.ts';
import { confinedPathProblems, confinedPaths, type HostRoots } from './host-paths.ts';

/** What a deploy would ask of the host, read from its compose files with the values it is deployed with. */
export type DeployPlan = {
  binds: { service: string; source: string; key?: string }[];
  ports: { service: string; published: number; key?: string }[];
  images: { service: string; image: string }[];
};

/** One thing that would make the deploy fail, with the setting it belongs to and, for a missing folder, the remedy. */
export type Finding = { key?: string; problem: string; createFolder?: string };

/** Where findings without a setting of their own go on a form. */
export const GENERAL_FIELD = 'preflight';

/** The setting a compose value comes from when it is exactly `${KEY}`, `$KEY` or `${KEY:-default}`. */
function keyOf(raw: unknown): string | undefined {
  return typeof raw === 'string' ? /^\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}?$/.exec(raw.trim())?.[1] : undefined;
}

type ComposeService = { image?: unknown; volumes?: unknown; ports?: unknown };

/** The binds, published ports and images of compose files; later files add to (or override) earlier ones, as in abra. */
export function deployPlanIn(files: { file: string; text: string }[], env: ReadonlyMap<string, string>): DeployPlan {
  const images = new Map<string, string>();
  const binds: DeployPlan['binds'] = [];
  const ports: DeployPlan['ports'] = [];
  const str = (x: unknown) => (typeof x === 'string' ? interpolate(x, env).value : x === undefined || x === null ? '' : String(x));
  for (const { text } of files) {
    let doc: { services?: Record<string, ComposeService | null> } | null;
    try {
      doc = parse(text) as typeof doc;
    } catch {
      continue; // abra will say what is wrong with a compose file that does not parse
    }
    for (const [service, spec] of Object.entries(doc?.services ?? {})) {
      if (!spec || typeof spec !== 'object') continue;
      if (spec.image !== undefined) images.set(service, str(spec.image));
      for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) {
        if (typeof v === 'string') {
          const rawSource = v.split(':')[0] ?? '';
          const [source = '', target] = str(v).split(':');
          if (target !== undefined && source.startsWith('/')) binds.push({ service, source, ...(keyOf(rawSource) ? { key: keyOf(rawSource) } : {}) });
        } else if (v && typeof v === 'object' && str((v as Record<string, unknown>).type) === 'bind') {
          const raw = (v as Record<string, unknown>).source;
          binds.push({ service, source: str(raw), ...(keyOf(raw) ? { key: keyOf(raw) } : {}) });
        }
      }
      for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
        const long = p && typeof p === 'object' ? (p as Record<string, unknown>) : undefined;
        if (long && str(long.protocol || 'tcp') !== 'tcp') continue;
        const raw = long ? long.published : String(p).replace(/\/tcp$/, '').split(':').slice(-2, -1)[0];
        if (raw === undefined || /\/(udp|sctp)$/.test(String(p))) continue;
        const published = Number(str(raw));
        if (Number.isInteger(published) && published > 0) ports.push({ service, published, ...(keyOf(raw) ? { key: keyOf(raw) } : {}) });
      }
    }
  }
  return { binds, ports, images: [...images].map(([service, image]) => ({ service, image })) };
}

/** The deploy plan of a recipe version with an env file, as abra would deploy it (abra.sh exports and STACK_NAME added). */
export async function deployPlanAt(abraDir: string, recipe: string, version: string, envText: string, stack: string): Promise<DeployPlan> {
  const env = new Map(readEnvValues(envText));
  for (const [k, v] of abraShExports(await fileAt(abraDir, recipe, version, 'abra.sh'))) env.set(k, v);
  env.set('STACK_NAME', stack);
  const files: { file: string; text: string }[] = [];
  for (const file of composeFilesOf(envText)) {
    if (!/^[A-Za-z0-9._-]+\.ya?ml$/.test(file)) continue;
    const text = await fileAt(abraDir, recipe, version, file);
    if (text !== undefined) files.push({ file, text });
  }
  return deployPlanIn(files, env);
}

export type FolderState = 'folder' | 'missing' | 'not-a-folder';
const folderState = (p: string): FolderState => (!existsSync(p) ? 'missing' : statSync(p).isDirectory() ? 'folder' : 'not-a-folder');

/**
 * Bind sources under the node's roots that are not folders. Only there does the node see the host's folders (the
 * roots are mounted into its container at the same paths); elsewhere it cannot tell, and says nothing.
 */
export function folderFindings(plan: DeployPlan, roots: string[], stateOf: (p: string) => FolderState = folderState): Finding[] {
  const under = (p: string) => roots.some((r) => p === r || p.startsWith(r.endsWith('/') ? r : `${r}/`));
  const findings: Finding[] = [];
  for (const b of plan.binds) {
    const source = path.posix.normalize(b.source);
    if (!under(source) || findings.some((f) => f.createFolder === source)) continue;
    const state = stateOf(source);
    const key = b.key ? { key: b.key } : {};
    if (state === 'missing') findings.push({ ...key, problem: `The folder ${source} does not exist on this server.`, createFolder: source });
    else if (state === 'not-a-folder') findings.push({ ...key, problem: `${source} on this server is a file, not a folder. Choose a folder.` });
  }
  return findings;
}

/** Host ports this deploy publishes that a service of another stack already publishes. */
export function portFindings(plan: DeployPlan, stack: string, services: Iterable<ServiceState>): Finding[] {
  const taken = new Map<number, string>();
  for (const s of services) if (s.stack !== stack) for (const p of s.ports) taken.set(p.published, s.stack ?? s.name);
  return plan.ports
    .filter((p) => taken.has(p.published))
    .map((p) => ({ ...(p.key ? { key: p.key } : {}), problem: `Port ${p.published} on this server is already used by ${taken.get(p.published)}. Choose another port.` }));
}

/** How the node learns about an image: a copy here, or its registry's answer (ImageLookupError when it has none). */
export type ImageLookup = { present(image: string): Promise<boolean>; published(image: string): Promise<void> };

export function dockerImageLookup(docker: Docker, timeoutMs = 5000): ImageLookup {
  return {
    present: async (image) => (await localImagePlatform(docker, image)) !== null,
    published: async (image) => void (await imagePlatforms(docker, image, { timeoutMs }).catch((err: unknown) => {
      // A registry that answers without platforms still has the image.
      if (err instanceof ImageLookupError && err.kind === 'no-platforms') return;
      throw err;
    })),
  };
}

/** Images neither on this node nor in their registry. A copy here is enough: an offline node deploys it as it is. */
export async function imageFindings(plan: DeployPlan, lookup: ImageLookup): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const image of [...new Set(plan.images.map((i) => i.image).filter(Boolean))]) {
    if (await lookup.present(image)) continue;
    try {
      await lookup.published(image);
    } catch (err) {
      const kind = err instanceof ImageLookupError ? err.kind : 'failed';
      const reason = err instanceof ImageLookupError ? err.reason : (err as Error).message;
      findings.push({
        problem:
          kind === 'not-found' || kind === 'invalid-ref'
            ? `The image ${image} is not on this server, and its registry does not have it (${reason}). Choose another version, or load the image onto the server.`
            : `The image ${image} is not on this server, and the node cannot download it now (${reason}). Connect the node to the internet, or load the image onto the server, then try again.`,
      });
    }
  }
  return findings;
}

/** A deploy refused before abra ran: each finding beside its setting (`env.KEY`), the rest under GENERAL_FIELD. */
export class PreflightRefused extends SettingsRefused {
  readonly findings: Finding[];
  constructor(findings: Finding[]) {
    const fields: Record<string, string> = {};
    for (const f of findings) {
      const name = f.key ? `env.${f.key}` : GENERAL_FIELD;
      fields[name] = fields[name] ? `${fields[name]} ${f.problem}` : f.problem;
    }
    super(fields, `Before deploying, the node found: ${findings.map((f) => f.problem).join(' ')}`);
    this.findings = findings;
  }
}

/** The mode of a folder the node creates for a recipe: Kiwix reads its ZIM folder as its own user (uid 1001). */
const FOLDER_MODE = 0o755;

export function preflightService(deps: { abraDir: string; roots: HostRoots; services: () => Iterable<ServiceState>; images: ImageLookup }) {
  const rootsOf = (recipe: string) => Object.values(confinedPaths(recipe, deps.roots));
  return {
    /** Everything the node can tell is wrong with deploying this version with this env file, before abra runs. */
    async findings(recipe: string, version: string, envText: string, stack: string): Promise<Finding[]> {
      const plan = await deployPlanAt(deps.abraDir, recipe, version, envText, stack);
      return [...folderFindings(plan, rootsOf(recipe)), ...portFindings(plan, stack, deps.services()), ...(await imageFindings(plan, deps.images))];
    },

    /** Only the folders (no Docker call): for showing on a form before it is sent. */
    async folderFindings(recipe: string, version: string, envText: string, stack: string): Promise<Finding[]> {
      return folderFindings(await deployPlanAt(deps.abraDir, recipe, version, envText, stack), rootsOf(recipe));
    },

    /** Refuses the deploy, field by field, when anything is wrong. */
    async guard(recipe: string, version: string, envText: string, stack: string): Promise<void> {
      const found = await this.findings(recipe, version, envText, stack);
      if (found.length) throw new PreflightRefused(found);
    },

    /**
     * Creates a host folder a recipe setting names, only under the node's root for that setting (symlinks resolved),
     * readable by the app's container user. Returns the folder created (or already there).
     */
    createFolder(recipe: string, key: string, value: unknown): string {
      const confined = confinedPaths(recipe, deps.roots);
      // A recipe without such settings gets no folder from the node at all: not a mistake in the form, a refusal.
      if (!Object.keys(confined).length) throw new UserFacingError(`The node creates folders only for settings it keeps under its own folders, and ${recipe} has none.`, 403);
      const root = confined[key];
      if (root === undefined) throw new UserFacingError(`The node creates folders only for settings it keeps under its own folders; ${key.slice(0, 64)} of ${recipe} is not one.`, 400);
      if (typeof value !== 'string' || !value) throw new SettingsRefused({ [`env.${key}`]: 'needs a folder to create.' });
      const problems = confinedPathProblems(recipe, new Map([[key, value]]), deps.roots);
      if (problems.length) throw new SettingsRefused({ [`env.${key}`]: problems[0]!.problem.replace(new RegExp(`^${key} `), '') });
      const folder = path.resolve(value);
      if (existsSync(folder) && !statSync(folder).isDirectory()) throw new SettingsRefused({ [`env.${key}`]: `${folder} is a file, not a folder.` });
      mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
      // Checked again once it exists: a link swapped in meanwhile must not have led the new folder elsewhere.
      const real = realpathSync(folder);
      const realRoot = realpathSync(root);
      if (real !== realRoot && !real.startsWith(`${realRoot}/`)) throw new UserFacingError(`${folder} leads outside ${root}; the node did not use it.`, 409);
      chmodSync(folder, FOLDER_MODE); // the umask may have taken bits mkdir was given
      return folder;
    },
  };
}
export type Preflight = ReturnType<typeof preflightService>;
