// The real git, run with argv arrays (never a shell) against one repository directory.
import { execa } from 'execa';

export class GitError extends Error {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(message: string, exitCode: number | undefined, stderr: string) {
    super(message);
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export type GitRun = (args: string[], opts?: { input?: string; env?: Record<string, string>; allowFail?: boolean; timeoutMs?: number }) => Promise<{ stdout: string; exitCode: number }>;

/** A git runner bound to one git directory (a bare repository). Git's own config and hooks outside it are ignored. */
export function gitAt(gitDir: string): GitRun {
  return async (args, opts = {}) => {
    const r = await execa('git', ['--git-dir', gitDir, ...args], {
      reject: false,
      stripFinalNewline: false,
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      env: { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...opts.env },
      ...(opts.input === undefined ? { stdin: 'ignore' } : { input: opts.input }),
    });
    const exitCode = r.exitCode ?? -1;
    if (exitCode !== 0 && !opts.allowFail) {
      throw new GitError(`git ${args[0]} failed: ${String(r.stderr).trim().slice(0, 500)}`, r.exitCode, String(r.stderr));
    }
    return { stdout: String(r.stdout), exitCode };
  };
}
