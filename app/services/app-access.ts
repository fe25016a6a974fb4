// Who may change which app. The node holds the Docker socket (root on the host): a steward may act only on apps the
// node manages (its abra env file) or an admin adopted, never on the node itself, Traefik or a stack deployed from
// elsewhere, and never on an app whose deployed version would reach the host (Docker socket, host folders, ...).
import { readAppEnv, type InstalledApp } from '../adapters/abra/app-env.ts';
import type { Store } from '../store/index.ts';
import type { Role } from '../validation.ts';
import type { Actor, AuditLog } from './audit.ts';
import { UserFacingError } from '../errors.ts';
import { confinedPaths, type HostRoots } from './host-paths.ts';
import { describeReach, hostReachAt, type HostReach } from './host-reach.ts';

/** Someone acting, with the role their session has. */
export type Caller = Actor & { role: Role };

/**
 * self: the node itself (admins only: its settings, upgrade, rollback). managed: installed with the node's abra.
 * adopted: deployed elsewhere, handed to the node by an admin. read-only: everything else, and Traefik.
 */
export type Management = 'self' | 'managed' | 'adopted' | 'read-only';
export type AppAction = 'stop' | 'start' | 'restart' | 'deploy' | 'config' | 'upgrade' | 'rollback' | 'undeploy' | 'remove' | 'backup' | 'restore';

type AppLike = { stack: string; domain?: string; recipe?: string; installed?: InstalledApp };
/** What adoption looks at: the app as the live model shows it. */
type AdoptableApp = AppLike & { management: Management; coopCloud: boolean; services: readonly unknown[] };

/** Traefik carries every app's traffic (and the node's own): stopping or replacing it is not an app steward's call. */
export const isTraefik = (app: AppLike) => app.stack === 'traefik' || app.recipe === 'traefik' || app.installed?.recipe === 'traefik';

export function managementOf(app: AppLike, opts: { adopted: ReadonlySet<string>; selfStack?: string }): Management {
  if (opts.selfStack && app.stack === opts.selfStack) return 'self';
  if (opts.adopted.has(app.stack)) return 'adopted';
  if (isTraefik(app)) return 'read-only';
  return app.installed ? 'managed' : 'read-only';
}

const SELF_ACTIONS = new Set<AppAction>(['config', 'upgrade', 'rollback']);

/** Why `role` may not take `action` on this app (status and sentence), or undefined when it may. */
export function refusal(role: Role, app: AppLike, management: Management, action: AppAction, reach: HostReach[]): { status: number; message: string } | undefined {
  const name = app.domain ?? app.stack;
  if (role === 'guest') return { status: 403, message: 'Guests can look but not change anything. Ask an admin of this node if you need more.' };
  if (management === 'self') {
    if (role !== 'admin') return { status: 403, message: 'This is the node itself: only an admin may change its settings, upgrade it or roll it back.' };
    if (!SELF_ACTIONS.has(action)) return { status: 409, message: `This is the node itself: from its own page it can only be configured, upgraded or rolled back. To ${action} it, use abra from a terminal.` };
    return undefined;
  }
  if (management === 'read-only') {
    const why = isTraefik(app) ? 'it is Traefik, which carries every app’s traffic' : 'the node did not install it (no abra env file here)';
    return { status: 403, message: `${name} is shown read-only: ${why}.${role === 'admin' ? ' An admin can adopt it from its page to let the node act on it.' : ''}` };
  }
  if (reach.length && role !== 'admin') return { status: 403, message: `${name} reaches the host when deployed (${describeReach(reach)}): only an admin may change it.` };
  return undefined;
}

export function appAccess(deps: { abraDir: string; roots: HostRoots; store: Store; audit: AuditLog; selfStack: () => string | undefined; now: () => number }) {
  /** What an installed app's current version and settings reach on the host; adopted stacks were vouched for. */
  async function reachOf(app: AppLike): Promise<HostReach[]> {
    const installed = app.installed;
    if (!installed) return [];
    if (!installed.version) return [`${installed.domain} names no recipe version, so what it would reach on the host is unknown`];
    const text = readAppEnv(deps.abraDir, installed.domain) ?? '';
    return hostReachAt(deps.abraDir, installed.recipe, installed.version, text, installed.stack, confinedPaths(installed.recipe, deps.roots));
  }

  const options = () => ({ adopted: deps.store.adoptedStacks.names(), selfStack: deps.selfStack() });
  const management = (app: AppLike): Management => managementOf(app, options());

  return {
    reachOf,
    /** What appsFrom needs to say how each app is managed. */
    options,
    management,
    /** Throws when the caller may not take this action on this app; a clear 403/409 that changes nothing. */
    async authorize(caller: Caller, app: AppLike, action: AppAction): Promise<void> {
      const managed = management(app);
      // Only what a steward may otherwise do needs the (slower) look at the recipe.
      const reach = caller.role === 'steward' && (managed === 'managed' || managed === 'adopted') ? await reachOf(app) : [];
      const refused = refusal(caller.role, app, managed, action, reach);
      if (refused) throw new UserFacingError(refused.message, refused.status);
    },
    /** An admin hands a stack deployed elsewhere to the node, so that stewards may stop and start it (audited). */
    adopt(actor: Actor, app: AdoptableApp): void {
      const name = app.domain ?? app.stack;
      if (app.management === 'self') throw new UserFacingError('This is the node itself: it is never adopted.', 409);
      if (app.management === 'managed') throw new UserFacingError(`${name} was installed with this node’s abra: it is managed already.`, 409);
      if (app.management === 'adopted') throw new UserFacingError(`${name} is adopted already.`, 409);
      if (!app.services.length) throw new UserFacingError(`${app.stack} is not running on the swarm: there is nothing to adopt.`, 409);
      deps.store.adoptedStacks.adopt(app.stack, actor.name, deps.now());
      deps.audit.record(actor, 'app.adopt', { target: app.stack, detail: { recipe: app.recipe ?? null, coopCloud: app.coopCloud } });
    },
    /** "Stop managing": the stack is read-only again (audited). */
    release(actor: Actor, stack: string): void {
      if (!deps.store.adoptedStacks.release(stack)) throw new UserFacingError(`${stack} is not adopted.`, 409);
      deps.audit.record(actor, 'app.release', { target: stack });
    },
  };
}
export type AppAccess = ReturnType<typeof appAccess>;
