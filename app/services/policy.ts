// Who may do what, in one place: routes guard with it, and pages offer only what it allows (views never look at
// roles). Per app, the answer here is what a page may offer; the action itself is checked again, with what the
// app's version reaches on the host, by app-access.ts's authorize().
import type { Role } from '../validation.ts';
import type { Management } from './app-access.ts';

/** Actions by role alone. */
export type RoleAction =
  /** Install, start, stop, deploy, change settings, back up, manage ZIM files, LAN names: stewards and admins. */
  | 'change-apps'
  /** Follow service logs (they often carry tokens and addresses): stewards and admins. */
  | 'read-logs'
  /** People, node settings, the audit log, pairing, backups of the node, adopting stacks: admins. */
  | 'administer'
  /** Install, configure or upgrade what reaches the host, after ticking that they understand: admins. */
  | 'confirm-host-reach';
/** Actions on one app, as its page shows it. */
export type AppPageAction = 'app.power' | 'app.manage' | 'app.adopt' | 'app.release' | 'app.self';
export type Action = RoleAction | AppPageAction;

/** The roles each role-level action needs, in the order refusals name them. */
export const ROLES_FOR: Record<RoleAction, readonly Role[]> = {
  'change-apps': ['admin', 'steward'],
  'read-logs': ['admin', 'steward'],
  administer: ['admin'],
  'confirm-host-reach': ['admin'],
};

type Someone = { role: Role } | undefined | null;
type AppOnPage = { stack: string; recipe?: string; management: Management; installed?: unknown; services: readonly unknown[] };

const acting = (m: Management) => m === 'managed' || m === 'adopted';

export function can(user: Someone, action: RoleAction): boolean;
export function can(user: Someone, action: AppPageAction, app: AppOnPage): boolean;
export function can(user: Someone, action: Action, app?: AppOnPage): boolean {
  const role = user?.role;
  if (!role) return false;
  const may = (a: RoleAction) => ROLES_FOR[a].includes(role);
  if (!action.startsWith('app.')) return may(action as RoleAction);
  if (!app) return false;
  switch (action as AppPageAction) {
    case 'app.power': // the node itself is never stopped from its own page
      return may('change-apps') && app.recipe !== 'lores-node' && acting(app.management);
    case 'app.manage': // abra can change only what this node's abra installed
      return may('change-apps') && Boolean(app.installed) && acting(app.management);
    case 'app.adopt':
      return may('administer') && app.management === 'read-only' && app.services.length > 0;
    case 'app.release':
      return may('administer') && app.management === 'adopted';
    case 'app.self':
      return may('administer');
  }
  return false;
}

/** What a page may offer this person: the flags views test instead of roles. */
export function mayFor(user: Someone) {
  return {
    change: can(user, 'change-apps'),
    logs: can(user, 'read-logs'),
    administer: can(user, 'administer'),
    confirmHostReach: can(user, 'confirm-host-reach'),
    /** The buttons an app's page and dashboard row may show. */
    on: (app: AppOnPage) => ({
      power: can(user, 'app.power', app),
      manage: can(user, 'app.manage', app),
      adopt: can(user, 'app.adopt', app),
      release: can(user, 'app.release', app),
      self: can(user, 'app.self', app),
    }),
  };
}
export type May = ReturnType<typeof mayFor>;
