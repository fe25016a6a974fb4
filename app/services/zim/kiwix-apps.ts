// The Kiwix apps this node runs and the ZIM folder of each: where downloads may go, and only there.
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { listInstalled, readAppEnv } from '../../adapters/abra/app-env.ts';
import { readEnvValues } from '../env-file.ts';
import { UserFacingError } from '../../errors.ts';

export type KiwixApp = {
  domain: string;
  stack: string;
  /** The host folder Kiwix serves (its ZIM_FILES_PATH), when the node may write into it. */
  zimDir: string | null;
  /** Why the node cannot manage its ZIM files, in one sentence. */
  problem?: string;
};

export const KIWIX_RECIPE = 'kiwix';

/** ZIM_FILES_PATH, when it is an existing folder at or below the ZIM root (the only place the node writes). */
function zimDirOf(envText: string, zimRoot: string): { zimDir: string | null; problem?: string } {
  const raw = readEnvValues(envText).get('ZIM_FILES_PATH') ?? '';
  if (!raw || !path.isAbsolute(raw)) return { zimDir: null, problem: 'Its ZIM_FILES_PATH is not set to an absolute folder.' };
  const dir = path.resolve(raw);
  const root = path.resolve(zimRoot);
  const outside = (d: string, r: string) => d !== r && !d.startsWith(r + path.sep);
  const problem = `Its ZIM folder ${dir} is outside the node’s ZIM folder ${root} (ZIM_ROOT), so the node does not write there.`;
  if (outside(dir, root)) return { zimDir: null, problem };
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return { zimDir: null, problem: `Its ZIM folder ${dir} does not exist on this machine (or is not mounted into the node).` };
  // Symlinks may not lead a folder out of the root: compare where both really are.
  if (outside(realpathSync(dir), realpathSync(root))) return { zimDir: null, problem };
  return { zimDir: dir };
}

export function kiwixApps(abraDir: string, zimRoot: string): KiwixApp[] {
  return listInstalled(abraDir)
    .filter((a) => a.recipe === KIWIX_RECIPE)
    .map((a) => ({ domain: a.domain, stack: a.stack, ...zimDirOf(readAppEnv(abraDir, a.domain) ?? '', zimRoot) }));
}

/** The Kiwix app behind a stack name, with a folder the node may write to; a clear 404/409 otherwise. */
export function kiwixApp(abraDir: string, zimRoot: string, stack: string): KiwixApp & { zimDir: string } {
  const app = kiwixApps(abraDir, zimRoot).find((a) => a.stack === stack);
  if (!app) throw new UserFacingError(`There is no Kiwix app “${stack}” on this node.`, 404);
  if (!app.zimDir) throw new UserFacingError(app.problem ?? 'The node cannot write to this app’s ZIM folder.', 409);
  return app as KiwixApp & { zimDir: string };
}
