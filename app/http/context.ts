// What the HTTP layer is built from: the services, and the few facts routes need about the request.
import type { NodeSelf } from '../services/node-self.ts';
import type Docker from 'dockerode';
import type { Request } from 'express';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { LiveModel } from '../adapters/docker/live-model.ts';
import type { JobRunner } from '../services/jobs.ts';
import type { Lifecycle } from '../services/lifecycle.ts';
import type { AppPower } from '../services/app-power.ts';
import type { AppAccess, Caller } from '../services/app-access.ts';
import type { ArchFitService } from '../services/arch-fit.ts';
import type { Catalogue } from '../services/catalogue.ts';
import type { ZimBrowser } from '../services/zim/browse.ts';
import type { ZimDownloads } from '../services/zim/downloads.ts';
import type { RegionService } from '../services/region/region.ts';
import type { Actor, AuditLog, AuditRetention } from '../services/audit.ts';
import type { PeopleService } from '../services/people.ts';
import type { Session, SessionService } from '../services/sessions.ts';
import type { SettingsService } from '../services/settings.ts';
import type { BackupService } from '../services/backups/backups.ts';
import type { BackupRepository } from '../services/backups/repository.ts';
import type { BackupScheduler } from '../services/backups/schedule.ts';
import type { ConfigRepository } from '../services/config-repo/repo.ts';
import type { ConfigRemote } from '../services/config-repo/remote.ts';
import type { AccessTokenService } from '../services/access-tokens.ts';
import type { RecipeOrigin } from '../services/recipe-origin.ts';
import type { NodeHealth } from '../services/node-health.ts';

export type Services = {
  config: Config;
  log: Logger;
  store: Store;
  docker: Docker;
  audit: AuditLog;
  /** Deletes audit rows past the retention setting: at start, daily, and when the setting changes. */
  auditRetention: AuditRetention;
  people: PeopleService;
  sessions: SessionService;
  settings: SettingsService;
  model: LiveModel;
  jobs: JobRunner;
  power: AppPower;
  /** Who may change which app (managed, adopted, read-only, the node itself; what reaches the host). */
  access: AppAccess;
  lifecycle: Lifecycle;
  /** The node as one of its own apps (its env file, its own upgrades). */
  self: NodeSelf;
  catalogue: Catalogue;
  archFit: ArchFitService;
  zims: { browser: ZimBrowser; downloads: ZimDownloads };
  region: RegionService;
  backups: BackupService;
  backupRepo: BackupRepository;
  backupSchedule: BackupScheduler;
  /** The abra server directory as a git repository laptops share (routes/git.ts), and who may reach it. */
  configRepo: ConfigRepository;
  /** Optional remote copy of the config repository, kept in step on a schedule. */
  configRemote: ConfigRemote;
  accessTokens: AccessTokenService;
  /** "Check for newer versions" of a recipe checkout, and when its origin last answered. */
  recipeOrigin: RecipeOrigin;
  /** This server's disk, memory, uptime and temperature, and each app's CPU and memory (read on demand, kept 10 s). */
  health: NodeHealth;
};

declare global {
  namespace Express {
    interface Locals {
      session?: Session;
      /** The CSRF token forms on this page must send back. */
      csrfToken: string;
    }
  }
}

export const clientIp = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

export const actorOf = (req: Request, session: Session | undefined): Actor => ({
  name: session?.user.username ?? null,
  ip: clientIp(req),
});

/** The actor with the role of their session, for services that decide by role. */
export const callerOf = (req: Request, session: Session | undefined): Caller => ({ ...actorOf(req, session), role: session?.user.role ?? 'guest' });

/** htmx sets HX-Request on its own requests; they get fragments and status codes instead of redirects. */
export const isHtmx = (req: Request): boolean => req.get('HX-Request') === 'true';
