// The node's abra server directory (ABRA_DIR/servers/default: one env file per app) kept in a git repository that
// laptops clone, pull and push (served by routes/git.ts). The repository is bare (DATA_DIR/config-repo/servers.git);
// the server directory is its checked-out state, written only by the node:
//  - a change made on the page is committed by the node, authored by the person who made it, path by path (never
//    a whole snapshot, so it cannot undo a push), secret values stripped and checked before anything is stored;
//  - an accepted push (checked by pre-receive-hook.ts) is written into the server directory right after it lands;
//  - refs/lores/deployed/<domain> marks the commit each app was last deployed from, so what a push (or a saved but
//    not redeployed setting) changed since shows as the app's pending changes, to deploy or discard.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { gitAt, type GitRun } from '../../adapters/git/git.ts';
import type { Logger } from '../../log.ts';
import { domainSchema, parseOrRefuse } from '../../validation.ts';
import { writeFileAtomic } from '../../adapters/fs/atomic-write.ts';
import { UserFacingError } from '../../errors.ts';
import { domainOfPath, envFileFor, MAIN_REF, NODE_FILE, nodeFileText, README_FILE, README_TEXT } from './layout.ts';
import { restoreKept, secretFindings, stripSecrets } from './secrets.ts';

const SYNCED_REF = 'refs/lores/synced';
const deployedRef = (domain: string) => `refs/lores/deployed/${domain}`;
const NODE_NAME = 'LoRes Node';

export type Commit = { sha: string; author: string; email: string; at: number; subject: string; body: string };
export type Pending = { base: string; diff: string; commits: Commit[] };
export type RepoChange = { actor: string | null; domain: string; message: string; deployed?: boolean };

// The hook runs this file with the node's own Node binary; the built node has it as .js beside this module.
export const HOOK_SCRIPT = fileURLToPath(new URL(`./pre-receive-hook.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
const shQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export function configRepository(deps: { repoRoot: string; serverDir: string; nodeDomain: () => string; log: Logger }) {
  const gitDir = path.join(deps.repoRoot, 'servers.git');
  const git: GitRun = gitAt(gitDir);
  let queue: Promise<unknown> = Promise.resolve();
  /** One change at a time: node commits and applying pushes read and move main. */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const mailDomain = () => deps.nodeDomain() || 'lores.invalid';
  const identity = (name: string | null) => ({ name: name ?? NODE_NAME, email: `${name ?? 'lores'}@${mailDomain()}` });
  const rev = async (ref: string) => {
    const r = await git(['rev-parse', '--verify', '-q', `${ref}^{commit}`], { allowFail: true });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  };
  const blobAt = async (commit: string, file: string) => {
    const r = await git(['cat-file', 'blob', `${commit}:${file}`], { allowFail: true });
    return r.exitCode === 0 ? r.stdout : undefined;
  };
  const localFile = (file: string) => path.join(deps.serverDir, file);
  const readLocal = (file: string) => (existsSync(localFile(file)) ? readFileSync(localFile(file), 'utf8') : undefined);

  /** What a path should hold in git now: our two files are made by the node, env files come from the server dir. */
  function sourceOf(file: string): string | undefined {
    if (file === NODE_FILE) return nodeFileText(deps.nodeDomain());
    if (file === README_FILE) return README_TEXT;
    return readLocal(file);
  }

  /** Commits the given paths as they are now on top of main (compare-and-swap; a push in between is applied first). */
  async function commitPaths(files: string[], author: string | null, message: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await applyPushes();
      const head = await rev(MAIN_REF);
      const entries = new Map<string, string>();
      if (head) {
        for (const line of (await git(['ls-tree', '-z', head])).stdout.split('\0').filter(Boolean)) entries.set(line.slice(line.indexOf('\t') + 1), line);
      }
      for (const file of files) {
        const text = sourceOf(file);
        if (text === undefined) {
          entries.delete(file);
          continue;
        }
        // The pre-commit check: secret-looking values are stripped, and the result checked again before it is stored.
        const { text: safe, stripped } = stripSecrets(text);
        if (stripped.length) deps.log.warn({ file, keys: stripped }, 'secret-looking values kept off the config repository');
        if (secretFindings(safe).length) throw new Error(`${file} still holds a secret-looking value after stripping; not committed`);
        const blob = (await git(['hash-object', '-w', '--stdin'], { input: safe })).stdout.trim();
        entries.set(file, `100644 blob ${blob}\t${file}`);
      }
      const tree = (await git(['mktree', '-z'], { input: [...entries.values()].map((e) => `${e}\0`).join('') })).stdout.trim();
      if (head && (await git(['rev-parse', `${head}^{tree}`])).stdout.trim() === tree) return undefined;
      const who = identity(author);
      const node = identity(null);
      const env = { GIT_AUTHOR_NAME: who.name, GIT_AUTHOR_EMAIL: who.email, GIT_COMMITTER_NAME: node.name, GIT_COMMITTER_EMAIL: node.email };
      const commit = (await git(['commit-tree', tree, ...(head ? ['-p', head] : []), '-F', '-'], { input: message, env })).stdout.trim();
      const moved = await git(['update-ref', '-m', 'lores: page change', MAIN_REF, commit, head ?? ''], { allowFail: true });
      if (moved.exitCode === 0) {
        await git(['update-ref', SYNCED_REF, commit]);
        return commit;
      }
    }
    throw new Error('the config repository kept moving while the node committed; try again');
  }

  /** Writes what pushes changed (since the last time) into the server directory, where abra reads it. */
  async function applyPushes(): Promise<string[]> {
    const main = await rev(MAIN_REF);
    const synced = await rev(SYNCED_REF);
    if (!main || main === synced) return [];
    const changed = synced
      ? (await git(['diff', '--name-only', '-z', '--no-renames', synced, main])).stdout.split('\0')
      : (await git(['ls-tree', '-z', '--name-only', main])).stdout.split('\0');
    const applied: string[] = [];
    mkdirSync(deps.serverDir, { recursive: true });
    for (const file of changed.filter((f) => domainOfPath(f))) {
      const text = await blobAt(main, file);
      if (text === undefined) {
        if (existsSync(localFile(file))) unlinkSync(localFile(file));
      } else writeFileAtomic(localFile(file), restoreKept(text, readLocal(file)));
      applied.push(file);
    }
    await git(['update-ref', SYNCED_REF, main]);
    return applied;
  }

  async function writeHook(): Promise<void> {
    const hook = path.join(gitDir, 'hooks', 'pre-receive');
    mkdirSync(path.dirname(hook), { recursive: true });
    writeFileSync(hook, `#!/bin/sh\n# Written by LoRes Node at every start: checks pushes with the node's own rules.\nexec ${shQuote(process.execPath)} ${shQuote(HOOK_SCRIPT)}\n`);
    chmodSync(hook, 0o755);
  }

  /** The commit an app's pending changes are counted from: its last deploy, or the commit that brought its file. */
  async function baseOf(domain: string): Promise<string | undefined> {
    const deployed = await rev(deployedRef(domain));
    if (deployed) return deployed;
    const added = (await git(['log', '--format=%H', '--diff-filter=A', MAIN_REF, '--', envFileFor(domain)], { allowFail: true })).stdout.trim().split('\n').filter(Boolean);
    return added.at(0);
  }

  async function log(range: string[], file: string, limit: number): Promise<Commit[]> {
    const out = (await git(['log', `--max-count=${limit}`, '--format=%H%x1f%an%x1f%ae%x1f%at%x1f%s%x1f%b%x1e', ...range, '--', file], { allowFail: true })).stdout;
    return out
      .split('\x1e')
      .map((r) => r.trim())
      .filter(Boolean)
      .map((r) => {
        const [sha = '', author = '', email = '', at = '0', subject = '', body = ''] = r.split('\x1f');
        return { sha, author, email, at: Number(at) * 1000, subject, body: body.trim() };
      });
  }

  const domainOf = (input: unknown) => parseOrRefuse(domainSchema, input, { value: 'The app' });

  return {
    gitDir,
    repoRoot: deps.repoRoot,

    /** At start: makes the repository if there is none, and records what changed on the server while the node was away. */
    init: () =>
      serial(async () => {
        mkdirSync(deps.repoRoot, { recursive: true, mode: 0o700 });
        if (!existsSync(path.join(gitDir, 'HEAD'))) await execa('git', ['init', '--bare', '-q', '-b', 'main', gitDir], { env: { GIT_CONFIG_NOSYSTEM: '1' } });
        for (const [key, value] of [
          ['receive.denyNonFastForwards', 'true'], // a push over changes made on the page is refused: pull first
          ['receive.denyDeletes', 'true'],
          ['receive.fsckObjects', 'true'],
          ['http.receivepack', 'true'], // who may push is decided by the node (routes/git.ts), before git runs
          ['core.logAllRefUpdates', 'true'],
        ]) await git(['config', key!, value!]);
        await writeHook();
        const first = !(await rev(MAIN_REF));
        if (!first) await applyPushes();
        const apps = existsSync(deps.serverDir) ? readdirSync(deps.serverDir).filter((f) => domainOfPath(f)) : [];
        const tracked = first ? [] : (await git(['ls-tree', '-z', '--name-only', MAIN_REF])).stdout.split('\0').filter((f) => domainOfPath(f));
        const files = [...new Set([NODE_FILE, README_FILE, ...apps, ...tracked])];
        await commitPaths(
          files,
          null,
          first ? 'Start keeping this server’s abra env files in git\n\nThe node’s abra server directory, as it was when the node first started with a config repository.\n' : 'Record changes made on the server outside the node’s page\n\nFound at start: env files written by abra from a terminal while the node was stopped.\n',
        );
      }),

    /** After a page action changed an app's env file: one commit, authored by the person, saying what and why. */
    record(change: RepoChange): Promise<string | undefined> {
      return serial(async () => {
        const domain = domainOf(change.domain);
        const commit = await commitPaths([envFileFor(domain)], change.actor, change.message);
        if (change.deployed && readLocal(envFileFor(domain)) !== undefined) await git(['update-ref', deployedRef(domain), MAIN_REF]);
        if (readLocal(envFileFor(domain)) === undefined) await git(['update-ref', '-d', deployedRef(domain)], { allowFail: true });
        return commit;
      });
    },

    /** The node's domain changed on the Settings page: lores.toml follows (page → repository, one direction). */
    nodeDomainChanged: (actor: string | null) => serial(() => commitPaths([NODE_FILE], actor, `Set the node’s domain to ${deps.nodeDomain() || '(none)'}\n\nChanged on the Settings page; new apps get <recipe>.<domain> by default.\n`)),

    /** After a push was received: its changes go into the server directory. */
    afterPush: () => serial(applyPushes),

    head: () => rev(MAIN_REF),

    /** What changed in an app's env file since it was last deployed from the node (or since its file arrived). */
    async pending(domainInput: unknown): Promise<Pending | undefined> {
      const domain = domainOf(domainInput);
      const base = await baseOf(domain);
      if (!base) return undefined;
      const diff = (await git(['diff', '--no-color', '--no-ext-diff', base, MAIN_REF, '--', envFileFor(domain)], { allowFail: true })).stdout;
      if (!diff.trim()) return undefined;
      return { base, diff, commits: await log([`${base}..${MAIN_REF}`], envFileFor(domain), 50) };
    },

    /** Who changed an app's env file, when and why, newest first. */
    history: (domainInput: unknown, limit = 30) => log([MAIN_REF], envFileFor(domainOf(domainInput)), limit),

    /** Puts an app's env file back as it was at its last deploy, as a commit by the person who discarded. */
    discard(domainInput: unknown, actor: string | null): Promise<string> {
      return serial(async () => {
        const domain = domainOf(domainInput);
        await applyPushes();
        const base = await baseOf(domain);
        const file = envFileFor(domain);
        const old = base ? await blobAt(base, file) : undefined;
        if (!base || old === undefined || old === (await blobAt(MAIN_REF, file))) throw new UserFacingError(`${domain} has no pending changes to discard.`, 409);
        writeFileAtomic(localFile(file), restoreKept(old, readLocal(file)));
        const commit = await commitPaths([file], actor, `Discard pending changes to ${domain}\n\nPut back as deployed (${base.slice(0, 10)}) by ${actor ?? 'the node'} on the app’s page.\n`);
        await git(['update-ref', deployedRef(domain), MAIN_REF]);
        return commit ?? base;
      });
    },
  };
}
export type ConfigRepository = ReturnType<typeof configRepository>;
