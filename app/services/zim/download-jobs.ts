// ZIM downloads as durable jobs: verified from the Metalink's sha-256, resumable after a pause, a cut or a restart,
// throttled by the node's setting, with live progress for the library page.
import { EventEmitter } from 'node:events';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { fetchMeta4, Meta4Error, type Meta4 } from '../../adapters/kiwix/meta4.ts';
import type { ZimEntry } from '../../adapters/kiwix/opds.ts';
import { RemoteReadError } from '../../adapters/remote/fetch-text.ts';
import { DEFAULT_READ_FLOOR, type ReadFloor } from '../../adapters/remote/read-floor.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/index.ts';
import type { JobRow } from '../../store/jobs.ts';
import type { Actor, AuditLog } from '../audit.ts';
import { UserFacingError } from '../../errors.ts';
import { JobFailure, RESTART_INTERRUPTION, type JobContext, type JobRunner } from '../jobs.ts';
import type { SettingsService } from '../settings.ts';
import { formatBytes } from '../resource-fit.ts';
import { partFileName } from './part-file.ts';
import type { DownloadProgress } from './progress-meter.ts';
import { kiwixApp, kiwixApps } from './kiwix-apps.ts';
import { removeZim, waitServed, zimName } from './library.ts';

export const DOWNLOAD_KIND = 'zim-download';
/** After a restart the ZIM disk or the network may come up late: try for an hour. */
const RESUME_ATTEMPTS = 60;
const RESUME_RETRY_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * A Metalink fetch tried three times, 5 s then 20 s apart: an uplink often needs a moment after a restart. Only
 * failures that asking again could change are retried; a Metalink without a hash or a 404 fails at once.
 */
async function withRetries<T>(call: () => Promise<T>, ctx: JobContext): Promise<T> {
  for (const wait of [5000, 20_000]) {
    try {
      return await call();
    } catch (err) {
      if (ctx.signal.aborted || !worthRetrying(err)) throw err;
      ctx.log(`${(err as Error).message} Trying again in ${wait / 1000} s.`, 'info');
      await sleepFor(wait, undefined, { signal: ctx.signal }).catch(() => undefined); // a pause ends the wait
    }
  }
  return call();
}

/** A cut, a timeout, a slow or busy server (5xx, 408, 429) may heal; a bad document or any other refusal will not. */
function worthRetrying(err: unknown): boolean {
  if (err instanceof Meta4Error) return false;
  const cause = (err as Error | undefined)?.cause;
  return !(cause instanceof RemoteReadError) || cause.retryable;
}

/** The Metalink failure as the job's last word: one or more whole sentences. */
function metalinkFailure(err: Error, url: string): string {
  if (!(err instanceof Meta4Error)) return err.message; // a CatalogueError already reads "The Metalink file at … could not be read: …."
  return `The Metalink file at ${new URL(url).host} cannot be used: ${err.message.replace(/^the Metalink file(’s)? /, (_m, s: string | undefined) => (s ? 'its ' : 'it '))}.`;
}

/** What a download job remembers, so a pause or a restart can pick it up again. */
export type DownloadArgs = { domain: string; fileName: string; bookName: string; title: string; downloadUrl: string; size: number; replaces?: string };

export type LiveProgress = DownloadProgress & { jobId: number; stack: string; fileName: string };

export function zimDownloads(deps: {
  jobs: JobRunner;
  store: Store;
  docker: Docker;
  settings: SettingsService;
  abraDir: string;
  zimRoot: string;
  log: Logger;
  /** Where a steward's pause or cancel on the library page is recorded (a job's own outcome is audited by the runner). */
  audit: AuditLog;
  /** The least a mirror or a Metalink server must deliver (config NETWORK_FLOOR_*); default 1 KB/s over 60 s. */
  readFloor?: ReadFloor;
  /** Told of each Metalink a download used (the region keeps its hash, to check copies from neighbours). */
  onMetalink?: (a: DownloadArgs, meta: Meta4) => void;
}) {
  const { jobs, store, docker } = deps;
  const floor = deps.readFloor ?? DEFAULT_READ_FLOOR;
  const progress = new Map<number, LiveProgress>();
  // `progress`: a download moved; `library`: the files or what Kiwix serves changed (a download landed or was served).
  const progressOf = (stack: string): LiveProgress[] => [...progress.values()].filter((p) => p.stack === stack);
  const events = new EventEmitter<{ progress: [string]; library: [string] }>();
  events.setMaxListeners(0);

  async function run(ctx: JobContext, stack: string, dir: string, a: DownloadArgs): Promise<void> {
    const jobId = ctx.job.id;
    ctx.log(`Reading the Metalink file at ${a.downloadUrl}.`, 'info');
    if (!/\.meta4$/.test(new URL(a.downloadUrl).pathname)) throw new JobFailure('The catalogue gives no Metalink file (.meta4) for this ZIM, so the node cannot verify it; it does not download unverified files.');
    const meta = await withRetries(() => fetchMeta4(a.downloadUrl, { signal: ctx.signal, floor }), ctx).catch((err: Error) => {
      throw new JobFailure(metalinkFailure(err, a.downloadUrl));
    });
    if (meta.fileName !== a.fileName) throw new JobFailure(`The Metalink file describes ${meta.fileName}, not ${a.fileName}: the catalogue and its mirror disagree, so nothing was downloaded.`);
    deps.onMetalink?.(a, meta); // the region keeps the hash, and holds a neighbour's Metalink to the hash it expects
    // The downloader (its HTTP client, sink and policy) is loaded with the first download, not at start.
    const { downloadZim, partBytes, ZimDownloadError } = await import('./download.ts');
    const resumeFrom = await partBytes(dir, a.fileName);
    ctx.log(`${a.fileName}: ${formatBytes(meta.size)}, sha-256 ${meta.sha256.slice(0, 16)}…, ${meta.urls.length} mirror(s)${resumeFrom ? `; resuming after ${formatBytes(resumeFrom)}` : ''}.`, 'info');
    let nextTenth = 1;
    try {
      const result = await downloadZim({
        urls: meta.urls,
        size: meta.size,
        sha256: meta.sha256,
        dir,
        fileName: a.fileName,
        signal: ctx.signal,
        floor,
        bytesPerSecond: () => deps.settings.downloadBytesPerSecond() || undefined,
        onProgress: (p) => {
          progress.set(jobId, { ...p, jobId, stack, fileName: a.fileName });
          events.emit('progress', stack);
          // The job's history gets a line per tenth; the page gets every update.
          while (p.phase === 'downloading' && p.total && p.done >= (p.total * nextTenth) / 10 && nextTenth <= 10) ctx.log(`${nextTenth++ * 10} % downloaded (${formatBytes(p.done)}).`);
        },
      });
      ctx.log(`Verified (sha-256 matches) and added to the library as ${a.fileName} after ${result.attempts} request(s).`, 'info');
    } catch (err) {
      if (err instanceof ZimDownloadError) {
        if (err.code === 'aborted') throw err; // paused or cancelled: the runner says why
        // The downloader's message already says what is kept on disk, and only when something is.
        throw new JobFailure(err.message);
      }
      throw err;
    } finally {
      progress.delete(jobId);
      events.emit('progress', stack);
    }
    const served = await waitServed(docker, stack, a.fileName);
    events.emit('library', stack);
    ctx.log(
      served === 'served' ? 'Kiwix serves it now.' : served === 'not running' ? 'Kiwix is not running: it serves the file as soon as it starts.' : 'Kiwix has not listed it yet; it should within a minute.',
      'info',
    );
    if (a.replaces) {
      // Someone may have removed the old file meanwhile: then there is nothing left to do.
      const removed = await removeZim(docker, stack, dir, a.replaces).catch((err: Error) => (err instanceof UserFacingError ? undefined : Promise.reject(err)));
      ctx.log(removed ? `Removed the older ${a.replaces}${removed.unregisteredFirst ? ' after Kiwix let go of it' : ''}.` : `The older ${a.replaces} was already gone.`, 'info');
      events.emit('library', stack);
    }
  }

  function submit(stack: string, a: DownloadArgs, actor: Actor): JobRow {
    const app = kiwixApp(deps.abraDir, deps.zimRoot, stack);
    // Downloads share the uplink: one at a time per Kiwix app, said in a steward's words.
    const running = progressOf(app.stack)[0];
    if (jobs.busyReason(app.stack, null, 'download')) {
      throw new UserFacingError(running ? `${running.fileName} is downloading for ${app.domain}: wait for it, or pause it, then start this one.` : `Another download is running: wait for it, or pause it, then start this one.`, 409);
    }
    return jobs.submit({ kind: DOWNLOAD_KIND, app: app.stack, recipe: null, lane: 'download', actor, args: a, run: (ctx) => run(ctx, app.stack, app.zimDir, a) });
  }

  return {
    events,
    progressFor: progressOf,

    /** The catalogue book a file on disk was downloaded as, when the node downloaded it. */
    bookNameOf(stack: string, fileName: string): string | undefined {
      const args = store.jobs.latestForFile(DOWNLOAD_KIND, stack, fileName)?.args as Partial<DownloadArgs> | undefined;
      return typeof args?.bookName === 'string' && args.bookName ? args.bookName : undefined;
    },

    /** Starts downloading a catalogue entry into the app's folder; `replaces` names the older file it updates. */
    start(stack: string, entry: ZimEntry, actor: Actor, replaces?: string): JobRow {
      const app = kiwixApp(deps.abraDir, deps.zimRoot, stack);
      const fileName = zimName(entry.fileName);
      if (existsSync(path.join(app.zimDir, fileName))) throw new UserFacingError(`${fileName} is already in this library.`, 409);
      if (replaces !== undefined && (zimName(replaces) === fileName || !existsSync(path.join(app.zimDir, replaces)))) {
        throw new UserFacingError(`${replaces.slice(0, 200)} is not an older file in this library that ${fileName} could replace.`);
      }
      const args: DownloadArgs = { domain: app.domain, fileName, bookName: entry.name, title: entry.title.slice(0, 200), downloadUrl: entry.downloadUrl, size: entry.size, ...(replaces ? { replaces: zimName(replaces) } : {}) };
      return submit(app.stack, args, actor);
    },

    /** Continues a paused, failed or interrupted download from its part file, with the same source. */
    resume(stack: string, fileNameInput: unknown, actor: Actor): JobRow {
      const fileName = zimName(fileNameInput);
      const last = store.jobs.latestForFile(DOWNLOAD_KIND, stack, fileName);
      if (!last) throw new UserFacingError(`The node has no download of ${fileName} to resume.`, 404);
      if (jobs.isRunning(last.id)) throw new UserFacingError(`${fileName} is downloading already.`, 409);
      return submit(stack, last.args as DownloadArgs, actor);
    },

    /** Pauses a running download: the part file stays for Resume. */
    pause(stack: string, fileNameInput: unknown, actor: Actor): JobRow {
      const fileName = zimName(fileNameInput);
      const last = store.jobs.latestForFile(DOWNLOAD_KIND, stack, fileName);
      if (!last || !jobs.stop(last.id, `Paused by ${actor.name ?? 'a steward'}; Resume continues where it stopped.`)) throw new UserFacingError(`${fileName} is not downloading.`, 409);
      return last;
    },

    /**
     * Stops the download of this file into this folder, whichever Kiwix app started it (two apps may share a
     * folder), and deletes what was downloaded.
     */
    async cancel(stack: string, fileNameInput: unknown, actor: Actor): Promise<{ deleted: boolean }> {
      const app = kiwixApp(deps.abraDir, deps.zimRoot, stack);
      const fileName = zimName(fileNameInput);
      for (const other of kiwixApps(deps.abraDir, deps.zimRoot).filter((o) => o.zimDir === app.zimDir)) {
        const last = store.jobs.latestForFile(DOWNLOAD_KIND, other.stack, fileName);
        if (last && (jobs.isRunning(last.id) || jobs.isQueued(last.id))) {
          jobs.cancel(last.id, actor, 'the part downloaded so far is deleted.');
          // A job past its last byte may still wait on Kiwix for a while: do not hold the steward's request for it.
          await Promise.race([jobs.finished(last.id), sleep(5000)]);
        }
      }
      const { cancelDownload } = await import('./download.ts');
      return { deleted: await cancelDownload(app.zimDir, fileName) };
    },

    /**
     * Pause or Cancel on the library page, audited with what it did. (The jobs page's cancel goes through
     * job-cancel.ts, which audits its own.)
     */
    async stopFromLibrary(action: 'pause' | 'cancel', stack: string, fileNameInput: unknown, actor: Actor): Promise<void> {
      const fileName = zimName(fileNameInput);
      const detail = action === 'pause' ? { job: this.pause(stack, fileName, actor).id } : await this.cancel(stack, fileName, actor);
      deps.audit.record(actor, `zim.${action}`, { target: stack, detail: { fileName, ...detail } });
    },

    /**
     * After a restart: downloads the restart cut off go on by themselves (paused ones wait for their steward). One
     * whose part file is gone was discarded; one that cannot start yet (its disk not mounted) is tried again later.
     */
    resumeAfterRestart(attempt = 1): JobRow[] {
      const resumed: JobRow[] = [];
      let waiting = 0;
      for (const job of store.jobs.cutOffByRestart(DOWNLOAD_KIND, RESTART_INTERRUPTION).filter((j) => j.app)) {
        const a = job.args as DownloadArgs;
        const app = kiwixApps(deps.abraDir, deps.zimRoot).find((k) => k.stack === job.app);
        if (app?.zimDir && !existsSync(path.join(app.zimDir, partFileName(a.fileName)))) continue;
        try {
          resumed.push(submit(job.app!, a, { name: job.actor, ip: null }));
        } catch (err) {
          waiting++;
          deps.log.warn({ job: job.id, err: (err as Error).message, attempt }, 'could not resume a ZIM download after the restart yet');
        }
      }
      if (waiting && attempt < RESUME_ATTEMPTS) setTimeout(() => this.resumeAfterRestart(attempt + 1), RESUME_RETRY_MS).unref();
      return resumed;
    },
  };
}
export type ZimDownloads = ReturnType<typeof zimDownloads>;
