// restic, the backup engine, as argv arrays (never a shell). The repository's password reaches restic as a file
// (RESTIC_PASSWORD_FILE): never on a command line, in an environment a log could print, or in the job output.
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';

export type ResticTarget = {
  bin: string;
  /** A restic repository: a path, sftp:user@host:/path, s3:https://host/bucket, rest:… — whatever restic takes. */
  repository: string;
  passwordFile: string;
  /** Where restic keeps its cache (inside the node's data folder: no home directory in the container). */
  cacheDir: string;
  /** Extra environment for the backend (e.g. AWS_ACCESS_KEY_ID for S3). */
  env?: Record<string, string>;
};

export type BackupProgress = { percent: number; filesDone: number; totalFiles: number; bytesDone: number; totalBytes: number; secondsElapsed: number };
export type BackupSummary = { snapshotId: string; filesNew: number; filesChanged: number; totalFiles: number; totalBytes: number; bytesAdded: number; seconds: number };
export type Snapshot = { id: string; shortId: string; time: string; paths: string[]; tags: string[]; hostname: string };

/** restic's failures, sorted into what a steward can act on. */
export type ResticProblem = 'wrong-password' | 'no-repository' | 'unreachable' | 'disk-full' | 'locked' | 'aborted' | 'other';

export class ResticError extends Error {
  readonly problem: ResticProblem;
  readonly exitCode: number | null;
  constructor(message: string, problem: ResticProblem, exitCode: number | null) {
    super(message);
    this.problem = problem;
    this.exitCode = exitCode;
  }
}

/** The repository as pages, logs and job output show it: a password in its URL (rest:https://u:p@host/) is hidden. */
export const shownRepository = (repository: string) => repository.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/, '$1:***@');

/** A plain sentence for restic's stderr (the last lines say why). */
export function explainResticFailure(stderr: string, repositoryAsGiven: string): { problem: ResticProblem; message: string } {
  const repository = shownRepository(repositoryAsGiven);
  const hide = (text: string) => text.split(repositoryAsGiven).join(repository);
  const explained = explain(stderr, repository);
  return { problem: explained.problem, message: hide(explained.message) };
}

function explain(stderr: string, repository: string): { problem: ResticProblem; message: string } {
  const tail = stderr.trim().split('\n').slice(-4).join(' ').trim();
  if (/wrong password or no key found/i.test(stderr)) return { problem: 'wrong-password', message: `The backup repository ${repository} does not open with the node’s password (wrong password, or another repository at that place). Nothing was changed.` };
  if (/no space left on device/i.test(stderr)) return { problem: 'disk-full', message: `The backup repository ${repository} is full (no space left on its disk). The backup was not finished; the snapshots already there are intact. Free some space or prune old snapshots, then try again.` };
  if (/connection refused|unable to start the sftp session|no route to host|could not resolve|name resolution|i\/o timeout|network is unreachable|dial tcp/i.test(stderr))
    return { problem: 'unreachable', message: `The backup repository ${repository} cannot be reached (${tail.slice(0, 300)}). Nothing was changed.` };
  if (/Is there a repository at the following location/i.test(stderr)) return { problem: 'no-repository', message: `There is no backup repository at ${repository} yet (or it cannot be read). Set it up on the Settings page.` };
  if (/repository is already locked/i.test(stderr)) return { problem: 'locked', message: `The backup repository is in use by another restic run (it is locked). ${tail.slice(0, 300)}` };
  return { problem: 'other', message: `restic failed: ${tail.slice(0, 500) || 'no message'}` };
}

/**
 * Runs restic so that it dies with the node (setpriv's parent-death signal): a backup cut by the node's kill -9 must
 * not go on writing (and holding its lock) behind the node that replaces it.
 */
function spawn(t: ResticTarget, args: string[], opts: { signal?: AbortSignal; streamStdout?: boolean; input?: string } = {}): ResultPromise {
  const env = { RESTIC_REPOSITORY: t.repository, RESTIC_PASSWORD_FILE: t.passwordFile, RESTIC_CACHE_DIR: t.cacheDir, RESTIC_PROGRESS_FPS: '2', ...t.env };
  const withDeathSignal = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', t.bin, ...args]] as const : [t.bin, args] as const;
  return execa(withDeathSignal[0], [...withDeathSignal[1]], {
    env,
    extendEnv: true,
    reject: false,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 3000,
    // A streamed stdout (JSON progress, a tar) is read by the caller, not kept in memory.
    buffer: { stdout: !opts.streamStdout, stderr: true },
    stripFinalNewline: true,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
  }) as unknown as ResultPromise;
}

async function run(t: ResticTarget, args: string[], signal?: AbortSignal): Promise<string> {
  const r = await spawn(t, args, { signal });
  if (r.isCanceled) throw new ResticError('Stopped.', 'aborted', null);
  if (r.exitCode !== 0) {
    const { problem, message } = explainResticFailure(String(r.stderr ?? ''), t.repository);
    throw new ResticError(message, problem, r.exitCode ?? null);
  }
  return String(r.stdout ?? '');
}

/** Reads restic's JSON lines as they come, handing each parsed line on. */
function onJsonLines(child: ResultPromise, fn: (msg: Record<string, unknown>) => void): void {
  let partial = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        fn(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* a torn or non-JSON line: progress only */
      }
    }
  });
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function restic(t: ResticTarget) {
  return {
    target: t,
    version: async (): Promise<string> => (await execa(t.bin, ['version'])).stdout.trim(),

    /** Whether a repository opens at the target with the password. Throws ResticError for anything but "none there". */
    async exists(signal?: AbortSignal): Promise<boolean> {
      try {
        await run(t, ['cat', 'config', '--no-lock'], signal);
        return true;
      } catch (err) {
        if (err instanceof ResticError && err.problem === 'no-repository') return false;
        throw err;
      }
    },

    init: (signal?: AbortSignal) => run(t, ['init'], signal).then(() => undefined),

    /** Backs up `paths` (absolute), tagged; progress as restic reports it (twice a second). */
    async backup(paths: string[], o: { tags: string[]; host: string; excludes?: string[]; signal?: AbortSignal; onProgress?: (p: BackupProgress) => void }): Promise<BackupSummary> {
      const args = ['backup', '--json', '--host', o.host, ...o.tags.flatMap((tag) => ['--tag', tag]), ...(o.excludes ?? []).flatMap((e) => ['--exclude', e]), '--', ...paths];
      const child = spawn(t, args, { signal: o.signal, streamStdout: true });
      let summary: BackupSummary | undefined;
      onJsonLines(child, (m) => {
        if (m.message_type === 'status') {
          o.onProgress?.({
            percent: num(m.percent_done),
            filesDone: num(m.files_done),
            totalFiles: num(m.total_files),
            bytesDone: num(m.bytes_done),
            totalBytes: num(m.total_bytes),
            secondsElapsed: num(m.seconds_elapsed),
          });
        } else if (m.message_type === 'summary') {
          summary = {
            snapshotId: String(m.snapshot_id),
            filesNew: num(m.files_new),
            filesChanged: num(m.files_changed),
            totalFiles: num(m.total_files_processed),
            totalBytes: num(m.total_bytes_processed),
            bytesAdded: num(m.data_added),
            seconds: num(m.total_duration),
          };
        }
      });
      const r = await child;
      if (r.isCanceled) throw new ResticError('Stopped.', 'aborted', null);
      // Exit 3: some files could not be read, but a snapshot was made. Anything else without a summary failed.
      if ((r.exitCode !== 0 && r.exitCode !== 3) || !summary) {
        const { problem, message } = explainResticFailure(String(r.stderr ?? ''), t.repository);
        throw new ResticError(message, problem, r.exitCode ?? null);
      }
      return summary;
    },

    async snapshots(tags: string[] = [], signal?: AbortSignal): Promise<Snapshot[]> {
      const out = await run(t, ['snapshots', '--json', '--no-lock', ...(tags.length ? ['--tag', tags.join(',')] : [])], signal);
      const list = (JSON.parse(out || '[]') as { id: string; short_id: string; time: string; paths: string[]; tags?: string[]; hostname: string }[]) ?? [];
      return list.map((s) => ({ id: s.id, shortId: s.short_id, time: s.time, paths: s.paths, tags: s.tags ?? [], hostname: s.hostname }));
    },

    /** Restores the snapshot's files below `include` paths to where they were (target /, or another root). */
    restore: (id: string, o: { target: string; include?: string[]; signal?: AbortSignal }) =>
      run(t, ['restore', id, '--target', o.target, ...(o.include ?? []).flatMap((p) => ['--include', p])], o.signal).then(() => undefined),

    /** Removes snapshots beyond the policy (among those with all `tags`) and prunes their data. */
    forget: (tags: string[], keep: { daily: number; weekly: number; monthly: number }, signal?: AbortSignal) =>
      run(t, ['forget', '--prune', '--tag', tags.join(','), '--group-by', 'host,tags', '--keep-daily', String(keep.daily), '--keep-weekly', String(keep.weekly), '--keep-monthly', String(keep.monthly)], signal).then(() => undefined),

    /** Removes stale locks (of restic runs that died). Returns restic's words. */
    unlock: (signal?: AbortSignal) => run(t, ['unlock'], signal),
    check: (signal?: AbortSignal) => run(t, ['check'], signal),

    /** A snapshot's folder as a tar stream (restic dump); the caller reads stdout. */
    dumpTar(id: string, path: string, signal?: AbortSignal) {
      return spawn(t, ['dump', '--archive', 'tar', id, path], { signal, streamStdout: true });
    },
  };
}
export type Restic = ReturnType<typeof restic>;
