// Small wording helpers shared by routes that prepare page data, and the `words` the views use (render.ts hands
// them to every template): plain words for numbers, times and Docker's events.
import { fieldWords, overlayWords } from '../services/env/labels.ts';
import { auditAction, auditDetail } from './audit-words.ts';
export { formatBytes } from '../services/resource-fit.ts';

/** "5 minutes ago", "3 days ago": how old a copy is, in the words a steward uses. */
export function ago(then: number, now: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000));
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'} ago`;
  if (s < 60) return 'just now';
  if (s < 3600) return unit(Math.floor(s / 60), 'minute');
  if (s < 86_400) return unit(Math.floor(s / 3600), 'hour');
  return unit(Math.floor(s / 86_400), 'day');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export type TimeStyle = 'datetime' | 'date' | 'time';

/**
 * A moment as HTML: `<time datetime="ISO" data-style="…">` around a readable UTC text. app.js rewrites the text in
 * the browser's own time zone; without JavaScript the UTC text stays, and says it is UTC.
 */
export function timeTag(at: number | string | Date | null | undefined, style: TimeStyle = 'datetime'): string {
  if (at === null || at === undefined || at === '') return '';
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) return escapeHtml(String(at));
  const iso = d.toISOString();
  const text = style === 'date' ? iso.slice(0, 10) : style === 'time' ? `${iso.slice(11, 19)} UTC` : `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  return `<time datetime="${iso}" data-style="${style}">${text}</time>`;
}

/** "2 of 5": how many copies of an app or service run against how many it should have. */
export const runningText = (running: number, desired: number) => `${running} of ${desired}`;

/** What an exit code usually means, for people who do not know the numbers. */
export function exitWords(code: string | number): string {
  const n = Number(code);
  if (n === 0) return 'stopped normally';
  if (n === 137) return 'stopped: out of memory or killed (137)';
  if (n === 143) return 'stopped when asked to (143)';
  if (n === 139) return 'crashed (139)';
  if (n === 126 || n === 127) return `could not start its program (${n})`;
  return `stopped with an error (exit code ${code})`;
}

/** A line of the model's recent events ("container die (exit code 137)") in plain words. */
export function eventWords(what: string): string {
  const died = /^container die(?: \(exit code (-?\d+)\))?$/.exec(what);
  if (died) return died[1] === undefined ? 'stopped' : exitWords(died[1]);
  const health = /^container health: (.+)$/.exec(what);
  if (health) return health[1] === 'healthy' ? 'passed its health check' : health[1] === 'unhealthy' ? 'failed its health check' : `health check: ${health[1]}`;
  const known: Record<string, string> = {
    'container start': 'started',
    'container oom': 'ran out of memory',
    'container kill': 'was told to stop',
    'service create': 'service created',
    'service update': 'service changed',
    'service remove': 'service removed',
  };
  return known[what] ?? what;
}

/** A Docker log line (`2026-12-04T21:05:09.123456789Z text`) split into its moment and its text. */
export function logLineParts(text: string): { at?: string; rest: string } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d) ?(.*)$/s.exec(text);
  if (!m) return { rest: text };
  const d = new Date(`${m[1]}${m[2]}`);
  return Number.isNaN(d.getTime()) ? { rest: text } : { at: timeTag(d, 'time'), rest: m[3]! };
}

// A recipe's scores (Co-op Cloud's README metadata, docs.coopcloud.tech/recipes/) in words.
const MATURITY = ['', 'experimental', 'early: several things missing', 'works, one or two things missing', 'mature', 'mature, with single sign-on'];
const IMAGE_SOURCE = ['', 'made by the recipe’s maintainers', 'from a third party', 'semi-official', 'the project’s official image'];
const LEVEL = ['not supported', 'set up by hand', 'mostly automatic', 'automatic'];
const TESTS = ['no automatic tests', 'deploys in automatic tests', 'deploys with its secrets and networks in automatic tests', 'deploys and passes its health check in automatic tests'];

/** "mature (4 of 5)" for a recipe's overall score. */
export const maturityWords = (status: number | null) => (status === null || !MATURITY[status] ? '' : `${MATURITY[status]} (${status} of 5)`);

/** A 0–3 score (e-mail, single sign-on, tests) or Yes/No/N/A in words; anything else as the recipe wrote it. */
export function scoreWords(kind: 'level' | 'tests', value: string): string {
  const v = value.trim();
  if (/^n\/?a$/i.test(v)) return 'does not apply';
  if (/^(yes|no)$/i.test(v)) return v.toLowerCase();
  const n = /^[0-3]$/.test(v) ? Number(v) : undefined;
  if (n === undefined) return v;
  return kind === 'tests' ? TESTS[n]! : LEVEL[n]!;
}

/** "the project’s official image" for an image rating of 4. */
export const imageRatingWords = (rating: string) => IMAGE_SOURCE[Number(rating)] ?? '';

/**
 * Text from elsewhere (abra's messages, Docker's errors) without emoji: a Pi without an emoji font shows them as
 * blank boxes (abra ends "deploy timed out" with a sad face). Pictographs, their variation selectors and joiners go;
 * the words stay.
 */
export function fontSafe(text: string): string {
  if (!/[\p{Extended_Pictographic}\u{FE0F}\u{200D}]/u.test(text)) return text;
  return text.replace(/\s*[\p{Extended_Pictographic}\u{FE0F}\u{200D}]+/gu, '').replace(/ {2,}/g, ' ');
}

/** What every template gets as `words` (see render.ts). */
export const viewWords = { time: timeTag, running: runningText, event: eventWords, exit: exitWords, logLine: logLineParts, setting: fieldWords, option: overlayWords, maturity: maturityWords, score: scoreWords, imageRating: imageRatingWords, auditAction, auditDetail, fontSafe };
export type ViewWords = typeof viewWords;
