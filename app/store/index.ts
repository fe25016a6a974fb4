// The only door to SQL: everything else talks to these typed stores.
import { openDb, storeAnswers, type Db } from './db.ts';
import { adoptedStackStore } from './adopted-stacks.ts';
import { accessTokenStore } from './access-tokens.ts';
import { auditStore } from './audit.ts';
import { backupStore } from './backups.ts';
import { imagePlatformsStore } from './image-platforms.ts';
import { jobStore } from './jobs.ts';
import { regionStore } from './region.ts';
import { remoteCacheStore } from './remote-cache.ts';
import { sessionStore } from './sessions.ts';
import { settingsStore } from './settings.ts';
import { stoppedServiceStore } from './stopped-services.ts';
import { userStore } from './users.ts';

export type Store = ReturnType<typeof createStore>;

export function createStore(dataDir: string) {
  const db: Db = openDb(dataDir);
  const accountWrites = { count: 0 };
  return {
    users: userStore(db, accountWrites),
    sessions: sessionStore(db, accountWrites),
    /** Goes up with every write to users or sessions made through this store (not by other processes). */
    accountsVersion: () => accountWrites.count,
    audit: auditStore(db),
    settings: settingsStore(db),
    stoppedServices: stoppedServiceStore(db),
    adoptedStacks: adoptedStackStore(db),
    jobs: jobStore(db),
    remoteCache: remoteCacheStore(db),
    imagePlatforms: imagePlatformsStore(db),
    region: regionStore(db),
    backups: backupStore(db),
    /** A consistent copy of the database while it runs (SQLite's online backup), for the node's own backup. */
    copyTo: (file: string) => db.backup(file),
    accessTokens: accessTokenStore(db),
    /** Run several store calls atomically. */
    transaction<T>(fn: () => T): T {
      return db.transaction(fn)();
    },
    answers: () => storeAnswers(db),
    close: () => db.close(),
  };
}
