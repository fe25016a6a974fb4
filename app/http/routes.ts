// Every path the node answers, written out once with its guards, top to bottom. Guards run left to right:
//   login — a logged-in person (pages redirect to /login, other requests get 401);
//   csrf  — the form's token of the session (or, before login, of the pre-login cookie);
//   can(…) — what services/policy.ts allows the person's role (a 403 page otherwise).
// Per-app rules (managed, adopted, the node itself, host reach) are checked by the services the handlers call.
// Peers (other nodes) and laptops' git use their own checks: a pairing limit, signatures, access tokens.
import type { RequestHandler } from 'express';
import type { RoleAction } from '../services/policy.ts';
import type { Services } from './context.ts';
import { allow, requireUser } from './middleware/auth.ts';
import { requireCsrf } from './middleware/csrf.ts';
import { accessTokenRoutes } from './routes/access-tokens.ts';
import { adminRoutes } from './routes/admin.ts';
import { appRoutes } from './routes/apps.ts';
import { authRoutes } from './routes/auth.ts';
import { backupRoutes } from './routes/backups.ts';
import { catalogueRoutes } from './routes/catalogue.ts';
import { configRepoRoutes } from './routes/config-repo.ts';
import { gitRoutes } from './routes/git.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';
import { resourceRoutes } from './routes/resources.ts';
import { lifecycleRoutes } from './routes/lifecycle.ts';
import { peerRoutes, regionRoutes } from './routes/region.ts';
import { userRoutes } from './routes/users.ts';
import { zimRoutes } from './routes/zims.ts';

export type Guard = { name: string; handler: RequestHandler };
export type Route = { method: 'get' | 'post'; path: string; guards: Guard[]; handler: RequestHandler };

const login: Guard = { name: 'login', handler: requireUser };
const csrf: Guard = { name: 'csrf', handler: requireCsrf() };
const can = (action: RoleAction): Guard => ({ name: `can(${action})`, handler: allow(action) });
const guard = (name: string, handler: RequestHandler): Guard => ({ name, handler });

const GET = (path: string, ...rest: [...Guard[], RequestHandler]): Route => route('get', path, rest);
const POST = (path: string, ...rest: [...Guard[], RequestHandler]): Route => route('post', path, rest);
function route(method: Route['method'], path: string, rest: (Guard | RequestHandler)[]): Route {
  const handler = rest.at(-1) as RequestHandler;
  return { method, path, guards: rest.slice(0, -1) as Guard[], handler };
}

/** git's smart HTTP for laptops: HTTP Basic with an access token, checked by the handler; mounted before the
 *  session is read, since no cookie counts here (routes/git.ts). */
export function gitRouteTable(s: Services): Route[] {
  const git = gitRoutes(s);
  return [
    GET('/git/servers.git/*rest', git.git),
    POST('/git/servers.git/*rest', git.git),
  ];
}

/** Every other path, after the session is read. */
export function routeTable(s: Services, now: () => number): Route[] {
  const health = healthRoutes(s);
  const peer = peerRoutes(s, now);
  const pairLimit = guard('pair-limit', peer.pairLimit);
  const signed = guard('signed-by-peer', peer.signed);
  const auth = authRoutes(s, now);
  const apps = appRoutes(s);
  const catalogue = catalogueRoutes(s, now);
  const life = lifecycleRoutes(s);
  const zims = zimRoutes(s, now);
  const region = regionRoutes(s, now);
  const backups = backupRoutes(s);
  const jobs = jobRoutes(s);
  const resources = resourceRoutes(s);
  const users = userRoutes(s);
  const tokens = accessTokenRoutes(s);
  const config = configRepoRoutes(s);
  const admin = adminRoutes(s);

  return [
    // ---- Without a login: health (details for an admin), other nodes, logging in ----
    GET('/healthz', health.healthz),
    POST('/region/peer/pair-request', pairLimit, peer.pairRequest),
    POST('/region/peer/pair-confirm', pairLimit, peer.pairConfirm),
    GET('/region/peer/status', signed, peer.status),
    GET('/region/peer/opds', signed, peer.opds),
    GET('/region/peer/zims/:file', peer.zim), // a signed grant in the query, checked by the handler
    GET('/login', auth.loginPage),
    POST('/login', csrf, auth.logIn),
    GET('/setup', auth.setupPage),
    POST('/setup', csrf, auth.setUp),

    // ---- Your account ----
    GET('/account', login, auth.accountPage),
    POST('/account/password', login, csrf, auth.changePassword),
    POST('/logout', login, csrf, auth.logOut),
    POST('/logout-everywhere', login, csrf, auth.logOutEverywhere),

    // ---- The dashboard, app pages, power and logs ----
    GET('/', login, apps.dashboard),
    GET('/live', login, apps.dashboardLive),
    GET('/apps/:stack', login, apps.appPage),
    GET('/apps/:stack/live', login, apps.appLive),
    GET('/apps/:stack/stop', login, can('change-apps'), apps.stopPage),
    POST('/apps/:stack/stop', login, csrf, can('change-apps'), apps.stop),
    POST('/apps/:stack/start', login, csrf, can('change-apps'), apps.start),
    GET('/apps/:stack/logs', login, can('read-logs'), apps.logsPage),
    GET('/apps/:stack/logs/stream', login, can('read-logs'), apps.logsStream),

    // ---- The recipe catalogue ----
    GET('/recipes', login, catalogue.recipesPage),
    POST('/recipes/refresh', login, csrf, can('change-apps'), catalogue.refresh),
    POST('/recipes/:name/fetch', login, csrf, can('change-apps'), catalogue.fetchRecipe),
    GET('/recipes/:name', login, catalogue.recipePage),

    // ---- Installing and changing apps through abra ----
    GET('/install/:recipe', login, can('change-apps'), life.installPage),
    POST('/install/:recipe/folder', login, csrf, can('change-apps'), life.createInstallFolder), // pre-flight: a missing folder under ZIM_ROOT
    POST('/install/:recipe', login, csrf, can('change-apps'), life.install),
    GET('/apps/:stack/config', login, can('change-apps'), life.configPage),
    POST('/apps/:stack/folder', login, csrf, can('change-apps'), life.createAppFolder),
    POST('/apps/:stack/config', login, csrf, can('change-apps'), life.configure),
    POST('/apps/:stack/deploy', login, csrf, can('change-apps'), life.deploy),
    GET('/apps/:stack/undeploy', login, can('change-apps'), life.undeployPage),
    POST('/apps/:stack/undeploy', login, csrf, can('change-apps'), life.undeploy),
    POST('/apps/:stack/restart', login, csrf, can('change-apps'), life.restart),
    GET('/apps/:stack/upgrade', login, can('change-apps'), life.upgradePage),
    POST('/apps/:stack/upgrade/check', login, csrf, can('change-apps'), life.checkVersions), // asks the recipe's origin now
    POST('/apps/:stack/upgrade', login, csrf, can('change-apps'), life.upgrade),
    GET('/apps/:stack/rollback', login, can('change-apps'), life.rollbackPage),
    POST('/apps/:stack/rollback', login, csrf, can('change-apps'), life.rollback),
    GET('/apps/:stack/remove', login, can('change-apps'), life.removePage),
    POST('/apps/:stack/remove', login, csrf, can('change-apps'), life.remove),
    POST('/apps/:stack/adopt', login, csrf, can('administer'), life.adopt),
    POST('/apps/:stack/release', login, csrf, can('administer'), life.release),

    // ---- Kiwix apps' ZIM libraries ----
    GET('/zims', login, zims.librariesPage),
    GET('/apps/:stack/zims', login, zims.libraryPage),
    GET('/apps/:stack/zims/live', login, zims.libraryLive),
    POST('/apps/:stack/zims/download', login, csrf, can('change-apps'), zims.download),
    POST('/apps/:stack/zims/pause', login, csrf, can('change-apps'), zims.pause),
    POST('/apps/:stack/zims/resume', login, csrf, can('change-apps'), zims.resume),
    POST('/apps/:stack/zims/cancel', login, csrf, can('change-apps'), zims.cancel),
    GET('/apps/:stack/zims/remove', login, can('change-apps'), zims.removePage),
    POST('/apps/:stack/zims/remove', login, csrf, can('change-apps'), zims.remove),

    // ---- The region: paired nodes, LAN names, ZIM files from a neighbour ----
    GET('/region', login, region.regionPage),
    GET('/region/peers', login, region.peersPartial),
    POST('/region/pair', login, csrf, can('administer'), region.pair),
    POST('/region/requests/:id/accept', login, csrf, can('administer'), region.acceptRequest),
    POST('/region/pair-link', login, csrf, can('administer'), region.pairByLink),
    POST('/region/peers/:id/unpair', login, csrf, can('administer'), region.unpair),
    POST('/region/refresh', login, csrf, can('change-apps'), region.refresh),
    POST('/region/local-names', login, csrf, can('change-apps'), region.setLocalName),
    GET('/apps/:stack/zims/neighbours', login, can('change-apps'), region.neighboursPage),
    POST('/apps/:stack/zims/from-neighbour', login, csrf, can('change-apps'), region.fromNeighbour),

    // ---- Backups: the repository, each app's, the node's ----
    POST('/settings/backups', login, csrf, can('administer'), backups.setRepository),
    POST('/settings/backups/upgrade-snapshot', login, csrf, can('administer'), backups.setUpgradeSnapshot),
    GET('/apps/:stack/backups', login, backups.appBackupsPage),
    POST('/apps/:stack/backups', login, csrf, can('change-apps'), backups.backUpApp),
    GET('/apps/:stack/backups/:id/restore', login, can('change-apps'), backups.restorePage),
    POST('/apps/:stack/backups/:id/restore', login, csrf, can('change-apps'), backups.restore),
    POST('/jobs/:id/restore-before-upgrade', login, csrf, can('change-apps'), backups.restoreBeforeUpgrade),
    GET('/apps/:stack/backups/:id/download', login, can('change-apps'), backups.download),
    POST('/apps/:stack/backups/schedule', login, csrf, can('change-apps'), backups.appSchedule),
    POST('/node/backups/schedule', login, csrf, can('administer'), backups.nodeSchedule),
    GET('/node/backups', login, can('administer'), backups.nodeBackupsPage),
    POST('/node/backups', login, csrf, can('administer'), backups.backUpNode),

    // ---- Jobs ----
    GET('/server', login, resources.serverPage), // "This server": disk, memory, uptime, temperature
    GET('/apps/:stack/resources', login, resources.appResources), // an app's CPU and memory, read on demand
    GET('/jobs', login, jobs.jobsPage),
    GET('/jobs/:id', login, jobs.jobPage),
    GET('/jobs/:id/live', login, jobs.jobLive),
    POST('/jobs/:id/cancel', login, csrf, jobs.cancelJob), // who may cancel which job: decided by the job-cancel service
    POST('/jobs/:id/secrets', login, csrf, jobs.showSecrets), // only the person who installed, checked by the service

    // ---- People and their access tokens ----
    GET('/users', login, can('administer'), users.peoplePage),
    POST('/users', login, csrf, can('administer'), users.add),
    POST('/users/:id/password', login, csrf, can('administer'), users.resetPassword),
    POST('/users/:id/role', login, csrf, can('administer'), users.setRole),
    POST('/users/:id/disable', login, csrf, can('administer'), users.disable),
    POST('/users/:id/enable', login, csrf, can('administer'), users.enable),
    POST('/users/:id/logout', login, csrf, can('administer'), users.logOutEverywhere),
    POST('/users/:id/remove', login, csrf, can('administer'), users.remove),
    POST('/tokens', login, csrf, can('administer'), tokens.create),
    POST('/tokens/:id/revoke', login, csrf, can('administer'), tokens.revoke),

    // ---- The config repository: pending changes, the remote ----
    GET('/apps/:stack/changes', login, config.changesPage),
    POST('/apps/:stack/changes/deploy', login, csrf, can('change-apps'), config.deployChanges),
    POST('/apps/:stack/changes/discard', login, csrf, can('change-apps'), config.discardChanges),
    GET('/settings/config-repo', login, can('administer'), config.remotePage),
    POST('/settings/config-repo', login, csrf, can('administer'), config.setRemote),
    POST('/settings/config-repo/sync', login, csrf, can('administer'), config.syncRemote),

    // ---- Admin: the audit log, the node's settings ----
    GET('/audit', login, can('administer'), admin.auditPage),
    GET('/settings', login, can('administer'), admin.settingsPage),
    POST('/settings', login, csrf, can('administer'), admin.saveSettings),
  ];
}

/** Each route on `app`, its guards first. */
export function mount(app: { get: (path: string, ...h: RequestHandler[]) => unknown; post: (path: string, ...h: RequestHandler[]) => unknown }, routes: Route[]): void {
  for (const r of routes) app[r.method](r.path, ...r.guards.map((g) => g.handler), r.handler);
}
