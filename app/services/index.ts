// What the layers above are built from. `Services` is all the HTTP layer gets: no store, no Docker client, no
// config. `Wiring` is everything buildServices makes, for start-up, shutdown and tests.
import type Docker from 'dockerode';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { LiveModel } from '../adapters/docker/live-model.ts';
import type { AccessTokenService } from './access-tokens.ts';
import type { AppAccess } from './app-access.ts';
import type { AppChanges } from './app-changes.ts';
import type { AppDirectory } from './app-directory.ts';
import type { AppLogs } from './app-logs.ts';
import type { AppPower } from './app-power.ts';
import type { ArchFitService } from './arch-fit.ts';
import type { AuditHistory, AuditLog, AuditRetention } from './audit.ts';
import type { BackupAdmin } from './backups/admin.ts';
import type { BackupService } from './backups/backups.ts';
import type { BackupRepository } from './backups/repository.ts';
import type { BackupScheduler } from './backups/schedule.ts';
import type { Catalogue } from './catalogue.ts';
import type { ConfigRemote } from './config-repo/remote.ts';
import type { ConfigRepository } from './config-repo/repo.ts';
import type { ConfigSharing } from './config-repo/sharing.ts';
import type { HealthService } from './health.ts';
import type { NodeHealth } from './node-health.ts';
import type { RecipeOrigin } from './recipe-origin.ts';
import type { JobHistory } from './job-history.ts';
import type { JobRunner } from './jobs.ts';
import type { JobCancelService } from './job-cancel.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { NodeSelf } from './node-self.ts';
import type { NodeSettings } from './node-settings.ts';
import type { PeopleService } from './people.ts';
import type { PeopleAdmin } from './people-admin.ts';
import type { RegionService } from './region/region.ts';
import type { SessionService } from './sessions.ts';
import type { SignIn } from './sign-in.ts';
import type { SettingsService } from './settings.ts';
import type { ZimBrowser } from './zim/browse.ts';
import type { ZimDownloads } from './zim/download-jobs.ts';
import type { KiwixShelf } from './zim/kiwix-shelf.ts';

export type Services = {
  log: Logger;
  audit: AuditLog;
  /** The audit log as its page reads it. */
  auditHistory: AuditHistory;
  /** Deletes audit rows past the retention setting: at start, daily, and when the setting changes. */
  auditRetention: AuditRetention;
  people: PeopleService;
  /** An admin's changes to people and access tokens, audited. */
  peopleAdmin: PeopleAdmin;
  sessions: SessionService;
  /** Logging in and out, first-run setup and one's own password, audited. */
  signIn: SignIn;
  settings: SettingsService;
  /** The Settings page's save: each change audited. */
  nodeSettings: NodeSettings;
  /** The apps pages show (one shared list per live-model version), looked up by stack, and their changes. */
  apps: AppDirectory;
  logs: AppLogs;
  jobs: JobRunner;
  /** Who may cancel which job, and the cancel itself. */
  jobCancel: JobCancelService;
  jobHistory: JobHistory;
  power: AppPower;
  /** Who may change which app (managed, adopted, read-only, the node itself; what reaches the host); adoption. */
  access: AppAccess;
  lifecycle: Lifecycle;
  /** Changes to apps audited beyond their jobs: host reach confirmed, settings saved, folders, version checks, secrets shown. */
  appChanges: AppChanges;
  /** The node as one of its own apps (its env file, its own upgrades). */
  self: NodeSelf;
  catalogue: Catalogue;
  archFit: ArchFitService;
  zims: { browser: ZimBrowser; downloads: ZimDownloads; shelf: KiwixShelf };
  region: RegionService;
  backups: BackupService;
  backupRepo: BackupRepository;
  backupSchedule: BackupScheduler;
  /** People's changes to backups outside a job (repository, schedules, download, restore after an upgrade), audited. */
  backupAdmin: BackupAdmin;
  /** The abra server directory as a git repository laptops share (routes/git.ts), and who may reach it. */
  configRepo: ConfigRepository;
  /** Optional remote copy of the config repository, kept in step on a schedule. */
  configRemote: ConfigRemote;
  /** Who may reach the config repository over git, its pushes and pulls, and a discard: audited. */
  configSharing: ConfigSharing;
  accessTokens: AccessTokenService;
  health: HealthService;
  /** "Check for newer versions" of a recipe checkout, and when its origin last answered. */
  recipeOrigin: RecipeOrigin;
  /** This server's disk, memory, uptime and temperature, and each app's CPU and memory (read on demand, kept 10 s). */
  serverHealth: NodeHealth;
};

/** The services and what they were built on: the composition root, start-up and tests hold this. */
export type Wiring = Services & { config: Config; store: Store; docker: Docker; model: LiveModel };
