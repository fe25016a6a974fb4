// git's pre-receive hook for the config repository, run by `git receive-pack` (under the node's `git
// http-backend`) with the pushed objects still in quarantine. It checks every pushed commit with the node's
// own rules (layout.ts, secrets.ts) and refuses the whole push, with reasons, if any is broken. The node writes
// hooks/pre-receive to run this file with its own Node binary (config-repo/repo.ts).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { envFileProblems, MAIN_REF, NODE_FILE, pathProblem } from './layout.ts';
import { secretFindings } from './secrets.ts';

const MAX_COMMITS = 500;
const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const isZero = (sha: string) => /^0+$/.test(sha);

function checkUpdate(oldSha: string, newSha: string, ref: string): string[] {
  if (ref !== MAIN_REF) return [`Only the main branch can be pushed here (not ${ref}).`];
  if (isZero(newSha)) return ['The main branch cannot be deleted.'];
  const problems = new Set<string>();
  const commits = git('rev-list', `--max-count=${MAX_COMMITS + 1}`, newSha, '--not', '--all').split('\n').filter(Boolean);
  if (commits.length > MAX_COMMITS) return [`This push has more than ${MAX_COMMITS} new commits; push them in smaller parts.`];
  // Every new commit, not only the last: a secret added in one commit and removed in the next stays in history.
  for (const c of commits) {
    const raw = git('diff-tree', '-r', '-z', '--no-commit-id', '--root', '-m', c).split('\0');
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const [, newMode = '', , newBlob = '', status = ''] = raw[i]!.replace(/^:/, '').split(' ');
      const file = raw[i + 1]!;
      if (status.startsWith('D')) continue;
      const bad = pathProblem(file, newMode);
      if (bad) problems.add(bad);
      else if (file.endsWith('.env')) {
        for (const f of secretFindings(git('cat-file', 'blob', newBlob))) {
          problems.add(`${file} (commit ${c.slice(0, 10)}) line ${f.line}: ${f.key || 'the file'} holds ${f.reason}. Secret values live in the swarm, never in git: rewrite that commit without it (git commit --amend or git rebase -i) and push again.`);
        }
      }
    }
  }
  // The files as they would end up: each changed env file must parse and name a valid domain.
  const changed = isZero(oldSha) ? git('ls-tree', '-r', '-z', '--name-only', newSha).split('\0') : git('diff', '--name-only', '-z', '--no-renames', oldSha, newSha).split('\0');
  for (const file of changed.filter(Boolean)) {
    const blob = git('ls-tree', '-z', newSha, '--', file).split('\0')[0];
    if (!blob) continue; // deleted
    const [mode = '', , sha = ''] = blob.split(/\s/);
    const bad = pathProblem(file, mode);
    if (bad) problems.add(bad);
    else if (file === NODE_FILE && !isZero(oldSha)) problems.add(`${NODE_FILE} is written by the node (its domain is set on the Settings page); undo your change to it and push again.`);
    else if (file.endsWith('.env')) for (const p of envFileProblems(file, git('cat-file', 'blob', sha))) problems.add(p);
  }
  return [...problems];
}

const problems = readFileSync(0, 'utf8')
  .split('\n')
  .filter(Boolean)
  .flatMap((line) => {
    const [oldSha = '', newSha = '', ref = ''] = line.split(' ');
    return checkUpdate(oldSha, newSha, ref);
  });
if (problems.length) {
  process.stderr.write(`LoRes Node refused this push:\n${problems.slice(0, 20).map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
