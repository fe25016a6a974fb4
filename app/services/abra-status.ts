// Whether the node can run abra: checked at start, said on the pages that would use it, and refused clearly before
// any job that needs it.
import { existsSync } from 'node:fs';
import type { Abra } from '../adapters/abra/commands.ts';
import { serverDir } from '../adapters/abra/app-env.ts';
import { UserFacingError } from '../errors.ts';

export type AbraStatus = { ok: true; version: string } | { ok: false; problem: string };

export function abraStatus(abra: Pick<Abra, 'version' | 'serverAddLocal'>, abraDir: string) {
  let status: AbraStatus = { ok: false, problem: 'abra has not been checked yet' };
  return {
    get: (): AbraStatus => status,
    /** Why abra cannot run; undefined when it can. */
    problem: (): string | undefined => (status.ok ? undefined : status.problem),
    /** A 503 that says why, when abra cannot run. */
    guard(): void {
      if (!status.ok) throw new UserFacingError(`The node cannot run abra: ${status.problem}`, 503);
    },
    /** abra's version, and this machine added as its `default` server when it is not yet. Never throws. */
    async check(): Promise<AbraStatus> {
      try {
        const version = await abra.version();
        if (!existsSync(serverDir(abraDir))) await abra.serverAddLocal();
        status = { ok: true, version };
      } catch (err) {
        status = { ok: false, problem: (err as Error).message };
      }
      return status;
    },
  };
}
