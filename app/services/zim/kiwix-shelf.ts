// The Kiwix apps of this node bound to its folders and Docker: which one a page names, what Kiwix serves of its
// ZIM folder, and removing a file (unregistered from Kiwix first).
import type Docker from 'dockerode';
import { kiwixApp, kiwixApps, type KiwixApp } from './kiwix-apps.ts';
import { removeZim, servedBy } from './library.ts';

export function kiwixShelf(deps: { abraDir: string; zimRoot: string; docker: Docker }) {
  return {
    all: (): KiwixApp[] => kiwixApps(deps.abraDir, deps.zimRoot),
    /** The Kiwix app behind a stack name, with a folder the node may write to; a clear 404/409 otherwise. */
    find: (stack: string): KiwixApp & { zimDir: string } => kiwixApp(deps.abraDir, deps.zimRoot, stack),
    /** The ZIM files Kiwix serves now; undefined when Kiwix is not running. */
    served: (stack: string): Promise<Set<string> | undefined> => servedBy(deps.docker, stack),
    remove: (app: KiwixApp & { zimDir: string }, fileName: string) => removeZim(deps.docker, app.stack, app.zimDir, fileName),
  };
}
export type KiwixShelf = ReturnType<typeof kiwixShelf>;
