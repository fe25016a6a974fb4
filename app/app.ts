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
import { recipeOriginService } from './services/recipe-origin.ts';
import { nodeHealth } from './services/node-health.ts';
import { resourceRoutes } from './http/routes/resources.ts';
import { nodeSelf, selfIdentity } from './services/node-self.ts';
import { abraCommands } from './adapters/abra/commands.ts';
import { appPower } from './services/app-power.ts';
import { appAccess } from './services/app-access.ts';
import { stackExists } from './adapters/docker/stacks.ts';
import { archFitService } from './services/arch-fit.ts';
import { catalogueService } from './services/catalogue.ts';
import { zimBrowser } from './services/zim/browse.ts';
import { zimDownloads } from './services/zim/downloads.ts';
import { backupService } from './services/backups/backups.ts';
import { backupRepository } from './services/backups/repository.ts';
import { backupScheduler } from './services/backups/schedule.ts';
import { fetchText } from './adapters/remote/fetch-text.ts';
import { fetchSmallDocument } from './adapters/kiwix/opds.ts';
import { auditLog, auditRetention } from './services/audit.ts';
import { peopleService } from './services/people.ts';
import { sessionService } from './services/sessions.ts';
import { settingsService } from './services/settings.ts';
import { assetRoutes } from './http/assets.ts';
import type { Services } from './http/context.ts';
import { errorHandler, notFound } from './http/errors.ts';
import { requireUser } from './http/middleware/auth.ts';
import { requireCsrf } from './http/middleware/csrf.ts';
import { loadSession } from './http/middleware/session.ts';
import { noStore } from './http/middleware/no-store.ts';
import { trustedProxies } from './http/trusted-proxies.ts';
import { adminRoutes } from './http/routes/admin.ts';
import { authRoutes } from './http/routes/auth.ts';
import { appRoutes } from './http/routes/apps.ts';
import { healthRoutes } from './http/routes/health.ts';
import { userRoutes } from './http/routes/users.ts';
import { lifecycleRoutes } from './http/routes/lifecycle.ts';
import { jobRoutes } from './http/routes/jobs.ts';
import { catalogueRoutes } from './http/routes/catalogue.ts';
import { zimRoutes } from './http/routes/zims.ts';
import { localNameRoutes, peerRoutes, regionRoutes } from './http/routes/region.ts';
import { regionService } from './services/region/region.ts';
import { backupRoutes } from './http/routes/backups.ts';
import { gitRoutes } from './http/routes/git.ts';
import { configRepoRoutes } from './http/routes/config-repo.ts';
import { accessTokenRoutes } from './http/routes/access-tokens.ts';
import { configRepository } from './services/config-repo/repo.ts';
import { configRemote } from './services/config-repo/remote.ts';
import { accessTokenService } from './services/access-tokens.ts';
import { serverDir } from './adapters/abra/app-env.ts';
import path from 'node:path';

export type AppDeps = { config: Config; store: Store; docker: Docker; log: Logger; now?: () => number };

export function buildServices(deps: AppDeps): Services {
  const now = deps.now ?? Date.now;
  const sessions = sessionService(deps.store, { lifetimeMs: deps.config.sessionMs, now });
  const model = new LiveModel(deps.docker, deps.log);
  const audit = auditLog(deps.store.audit, now);
  const jobs = new JobRunner(deps.store.jobs, audit, { now });
  const { config } = deps;
  const abra = abraCommands({ bin: config.abraBin, abraDir: config.abraDir, pty: config.abraPty, timeoutMs: config.abraTimeoutMs });
  const settings = settingsService(deps.store, { nodeDomain: config.nodeDomain, downloadLimitKBps: 0 }, now);
  const archFit = archFitService({ docker: deps.docker, store: deps.store, now, log: deps.log });
  const identity = selfIdentity({ stack: config.selfStack, env: config.selfEnv, bundledRecipesDir: config.bundledRecipesDir });
  const region = regionService({ store: deps.store, docker: deps.docker, model, audit, log: deps.log, now, config: { ...config.region, port: config.port, abraDir: config.abraDir, zimRoot: config.zimRoot, dataDir: config.dataDir } });
  const configRepo = configRepository({ repoRoot: path.join(config.dataDir, 'config-repo'), serverDir: serverDir(config.abraDir), nodeDomain: () => settings.current().nodeDomain, log: deps.log });
  const self = nodeSelf({ identity, env: config.selfEnv, bundledRecipesDir: config.bundledRecipesDir, abraDir: config.abraDir, docker: deps.docker, jobs, settings: deps.store.settings, log: deps.log, now });
  const roots = { zimRoot: config.zimRoot };
  const access = appAccess({ abraDir: config.abraDir, roots, store: deps.store, selfStack: () => identity?.stack });
  const power = appPower({ docker: deps.docker, store: deps.store, model, jobs, access, abraDir: config.abraDir, now });
  const backupRepo = backupRepository({ store: deps.store, dataDir: config.dataDir, resticBin: config.resticBin, now });
  const backups = backupService({ docker: deps.docker, store: deps.store, jobs, power, repo: backupRepo, volumesDir: config.dockerVolumesDir, dataDir: config.dataDir, abraDir: config.abraDir, log: deps.log, now });
  return {
    lifecycle: lifecycleService({
      abra,
      abraDir: config.abraDir,
      dataDir: config.dataDir,
      jobs,
      store: deps.store,
      archFit,
      self,
      nodeDomain: () => settings.current().nodeDomain,
      roots,
      stackExists: (stack) => stackExists(deps.docker, stack),
      now,
      beforeUpgrade: (ctx, stack) => backups.beforeUpgrade(ctx, stack),
      configRepo,
    }),
    self,
    access,
    model,
    jobs,
    power,
    backups,
    backupRepo,
    backupSchedule: backupScheduler({ store: deps.store, backups, now, log: deps.log }),
    config: deps.config,
    log: deps.log,
    store: deps.store,
    docker: deps.docker,
    audit,
    auditRetention: auditRetention({ store: deps.store.audit, audit, days: () => settings.current().auditRetentionDays, now, onError: (err) => deps.log.warn({ err: err.message }, 'could not prune the audit log') }),
    sessions,
    people: peopleService(deps.store, sessions, now),
    settings,
    archFit,
    configRepo,
    configRemote: configRemote({ repo: configRepo, store: deps.store, log: deps.log, now }),
    accessTokens: accessTokenService(deps.store, now),
    recipeOrigin: recipeOriginService({ abraDir: config.abraDir, cache: deps.store.remoteCache, now }),
    health: nodeHealth({ docker: deps.docker, dataDir: config.dataDir, zimRoot: config.zimRoot, now }),
    zims: {
      browser: zimBrowser({ store: deps.store, base: () => config.kiwixCatalogueUrl, now, fetchDocument: (url, what, o) => fetchSmallDocument(url, what, { floor: config.readFloor, ...o }) }),
      downloads: zimDownloads({ jobs, store: deps.store, docker: deps.docker, settings, abraDir: config.abraDir, zimRoot: config.zimRoot, log: deps.log, readFloor: config.readFloor, onMetalink: (a, meta) => region.onMetalink(a, meta) }),
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
    }),
  };
}

export function createApp(services: Services, now: () => number = Date.now): Express {
  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-* (client address, HTTPS) only from the proxies TRUST_PROXY names: the login limiter and the
  // cookies' Secure/__Host- names depend on it.
  const proxies = trustedProxies(services.config.trustProxy, services.docker, services.log);
  app.set('trust proxy', (address: string) => proxies.trusts(address));
  app.use(localNameRoutes(services)); // `<app>-<node>.local` goes to the app, not to the node's pages

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
  app.use(gitRoutes(services));
  app.use(loadSession(services.sessions));
  app.use(healthRoutes(services)); // without login; details for a logged-in admin
  app.use(peerRoutes(services, now)); // other nodes: pairing and signed requests, no login

  const auth = authRoutes(services, now);
  app.use(auth.public);

  // Everything below needs a logged-in user, and every state change a CSRF token.
  app.use(requireUser);
  app.use(requireCsrf());
  app.use(auth.private);
  app.use(appRoutes(services));
  app.use(resourceRoutes(services)); // "This server" and an app's CPU and memory, read on demand
  app.use(catalogueRoutes(services, now));
  app.use(lifecycleRoutes(services));
  app.use(zimRoutes(services, now));
  app.use(regionRoutes(services, now));
  app.use(backupRoutes(services));
  app.use(jobRoutes(services));
  app.use(userRoutes(services));
  app.use(accessTokenRoutes(services));
  app.use(configRepoRoutes(services));
  app.use(adminRoutes(services));

  app.use(notFound);
  app.use(errorHandler(services.log));
  return app;
}
