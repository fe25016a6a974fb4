// A settings form (install or settings page) against an env file: what the page shows, and what a submitted form
// changes. A value the steward did not change is not even looked at, so its line stays byte for byte.
import { FieldErrors, UserFacingError } from '../../errors.ts';
import { parseEnv, type EnvDoc } from '../../adapters/abra/env-parse.ts';
import type { EnvSample } from './sample.ts';
import { applyEnvChanges, OverlayConflict, valueProblem, type EnvChanges } from './write.ts';

/** What a settings form sends: `env.<KEY>` values, `enable.<KEY>` opt-ins, `overlay.<files>` and `secret.<KEY>` switches. */
export type SettingsForm = Record<string, unknown>;

/** A form refused because of some of its fields: each message belongs beside its field (by form name). */
export class SettingsRefused extends FieldErrors {
  constructor(fields: Record<string, string>, message?: string) {
    super(fields, message ?? `Please check these settings: ${Object.entries(fields).map(([name, why]) => `${name.replace(/^\w+\./, '')} ${why}`).join('; ')}.`);
  }
}

/** The form as it stands for an env file: values and switches as abra reads them now. */
export function settingsFor(sample: EnvSample, current: EnvDoc): EnvSample {
  const deployed = new Set((current.values.get('COMPOSE_FILE') ?? 'compose.yml').split(':'));
  return {
    ...sample,
    fields: sample.fields.map((f) => ({ ...f, value: current.values.get(f.key) ?? f.value, enabled: current.values.has(f.key) })),
    secrets: sample.secrets.map((s) => (s.optional ? { ...s, enabled: current.values.has(s.key) } : s)),
    overlays: sample.overlays.map((o) => ({ ...o, enabled: o.files.every((f) => deployed.has(f)) })),
  };
}

/** The form again as the steward sent it (values kept), for showing it with its errors beside the fields. */
export function settingsAsSent(shown: EnvSample, form: SettingsForm): EnvSample {
  const text = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  return {
    ...shown,
    fields: shown.fields.map((f) => ({ ...f, value: text(form[`env.${f.key}`], f.value), enabled: !f.optional || form[`enable.${f.key}`] !== undefined })),
    secrets: shown.secrets.map((s) => (s.optional && !s.overlay ? { ...s, enabled: form[`secret.${s.key}`] !== undefined } : s)),
    overlays: shown.overlays.map((o) => ({ ...o, enabled: form[`overlay.${o.file}`] !== undefined })),
  };
}

/**
 * Turns a submitted settings form into env changes against `current` (the file the form was made from), refusing
 * names the recipe does not declare and values that cannot be written. Unchanged values are not checked.
 */
export function changesFrom(sample: EnvSample, current: EnvDoc, form: SettingsForm, currentText: string): EnvChanges {
  const fields = new Map(sample.fields.map((f) => [f.key, f]));
  const overlays = new Map(sample.overlays.map((o) => [o.file, o]));
  const switchable = new Set(sample.secrets.filter((s) => s.optional && !s.overlay).map((s) => s.key));
  for (const name of Object.keys(form)) {
    const [kind, ...rest] = name.split('.');
    const key = rest.join('.');
    const known = kind === 'env' || kind === 'enable' ? fields.has(key) : kind === 'overlay' ? overlays.has(key) : kind === 'secret' ? switchable.has(key) : true;
    if (!known) throw new UserFacingError(`“${key.slice(0, 64)}” is not ${kind === 'overlay' ? 'an option' : 'a setting'} of this recipe.`);
  }

  const overlayOn = (file: string) => form[`overlay.${file}`] !== undefined;
  const changes: EnvChanges = { set: new Map(), unset: new Set(), overlays: new Map() };
  const errors: Record<string, string> = {};
  for (const f of sample.fields) {
    const enabled = f.overlay ? overlayOn(f.overlay) : f.optional ? form[`enable.${f.key}`] !== undefined : true;
    const active = current.values.has(f.key);
    if (!enabled) {
      if (active) changes.unset.add(f.key);
      continue;
    }
    const before = current.values.get(f.key) ?? f.value;
    const sent = form[`env.${f.key}`];
    if (sent !== undefined && typeof sent !== 'string') {
      errors[`env.${f.key}`] = 'was sent twice';
      continue;
    }
    const value = sent ?? before;
    // Untouched: its line stays as it is. A setting the file lacks (a newer sample's) is left to abra's defaults too.
    if (value === before && (active || (!f.optional && !f.overlay))) continue;
    const problem = value === before ? undefined : valueProblem(value);
    if (problem) errors[`env.${f.key}`] = problem;
    else changes.set.set(f.key, value);
  }
  for (const s of sample.secrets) {
    if (!s.optional && !s.overlay) continue; // always-on secrets are the recipe's, not the form's
    const wanted = s.overlay ? overlayOn(s.overlay) : form[`secret.${s.key}`] !== undefined;
    const active = current.values.has(s.key);
    if (wanted && !active) changes.set.set(s.key, s.version);
    if (!wanted && active) changes.unset.add(s.key);
  }
  const deployed = new Set((current.values.get('COMPOSE_FILE') ?? 'compose.yml').split(':'));
  for (const o of sample.overlays) {
    const on = overlayOn(o.file);
    if (on !== o.files.every((f) => deployed.has(f))) changes.overlays.set(o.file, on);
  }
  if (!Object.keys(errors).length && changes.overlays.size) {
    try {
      applyEnvChanges(currentText, changes);
    } catch (err) {
      if (!(err instanceof OverlayConflict)) throw err;
      for (const o of err.overlays) errors[`overlay.${o}`] = 'cannot be switched on together with the others through COMPOSE_FILE';
    }
  }
  if (Object.keys(errors).length) throw new SettingsRefused(errors);
  return changes;
}

/** Secrets abra will generate after the changes: the active ones, with their generation modifiers. */
export function secretsAfter(sample: EnvSample, text: string): EnvSample['secrets'] {
  const values = parseEnv(text).values;
  return sample.secrets.filter((s) => values.has(s.key)).map((s) => ({ ...s, version: values.get(s.key) || s.version }));
}
