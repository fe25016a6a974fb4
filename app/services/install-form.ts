// The install and settings forms of a recipe: its `.env.sample` read into fields (with the node's own defaults for
// host folders), what an install asks of the node, and a submitted form turned into env changes.
import { fileAt } from '../adapters/recipes/checkout.ts';
import { applyEnvChanges, parseEnvSample, type EnvChanges, type EnvSample } from './env-file.ts';
import { changesFrom as envChangesFrom, secretsAfter, type SettingsForm } from './env/form.ts';
import { parseEnv } from '../adapters/abra/env-parse.ts';
import { UserFacingError } from '../errors.ts';
import { confinedPaths, type HostRoots } from './host-paths.ts';
import { nodeCapacity, resourceFit, resourcesIn, type ResourceFit } from './resource-fit.ts';

/** What installing a version asks of the node and of the steward. */
export type InstallNeeds = { resources: ResourceFit; settings: number; secrets: string[]; overlays: string[] };

/** The recipe's `.env.sample` at a version, read into a form; a clear refusal when the version has none. */
export async function sampleAt(abraDir: string, recipe: string, version: string): Promise<EnvSample> {
  const text = await fileAt(abraDir, recipe, version, '.env.sample');
  if (text === undefined) throw new UserFacingError(`${recipe} ${version} has no .env.sample, so the node cannot configure it.`);
  return parseEnvSample(text);
}

/**
 * The install form starts from the node's settings where the recipe's sample cannot know them: a host folder kept
 * under one of the node's roots (Kiwix's ZIM_FILES_PATH) starts as that root (ZIM_ROOT), not the sample's guess.
 */
export function withNodeDefaults(recipe: string, sample: EnvSample, roots: HostRoots): EnvSample {
  const confined = confinedPaths(recipe, roots);
  return { ...sample, fields: sample.fields.map((f) => (confined[f.key] !== undefined ? { ...f, value: confined[f.key]! } : f)) };
}

/** Memory and disk against the node's, and what the form will ask; undefined when the compose file cannot say. */
export function needsOf(composeText: string | undefined, sample: EnvSample, dataDir: string): InstallNeeds | undefined {
  if (composeText === undefined) return undefined;
  let services: ReturnType<typeof resourcesIn>;
  try {
    services = resourcesIn(composeText);
  } catch {
    return undefined; // a compose file that does not parse: abra will say so at install, with its own words
  }
  return {
    resources: resourceFit(services, nodeCapacity(dataDir)),
    settings: sample.fields.length,
    secrets: sample.secrets.filter((x) => !x.optional).map((x) => x.name),
    overlays: sample.overlays.map((o) => o.file),
  };
}

/** A submitted settings form as env changes against the file it was made from (the sample, at install). */
export function formChanges(sample: EnvSample, form: SettingsForm, currentText: string = sample.text): EnvChanges {
  return envChangesFrom(sample, parseEnv(currentText), form, currentText);
}

/** The names a change touches, as the audit and the config repository say them: `KEY`, `-KEY` unset, `±overlay`. */
export function changeNames(changes: EnvChanges): string[] {
  return [...changes.set.keys(), ...[...changes.unset].map((k) => `-${k}`), ...[...changes.overlays].map(([o, on]) => `${on ? '+' : '-'}${o}`)];
}

/** Secrets an env change switches on (an overlay that needs one) that the app did not have before. */
export function newSecrets(sample: EnvSample, before: string, after: string): EnvSample['secrets'] {
  const had = new Set(secretsAfter(sample, before).map((x) => x.key));
  return secretsAfter(sample, after).filter((x) => x.generate && !had.has(x.key));
}

/** The env file abra will deploy an install with: the sample with the form's changes, and the app's domain. */
export function installEnvText(sampleText: string, changes: EnvChanges, domain: string): string {
  return applyEnvChanges(sampleText, changes).replace(/^DOMAIN=.*$/m, `DOMAIN=${domain}`);
}

/** The node's defaults as form values, for a form that leaves them out (a script posting only the domain). */
export function nodeDefaultsForm(recipe: string, sample: EnvSample, roots: HostRoots): SettingsForm {
  const confined = confinedPaths(recipe, roots);
  return Object.fromEntries(sample.fields.filter((f) => confined[f.key] !== undefined && !f.optional && !f.overlay).map((f) => [`env.${f.key}`, confined[f.key]!]));
}

/** The env file as a form would leave it, for showing what it finds; undefined when the form itself is refused. */
export function envAfterForm(sample: EnvSample, form: SettingsForm, currentText: string = sample.text): string | undefined {
  try {
    return applyEnvChanges(currentText, formChanges(sample, form, currentText));
  } catch {
    return undefined; // the form's own errors are said beside their fields already
  }
}
