// The CPU-fit badge as pages show it: a class, a short text and a hover title with the details. It speaks of the
// images and this CPU only, so it never reads like the other badge, "installs offline" (the recipe is on this node).
import { formatPlatform } from '../services/arch-fit.ts';
import { label, type Fit } from '../services/arch-fit.ts';

export type FitBadge = { verdict: string; cls: string; text: string; title: string };

export function fitBadge(fit: Fit | undefined): FitBadge {
  if (!fit || !fit.services.length) return { verdict: 'unknown', cls: 'fit-unknown', text: 'CPU support unknown', title: 'No images to check' };
  const title = label(fit);
  if (fit.verdict === 'runs') return { verdict: 'runs', cls: 'fit-runs', text: 'built for this CPU', title: `Every image has a build for ${fit.node ? formatPlatform(fit.node) : 'this CPU'}` };
  if (fit.verdict === 'not-for-this-cpu') {
    const which = fit.services.filter((s) => s.verdict === 'not-for-this-cpu').map((s) => s.service);
    return { verdict: 'not-for-this-cpu', cls: 'fit-no', text: `not for this CPU: ${which.join(', ')}`, title };
  }
  const unchecked = fit.services.every((s) => s.verdict === 'runs' || s.verdict === 'unchecked');
  return { verdict: 'unknown', cls: 'fit-unknown', text: unchecked ? 'CPU support not checked yet' : 'CPU support unknown', title };
}

/** One service's line in a version's image table. */
export function serviceFitText(s: Fit['services'][number]): string {
  if (s.verdict === 'runs') return s.reason ? `has a build (${s.reason})` : 'has a build';
  if (s.verdict === 'not-for-this-cpu') return `no build (only ${[...new Set((s.platforms ?? []).map(formatPlatform))].join(', ')})`;
  return `unknown${s.reason ? `: ${s.reason}` : ''}`;
}
