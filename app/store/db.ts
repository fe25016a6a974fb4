// Opens the SQLite file in WAL mode and brings its schema up to date.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrations, type Migration } from './migrations.ts';

export type Db = Database.Database;

/** Counts a store's writes, so an in-memory copy of what it holds knows when to read again. */
export type WriteCounter = { count: number };

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/** Compiles each SQL text once per connection: pages run the same few queries on every request. */
export function prep(db: Db, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

/** `prep` for statements that change rows: each use counts in `writes`. */
export function prepWrite(db: Db, writes: WriteCounter): (sql: string) => Database.Statement {
  return (sql) => {
    writes.count += 1;
    return prep(db, sql);
  };
}

const DB_FILE = 'lores-node.sqlite';

/** chmod, where this process may: a folder it does not own (a dev's shared ./data) is left as it is. */
function restrict(file: string, mode: number): void {
  try {
    chmodSync(file, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

/**
 * DATA_DIR 0700 and the database with its -wal and -shm files 0600, whatever the umask: they hold password hashes
 * and session tokens. Existing files from before are put right too.
 */
function privateFiles(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  restrict(dataDir, 0o700);
  const file = path.join(dataDir, DB_FILE);
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600)); // SQLite gives -wal and -shm the file's mode
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) restrict(f, 0o600);
  return file;
}

export function openDb(dataDir: string, list: Migration[] = migrations): Db {
  const file = privateFiles(dataDir);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  for (const f of [`${file}-wal`, `${file}-shm`]) if (existsSync(f)) restrict(f, 0o600);
  // NORMAL is durable across a process crash (kill -9) in WAL mode; only power loss may drop the last commit.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, list);
  return db;
}

export function migrate(db: Db, list: Migration[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const pending = list.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

/** A cheap liveness probe used by /healthz. */
export function storeAnswers(db: Db): boolean {
  try {
    return (db.prepare('SELECT 1 AS ok').get() as { ok: number }).ok === 1;
  } catch {
    return false;
  }
}
