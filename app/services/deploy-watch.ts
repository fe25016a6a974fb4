// While abra waits for a deploy to converge, the node watches its own live model of the swarm: a task error that
// will not go away by waiting (a missing bind folder, an image that cannot be had, a crash loop) ends the wait at
// once, with the reason in plain words and what to do, instead of abra's "deploy timed out" minutes later.
import type { ServiceState, TaskFailure } from '../adapters/docker/live-model.ts';

/** Why a deploy cannot converge: for the job's page. */
export type Trouble = { service: string; reason: string };

/** What the watch reads: the live model's services and its change announcements. */
export type SwarmView = {
  readonly services: ReadonlyMap<string, ServiceState>;
  on(event: 'change', listener: (stacks: Set<string | null>) => void): unknown;
  /** Re-reads the stack's services soon: swarm reports task failures without events of their own. */
  refresh?(stack: string): void;
  off(event: 'change', listener: (stacks: Set<string | null>) => void): unknown;
};

/** Failed starts of a service in a row, since the deploy, that make a crash loop rather than a hiccup. */
export const CRASH_LOOP_FAILURES = 3;
/** The same rejection this often means swarm will keep rejecting it. */
const REPEATED_REJECTIONS = 2;
/** How often the watch looks again when the model announces nothing (swarm reports some task states late). */
const RECHECK_MS = 1000;

const shortName = (service: string, stack: string) => (service.startsWith(`${stack}_`) ? service.slice(stack.length + 1) : service);

/** A task error that waiting will not fix, said in plain words with what to do; undefined for anything else. */
export function plainReason(error: string): string | undefined {
  const folder = /bind source path does not exist:\s*(\S+)/.exec(error)?.[1];
  if (folder) return `The folder ${folder} does not exist on this server. Create it on the app's settings page, or choose another folder.`;
  const image = /No such image:\s*(\S+)/i.exec(error)?.[1] ?? /pull access denied for ([^\s,]+)/i.exec(error)?.[1] ?? /manifest for (\S+) not found/i.exec(error)?.[1];
  if (image) return `The image ${image} is not on this server and could not be downloaded. Check the version, or load the image onto the server, then deploy again.`;
  if (/port .*already in use|address already in use/i.test(error)) return `A port this app needs is already in use on this server (${error}). Choose another port in the app's settings.`;
  return undefined;
}

const at = (f: { at: string }) => Date.parse(f.at) || 0;

/**
 * The first service of `stack` that cannot converge, judging only failures since the deploy began (`since`, ms).
 * `settled`: abra has already given up, so one failure is enough to name the reason.
 */
export function troubleIn(services: Iterable<ServiceState>, stack: string, since: number, opts: { settled?: boolean } = {}): Trouble | undefined {
  const loop = opts.settled ? 1 : CRASH_LOOP_FAILURES;
  const rejections = opts.settled ? 1 : REPEATED_REJECTIONS;
  for (const s of services) {
    if (s.stack !== stack) continue;
    // Until the model shows the service changed by this deploy, what it says of it belongs to the old settings. (Not
    // a bound on the failures: swarm moves UpdatedAt again when it pauses a failing update.)
    if ((Date.parse(s.specUpdatedAt ?? '') || 0) < since) continue;
    const from = since;
    const recent: TaskFailure[] = (s.failures ?? (s.lastFailure ? [s.lastFailure] : [])).filter((f) => at(f) >= from && !('oldSpec' in f && f.oldSpec));
    if (!recent.length) continue;
    const name = shortName(s.name, stack);
    for (const f of recent) {
      const reason = plainReason(f.error);
      if (reason) return { service: name, reason };
    }
    const down = s.running < s.desired || opts.settled;
    const exited = recent.filter((f) => f.exitCode !== null);
    if (exited.length >= loop && down) {
      const what = exited.length > 1 ? `keeps stopping right after it starts (exit code ${exited[0]!.exitCode}, ${exited.length} times)` : `stopped right after it started (exit code ${exited[0]!.exitCode})`;
      return { service: name, reason: `The app's ${name} service ${what}. Its logs on the app's page say why; fix its settings, then deploy again.` };
    }
    const same = recent.filter((f) => f.exitCode === null && f.error === recent[0]!.error);
    if (same.length >= rejections && down) {
      return { service: name, reason: `The swarm cannot start the app's ${name} service: ${recent[0]!.error}. Check the app's settings, then deploy again.` };
    }
  }
  return undefined;
}

/** Pictographs (abra's "deploy failed" carries one) render as blank boxes in many fonts: messages go without. */
export const withoutPictographs = (text: string): string => text.replace(/[\p{Extended_Pictographic}\u{FE0F}\u{200D}]/gu, '').replace(/ {2,}/g, ' ').replace(/ \)/g, ')').trim();

/** Watches a stack from now on; `trouble` settles with the first trouble found; `stop` ends the watch. */
export function watchDeploy(view: SwarmView, stack: string, since: number): { trouble: Promise<Trouble>; stop(): void } {
  let stop = () => {};
  const trouble = new Promise<Trouble>((resolve) => {
    const look = () => {
      const found = troubleIn(view.services.values(), stack, since);
      if (found) {
        stop();
        resolve(found);
      }
    };
    const onChange = (stacks: Set<string | null>) => {
      if (stacks.has(stack)) look();
    };
    const timer = setInterval(() => {
      view.refresh?.(stack);
      look();
    }, RECHECK_MS);
    timer.unref();
    view.on('change', onChange);
    stop = () => {
      clearInterval(timer);
      view.off('change', onChange);
    };
  });
  return { trouble, stop: () => stop() };
}
