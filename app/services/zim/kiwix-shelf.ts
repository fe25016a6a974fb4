// The Kiwix apps of this node bound to its folders and Docker: which one a page names, what Kiwix serves of its
// ZIM folder, and removing a file (unregistered from Kiwix first).
import type Docker from 'dockerode';
import type { LiveModel } from '../../adapters/docker/live-model.ts';
import type { Actor, AuditLog } from '../audit.ts';
import { kiwixApp, kiwixApps, type KiwixApp } from './kiwix-apps.ts';
import { removeZim, servedBooks, type ServedBook } from './library.ts';

export function kiwixShelf(deps: { abraDir: string; zimRoot: string; docker: Docker; model: LiveModel; audit: AuditLog }) {
  return {
    all: (): KiwixApp[] => kiwixApps(deps.abraDir, deps.zimRoot),
    /** The Kiwix app behind a stack name, with a folder the node may write to; a clear 404/409 otherwise. */
    find: (stack: string): KiwixApp & { zimDir: string } => kiwixApp(deps.abraDir, deps.zimRoot, stack),
    /** The books in Kiwix's library, with titles, languages, dates, whether kiwix-serve serves each yet and at which path; undefined when Kiwix is not running. */
    books: (stack: string): Promise<Map<string, ServedBook> | undefined> => servedBooks(deps.docker, stack),
    /** Where people open the app's books: its domain through Traefik, and its LAN port when the overlay publishes one. */
    addresses: (stack: string, host: string): { web: string; lan?: string } => ({
      web: `https://${kiwixApps(deps.abraDir, deps.zimRoot).find((a) => a.stack === stack)?.domain ?? ''}`,
      lan: [...deps.model.services.values()].filter((x) => x.stack === stack).flatMap((x) => x.ports.map((p) => `http://${host}:${p.published}`))[0],
    }),
    /** Removes a ZIM file a steward named (and typed), audited. */
    async remove(app: KiwixApp & { zimDir: string }, fileName: string, actor: Actor): Promise<{ unregisteredFirst: boolean }> {
      const result = await removeZim(deps.docker, app.stack, app.zimDir, fileName);
      deps.audit.record(actor, 'zim.remove', { target: app.stack, detail: { fileName, ...result } });
      return result;
    },
  };
}
export type KiwixShelf = ReturnType<typeof kiwixShelf>;
