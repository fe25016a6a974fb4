// Builds the Express app from its dependencies, so tests can build it in-process with a real store and Docker.
import type Docker from 'dockerode';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Store } from './store/index.ts';
import { LiveModel } from './adapters/docker/live-model.ts';
import { JobRunner } from './services/jobs.ts';
import { lifecycleService } from './services/lifecycle.ts';
import { dockerImageLookup, preflightService } from './services/preflight.ts';
import { recipeOriginService } from './services/recipe-origin.ts';
import { appChanges } from './services/app-changes.ts';
import { nodeHealth } from './services/node-health.ts';
import { nodeSelf, selfIdentity } from './services/node-self.ts';
import { abraCommands } from './adapters/abra/commands.ts';
import { appPower } from './services/app-power.ts';
import { appAccess } from './services/app-access.ts';
import { stackExists } from './adapters/docker/stacks.ts';
import { archFitService } from './services/arch-fit.ts';
import { catalogueService } from './services/catalogue.ts';
import { zimBrowser } from './services/zim/browse.ts';
import { zimDownloads } from './services/zim/download-jobs.ts';
import { backupAdmin } from './services/backups/admin.ts';
import { backupService } from './services/backups/backups.ts';
import { backupRepository } from './services/backups/repository.ts';
import { backupScheduler } from './services/backups/schedule.ts';
import { fetchText } from './adapters/remote/fetch-text.ts';
import { fetchSmallDocument } from './adapters/kiwix/opds.ts';
import { auditHistory, auditLog, auditRetention } from './services/audit.ts';
import { peopleService } from './services/people.ts';
import { peopleAdmin } from './services/people-admin.ts';
import { configSharing } from './services/config-repo/sharing.ts';
import { sessionService } from './services/sessions.ts';
import { signIn } from './services/sign-in.ts';
import { settingsService } from './services/settings.ts';
import { nodeSettings } from './services/node-settings.ts';
import { assetRoutes } from './http/assets.ts';
import type { Services, Wiring } from './services/index.ts';
import { appDirectory } from './services/app-directory.ts';
import { appLogs } from './services/app-logs.ts';
import { healthService } from './services/health.ts';
import { jobHistory } from './services/job-history.ts';
import { kiwixShelf } from './services/zim/kiwix-shelf.ts';
import { errorHandler, notFound } from './http/errors.ts';
import { requireUser } from './http/middleware/auth.ts';
import { requireCsrf } from './http/middleware/csrf.ts';
import { loadSession } from './http/middleware/session.ts';
import { noStore } from './http/middleware/no-store.ts';
import { trustedProxies } from './services/trusted-proxies.ts';
import { localNameRoutes } from './http/routes/region.ts';
import { gitRouteTable, mount, routeTable } from './http/routes.ts';
import { regionService } from './services/region/region.ts';
import { configRepository } from './services/config-repo/repo.ts';
import { configRemote } from './services/config-repo/remote.ts';
import { accessTokenService } from './services/access-tokens.ts';
import { serverDir } from './adapters/abra/app-env.ts';
import { jobCancelService } from './services/job-cancel.ts';
import { appStateLine } from './services/job-summary.ts';
import path from 'node:path';

export type AppDeps = { config: Config; store: Store; docker: Docker; log: Logger; now?: () => number };

export function buildServices(deps: AppDeps): Wiring {
  const now = deps.now ?? Date.now;
  const sessions = sessionService(deps.store, { lifetimeMs: deps.config.sessionMs, now });
  const model = new LiveModel(deps.docker, deps.log);
  const audit = auditLog(deps.store.audit, now);
  // A cancelled job's output says what state it left its app in.
  const jobs = new JobRunner(deps.store.jobs, audit, { now, describeApp: (stack) => appStateLine(model, apps.lookup(stack)) });
  const { config } = deps;
  const abra = abraCommands({ bin: config.abraBin, abraDir: config.abraDir, pty: config.abraPty, timeoutMs: config.abraTimeoutMs });
  const settings = settingsService(deps.store, { nodeDomain: config.nodeDomain, downloadLimitKBps: 0 }, now);
  const archFit = archFitService({ docker: deps.docker, store: deps.store, now, log: deps.log });
  const identity = selfIdentity({ stack: config.selfStack, env: config.selfEnv, bundledRecipesDir: config.bundledRecipesDir });
  const region = regionService({ store: deps.store, docker: deps.docker, model, audit, log: deps.log, now, config: { ...config.region, port: config.port, abraDir: config.abraDir, zimRoot: config.zimRoot, dataDir: config.dataDir } });
  const configRepo = configRepository({ repoRoot: path.join(config.dataDir, 'config-repo'), serverDir: serverDir(config.abraDir), nodeDomain: () => settings.current().nodeDomain, log: deps.log });
  const self = nodeSelf({ identity, env: config.selfEnv, bundledRecipesDir: config.bundledRecipesDir, abraDir: config.abraDir, docker: deps.docker, jobs, settings: deps.store.settings, log: deps.log, now });
  const roots = { zimRoot: config.zimRoot };
  const access = appAccess({ abraDir: config.abraDir, roots, store: deps.store, audit, selfStack: () => identity?.stack, now });
  const history = jobHistory(deps.store.jobs);
  const apps = appDirectory({ model, abraDir: config.abraDir, access, jobs, history, settings, self });
  const remote = configRemote({ repo: configRepo, store: deps.store, log: deps.log, now });
  const retention = auditRetention({ store: deps.store.audit, audit, days: () => settings.current().auditRetentionDays, now, onError: (err) => deps.log.warn({ err: err.message }, 'could not prune the audit log') });
  const people = peopleService(deps.store, sessions, now);
  const accessTokens = accessTokenService(deps.store, now);
  const power = appPower({ docker: deps.docker, store: deps.store, jobs, access, apps, now });
  const backupRepo = backupRepository({ store: deps.store, dataDir: config.dataDir, resticBin: config.resticBin, now });
  const backups = backupService({ docker: deps.docker, store: deps.store, jobs, power, repo: backupRepo, volumesDir: config.dockerVolumesDir, dataDir: config.dataDir, abraDir: config.abraDir, log: deps.log, now });
  const backupSchedule = backupScheduler({ store: deps.store, backups, now, log: deps.log });
  const zimDownloadsService = zimDownloads({ jobs, store: deps.store, docker: deps.docker, settings, abraDir: config.abraDir, zimRoot: config.zimRoot, log: deps.log, audit, readFloor: config.readFloor, onMetalink: (a, meta) => region.onMetalink(a, meta) });
  const lifecycle = lifecycleService({
    abra,
    abraDir: config.abraDir,
    dataDir: config.dataDir,
    jobs,
    store: deps.store,
    archFit,
    self,
    nodeDomain: () => settings.current().nodeDomain,
    roots,
    preflight: preflightService({ abraDir: config.abraDir, roots, services: () => model.services.values(), images: dockerImageLookup(deps.docker) }),
    swarm: model,
    stackExists: (stack) => stackExists(deps.docker, stack),
    now,
    beforeUpgrade: (ctx, stack) => backups.beforeUpgrade(ctx, stack),
    configRepo,
  });
  const recipeOrigin = recipeOriginService({ abraDir: config.abraDir, cache: deps.store.remoteCache, now });
  return {
    lifecycle,
    self,
    access,
    model,
    apps,
    logs: appLogs(deps.docker),
    jobs,
    jobCancel: jobCancelService({ jobs, store: deps.store, access, apps, audit, downloads: zimDownloadsService }),
    jobHistory: history,
    health: healthService({ store: deps.store, docker: deps.docker }),
    power,
    backups,
    backupRepo,
    backupSchedule,
    backupAdmin: backupAdmin({ backups, repo: backupRepo, schedule: backupSchedule, audit }),
    config: deps.config,
    log: deps.log,
    store: deps.store,
    docker: deps.docker,
    audit,
    auditHistory: auditHistory(deps.store.audit),
    auditRetention: retention,
    sessions,
    people,
    peopleAdmin: peopleAdmin({ people, sessions, accessTokens, audit }),
    signIn: signIn({ people, sessions, audit }),
    settings,
    nodeSettings: nodeSettings({ settings, audit, auditRetention: retention, configRepo, configRemote: remote, log: deps.log }),
    archFit,
    configRepo,
    configRemote: remote,
    accessTokens,
    configSharing: configSharing({ repo: configRepo, accessTokens, audit }),
    recipeOrigin,
    appChanges: appChanges({ lifecycle, recipeOrigin, audit }),
    serverHealth: nodeHealth({ docker: deps.docker, dataDir: config.dataDir, zimRoot: config.zimRoot, now }),
    zims: {
      browser: zimBrowser({ store: deps.store, base: () => config.kiwixCatalogueUrl, now, fetchDocument: (url, what, o) => fetchSmallDocument(url, what, { floor: config.readFloor, ...o }) }),
      shelf: kiwixShelf({ abraDir: config.abraDir, zimRoot: config.zimRoot, docker: deps.docker, model, audit }),
      downloads: zimDownloadsService,
    },
    region,
    catalogue: catalogueService({
      store: deps.store,
      abraDir: config.abraDir,
      url: config.catalogueUrl,
      refreshHours: config.catalogueRefreshHours,
      fetchText: (url, o) => fetchText(url, { floor: config.readFloor, ...o }),
      now,
      log: deps.log,
      audit,
    }),
  };
}

export function createApp(wiring: Wiring, now: () => number = Date.now): Express {
  // Routes get the services only: not the store, the Docker client, the live model or the config.
  const { config, store: _store, docker, model: _model, ...services } = wiring;
  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-* (client address, HTTPS) only from the proxies TRUST_PROXY names: the login limiter and the
  // cookies' Secure/__Host- names depend on it.
  const proxies = trustedProxies(config.trustProxy, docker, services.log);
  app.set('trust proxy', (address: string) => proxies.trusts(address));
  app.use(localNameRoutes(services, config.region.localNamesUpstream)); // `<app>-<node>.local` goes to the app, not to the node's pages

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'self'"],
          objectSrc: ["'none'"],
          // no upgrade-insecure-requests: LAN nodes are often reached over plain HTTP by address
        },
      },
      strictTransportSecurity: false, // Traefik terminates TLS and owns HSTS
    }),
  );
  app.use(express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 200 }));
  app.use(express.json({ limit: '64kb' }));

  app.use(assetRoutes()); // the only responses a browser may keep
  app.use(noStore);
  // git over HTTP for laptops: Basic auth with an access token, no cookie, so before the session (see routes/git.ts).
  mount(app, gitRouteTable(services));
  app.use(loadSession(services.sessions));
  mount(app, routeTable(services, now)); // every path with its guards: app/http/routes.ts

  // Any other path needs a login too (an unknown page says "log in" before it says "not found"), and a POST a token.
  app.use(requireUser);
  app.use(requireCsrf());
  app.use(notFound);
  app.use(errorHandler(services.log));
  return app;
}
