// The recipe catalogue: search and filter, a recipe's page (scores, versions, CPU and resource fit), and a refresh.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { formatPlatform, type Fit } from '../../services/arch-fit.ts';
import { recipeNameSchema, recipeVersionSchema, categoriesOf, imagesOf, latestOf, searchCatalogue, type CatalogueEntry, type CatalogueState, type EntryVersion } from '../../services/catalogue.ts';
import { UserFacingError } from '../../errors.ts';
import { auditRefusals } from '../audited.ts';
import { actorOf, type Services } from '../context.ts';
import { fitBadge, serviceFitText } from '../fit-badge.ts';
import { ago, formatBytes } from '../format.ts';
import { parseForm } from '../forms.ts';
import { render } from '../render.ts';

const querySchema = z.object({
  q: z.string().max(100, 'must be at most 100 characters').optional().default(''),
  category: z.string().max(60).optional().default(''),
  runs: z.literal('on').optional(),
});

/**
 * One calm sentence on where the list comes from and how old it is. Offline is normal for a library node: the page
 * says what it knows (the copy's age, the last try and why it failed), not an alarm.
 */
function copyNote(state: CatalogueState, now: number): { text: string; stale: boolean } {
  if (!state.url) return { text: 'This node does not read an online catalogue: it offers the recipes it carries.', stale: false };
  if (!state.fetchedAt) {
    return {
      text: state.error
        ? `The node has not reached the online catalogue yet (${state.error}, ${ago(state.attemptedAt ?? now, now)}); showing the recipes it carries. It tries again by itself.`
        : 'The catalogue has not been read yet; showing the recipes on this node.',
      stale: Boolean(state.error),
    };
  }
  const age = `The catalogue copy is from ${ago(state.fetchedAt, now)}.`;
  const failedSince = state.error && state.attemptedAt && state.attemptedAt > state.fetchedAt;
  return failedSince
    ? { text: `${age} The node could not reach the catalogue ${ago(state.attemptedAt!, now)} (${state.error}); it keeps that copy and tries again by itself.`, stale: true }
    : { text: age, stale: false };
}

/** What "Refresh the catalogue now" did, said on the page it comes back to. */
function refreshNote(outcome: unknown, state: CatalogueState, inCatalogue: number, now: number): { notice?: string; error?: string } {
  if (outcome === 'ok') return { notice: `Refreshed just now: the online catalogue lists ${inCatalogue} recipe${inCatalogue === 1 ? '' : 's'}.` };
  if (outcome === 'failed') {
    const kept = state.fetchedAt ? `the node keeps its copy from ${ago(state.fetchedAt, now)}` : 'the node shows the recipes it carries';
    return { error: `Could not refresh the catalogue: ${state.error ?? 'no answer'}. Nothing is lost: ${kept}.` };
  }
  if (outcome === 'off') return { notice: 'This node does not read an online catalogue, so there is nothing to refresh.' };
  return {};
}

export function catalogueRoutes(s: Services, now: () => number) {
  let warming: Promise<unknown> | undefined;
  const fitOf = (v: EntryVersion | undefined): Fit | undefined => (v ? s.archFit.cached(imagesOf(v)) : undefined);

  /** Checks, in the background and one batch at a time, the latest versions nobody has checked yet. */
  function warm(entries: CatalogueEntry[]): void {
    if (warming) return;
    const unchecked = entries.map(latestOf).filter((v): v is EntryVersion => Boolean(v && v.services.length && fitOf(v)?.services.some((x) => x.verdict === 'unchecked')));
    if (!unchecked.length) return;
    // One version after another: each check already asks for its images a few at a time, and every registry
    // answer counts as a pull against anonymous rate limits.
    warming = (async () => {
      for (const v of unchecked) await s.archFit.check(imagesOf(v)).catch(() => undefined);
    })().finally(() => (warming = undefined));
  }

  const recipesPage: RequestHandler = async (req, res) => {
    const query = parseForm(querySchema, req.query, { q: 'The search', category: 'The category' });
    const entries = await s.catalogue.entries();
    warm(entries);
    const shown = searchCatalogue(entries, { q: query.q, category: query.category, runsHere: query.runs === 'on' }, (e) => fitOf(latestOf(e))?.verdict === 'runs');
    render(req, res, 'recipes', {
      title: 'Install an app',
      recipes: shown.map((e) => ({ ...e, latest: latestOf(e), badge: fitBadge(fitOf(latestOf(e))) })),
      total: entries.length,
      unchecked: entries.filter((e) => fitOf(latestOf(e))?.services.some((x) => x.verdict === 'unchecked')).length,
      categories: categoriesOf(entries),
      query,
      copy: copyNote(s.catalogue.state(), now()),
      ...refreshNote(req.query.refreshed, s.catalogue.state(), entries.filter((e) => e.inCatalogue).length, now()),
      abraMissing: s.lifecycle.problem(),
    });
  };

  const refresh: RequestHandler = auditRefusals(s, 'catalogue.refresh', async (req, res) => {
    const state = await s.catalogue.refreshFor(actorOf(req, res.locals.session));
    const failed = Boolean(state.error && state.attemptedAt !== state.fetchedAt);
    // The page it comes back to says what the refresh did, or why it could not.
    res.redirect(303, `/recipes?refreshed=${!state.url ? 'off' : failed ? 'failed' : 'ok'}`);
  });

  const fetchRecipe: RequestHandler = auditRefusals(s, 'job.fetch', async (req, res) => {
    const name = parseForm(recipeNameSchema, req.params.name, { value: 'The recipe' });
    if (!(await s.catalogue.entry(name))?.inCatalogue) throw new UserFacingError(`There is no recipe “${name}” in the catalogue.`, 404);
    res.redirect(303, `/jobs/${s.lifecycle.fetchRecipe(name, actorOf(req, res.locals.session)).id}`);
  });

  const recipePage: RequestHandler = async (req, res) => {
    const name = parseForm(recipeNameSchema, req.params.name, { value: 'The recipe' });
    const entry = await s.catalogue.entry(name);
    if (!entry) throw new UserFacingError(`There is no recipe “${name}” in the catalogue or on this node.`, 404);
    const wanted = req.query.version === undefined ? undefined : parseForm(recipeVersionSchema, req.query.version, { value: 'The version' });
    const version = wanted ? entry.versions.find((v) => v.version === wanted) : latestOf(entry);
    if (wanted && !version) throw new UserFacingError(`${name} has no version ${wanted}.`, 404);
    // The chosen version is checked now (bounded by the checker's timeout); the others show what is known.
    const fit = version && version.services.length ? await s.archFit.check(imagesOf(version)) : undefined;
    render(req, res, 'recipe', {
      title: name,
      entry,
      version,
      fit,
      badge: fitBadge(fit),
      services: fit?.services.map((x) => ({ ...x, text: serviceFitText(x) })) ?? [],
      nodePlatform: fit?.node ? formatPlatform(fit.node) : undefined,
      versions: [...entry.versions].reverse().map((v) => ({ ...v, badge: fitBadge(fitOf(v)) })),
      needs: version?.onNode ? await s.lifecycle.installNeeds(name, version.version) : undefined,
      formatBytes,
    });
  };

  return { recipesPage, refresh, fetchRecipe, recipePage };
}
