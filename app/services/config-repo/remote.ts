// Optional: a remote copy of the config repository (an operators' forge, another machine) that the node keeps in
// step on a schedule. An admin sets its URL and, for SSH, a deploy key (kept in DATA_DIR, never in git or SQLite's
// settings). Each round: fetch the remote's main; if it is ahead, its new commits go through the same checks as a
// push from a laptop (the pre-receive hook, run by the node) before main moves; if the node is ahead, it pushes.
// Diverged histories are left alone and reported: an operator merges on a laptop and pushes to both.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { gitAt } from '../../adapters/git/git.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/index.ts';
import { UserFacingError } from '../../errors.ts';
import { HOOK_SCRIPT, type ConfigRepository } from './repo.ts';
import { MAIN_REF } from './layout.ts';

export type RemoteStatus = { at: number; outcome: 'pulled' | 'pushed' | 'in step' | 'diverged' | 'refused' | 'failed'; message: string };

const URL_RE = /^(ssh:\/\/[\w.@:/~-]+|[\w.-]+@[\w.-]+:[\w./~-]+|https?:\/\/[\w.@:/~%-]+|\/[\w./-]+)$/;
// Link-local hosts (cloud metadata services live there) are never a remote.
const LINK_LOCAL = /^(?:[a-z+]+:\/\/)?(?:[^@/]*@)?(?:169\.254\.|\[?fe80:)/i;
/** Network rounds end after this, whatever the remote does (an unreachable host, a stalled transfer). */
const NETWORK_TIMEOUT_MS = 60_000;
const KEY_RE = /^-----BEGIN [A-Z ]*PRIVATE KEY-----\n[\s\S]+\n-----END [A-Z ]*PRIVATE KEY-----\n?$/;

const NET_ENV = { GIT_HTTP_LOW_SPEED_LIMIT: '1000', GIT_HTTP_LOW_SPEED_TIME: '20' };

export function configRemote(deps: { repo: ConfigRepository; store: Store; log: Logger; now: () => number }) {
  const git = gitAt(deps.repo.gitDir);
  const keyFile = path.join(deps.repo.repoRoot, 'deploy_key');
  const knownHosts = path.join(deps.repo.repoRoot, 'known_hosts');
  let status: RemoteStatus | undefined;
  let timer: NodeJS.Timeout | undefined;

  const url = () => deps.store.settings.get('config_remote_url') || undefined;
  const sshEnv = (): Record<string, string> =>
    existsSync(keyFile)
      ? { ...NET_ENV, GIT_SSH_COMMAND: `ssh -i ${keyFile} -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${knownHosts}` }
      : { ...NET_ENV, GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o ConnectTimeout=15' };

  async function round(): Promise<RemoteStatus> {
    const remote = url();
    if (!remote) throw new UserFacingError('No remote is set.', 409);
    const env = sshEnv();
    // Fetched into FETCH_HEAD only: unreferenced, so the hook's `--not --all` sees exactly the remote's new commits.
    const fetched = await git(['fetch', '-q', '--no-tags', '--', remote, 'main'], { env, allowFail: true, timeoutMs: NETWORK_TIMEOUT_MS });
    const local = await deps.repo.head();
    const theirs = fetched.exitCode === 0 ? (await git(['rev-parse', 'FETCH_HEAD'])).stdout.trim() : undefined;
    if (fetched.exitCode !== 0) {
      // An empty remote has no main yet: give it ours.
      const pushed = await git(['push', '-q', '--', remote, `${MAIN_REF}:${MAIN_REF}`], { env, allowFail: true, timeoutMs: NETWORK_TIMEOUT_MS });
      return pushed.exitCode === 0 ? { at: deps.now(), outcome: 'pushed', message: 'The remote had no main branch; the node pushed its own.' } : { at: deps.now(), outcome: 'failed', message: 'Could not reach the remote (fetch and push failed).' };
    }
    if (!local || theirs === local) return { at: deps.now(), outcome: 'in step', message: 'The remote and the node hold the same history.' };
    const isAncestor = async (a: string, b: string) => (await git(['merge-base', '--is-ancestor', a, b], { allowFail: true })).exitCode === 0;
    if (await isAncestor(local, theirs!)) {
      const checked = await execa(process.execPath, [HOOK_SCRIPT], { input: `${local} ${theirs} ${MAIN_REF}\n`, env: { GIT_DIR: deps.repo.gitDir }, reject: false });
      if (checked.exitCode !== 0) return { at: deps.now(), outcome: 'refused', message: String(checked.stderr).trim() };
      const moved = await git(['update-ref', '-m', 'lores: pulled from the remote', MAIN_REF, theirs!, local], { allowFail: true });
      if (moved.exitCode !== 0) return { at: deps.now(), outcome: 'failed', message: 'main moved meanwhile; the next round tries again.' };
      const applied = await deps.repo.afterPush();
      return { at: deps.now(), outcome: 'pulled', message: `Took the remote's changes${applied.length ? ` to ${applied.join(', ')}` : ''}.` };
    }
    if (await isAncestor(theirs!, local)) {
      const pushed = await git(['push', '-q', '--', remote, `${MAIN_REF}:${MAIN_REF}`], { env, allowFail: true, timeoutMs: NETWORK_TIMEOUT_MS });
      return pushed.exitCode === 0 ? { at: deps.now(), outcome: 'pushed', message: 'Pushed the node’s changes to the remote.' } : { at: deps.now(), outcome: 'failed', message: 'The remote refused the node’s push.' };
    }
    return { at: deps.now(), outcome: 'diverged', message: 'The remote and the node both have changes the other lacks: merge them on a laptop and push to both.' };
  }

  return {
    url,
    status: () => status,
    hasKey: () => existsSync(keyFile),

    /** Sets (or with an empty URL, clears) the remote; a key given replaces the last one. */
    configure(urlInput: unknown, keyInput: unknown, by: string): void {
      const u = typeof urlInput === 'string' ? urlInput.trim() : '';
      if (u && (u.length > 300 || !URL_RE.test(u) || LINK_LOCAL.test(u))) throw new UserFacingError('The remote must be an ssh://, user@host:path, http(s):// URL or an absolute path (at most 300 characters, not a link-local address).');
      const key = typeof keyInput === 'string' ? keyInput.replace(/\r\n/g, '\n').trim() : '';
      if (key && !KEY_RE.test(`${key}\n`)) throw new UserFacingError('The deploy key must be a private key in PEM/OpenSSH form (-----BEGIN … PRIVATE KEY-----).');
      deps.store.settings.set('config_remote_url', u, by, deps.now());
      if (key) writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
      if (!u && existsSync(keyFile)) rmSync(keyFile);
      status = undefined;
    },

    /** One round now (also what the schedule runs); never throws for network trouble, it reports it. */
    async sync(): Promise<RemoteStatus> {
      try {
        status = await round();
      } catch (err) {
        if (err instanceof UserFacingError) throw err;
        status = { at: deps.now(), outcome: 'failed', message: (err as Error).message };
      }
      if (status.outcome !== 'in step') deps.log.info({ remote: status }, 'config repository remote');
      return status;
    },

    start(everyMinutes: number): void {
      if (timer || everyMinutes <= 0) return;
      timer = setInterval(() => {
        try {
          if (url()) void this.sync().catch(() => undefined);
        } catch {
          // the store is closing (the node stops): nothing to keep in step
        }
      }, everyMinutes * 60_000);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
export type ConfigRemote = ReturnType<typeof configRemote>;
