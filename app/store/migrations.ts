// Numbered schema migrations. Append only: never edit a migration that has shipped.
export type Migration = { version: number; name: string; sql: string };

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'people, sessions, audit, settings',
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'steward', 'guest')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        ip TEXT NOT NULL,
        user_agent TEXT NOT NULL
      );
      CREATE INDEX sessions_user ON sessions(user_id);
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT,
        ip TEXT,
        action TEXT NOT NULL,
        target TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
        detail TEXT
      );
      CREATE INDEX audit_at ON audit_log(at);
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        updated_by TEXT
      );
    `,
  },
  {
    version: 2,
    name: 'replica counts remembered when an app is stopped',
    sql: `
      CREATE TABLE stopped_services (
        stack TEXT NOT NULL,
        service TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('replicated', 'global')),
        replicas INTEGER NOT NULL,
        stopped_at INTEGER NOT NULL,
        stopped_by TEXT,
        PRIMARY KEY (stack, service)
      );
    `,
  },
  {
    version: 3,
    name: 'durable jobs and their output',
    sql: `
      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        app TEXT,
        recipe TEXT,
        args TEXT NOT NULL DEFAULT '{}',
        actor TEXT,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        exit_code INTEGER,
        error TEXT
      );
      CREATE INDEX jobs_app ON jobs(app, id);
      CREATE INDEX jobs_state ON jobs(state);
      CREATE TABLE job_output (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        stream TEXT NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
      );
    `,
  },
  {
    version: 4,
    name: 'remote documents kept for offline use, image platforms',
    sql: `
      -- The last good copy of a remote document (the recipe catalogue, Kiwix's OPDS pages), served when offline.
      CREATE TABLE remote_cache (
        key TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        body TEXT,
        fetched_at INTEGER,
        attempted_at INTEGER NOT NULL,
        error TEXT
      );
      -- What platforms an image's manifest (list) offers, as the registry answered through the Docker daemon.
      CREATE TABLE image_platforms (
        ref TEXT PRIMARY KEY,
        digest TEXT,
        platforms TEXT,
        error TEXT,
        checked_at INTEGER NOT NULL
      );
      CREATE INDEX image_platforms_digest ON image_platforms(digest);
    `,
  },
  {
    version: 5,
    name: 'what a running job is waiting for',
    sql: `
      -- A running job may say what it waits for (the node's own upgrade: "restarting", then "checking"); pages show it.
      ALTER TABLE jobs ADD COLUMN phase TEXT;
    `,
  },
  {
    version: 6,
    name: 'access tokens for the config repository (git over HTTP)',
    sql: `
      -- Per-person tokens for cloning, pulling and pushing the node's abra config repository (routes/git.ts).
      -- Only a hash is kept, like sessions: the token is shown once, when an admin makes it.
      CREATE TABLE IF NOT EXISTS access_tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        created_by TEXT,
        last_used_at INTEGER,
        revoked_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS access_tokens_user ON access_tokens(user_id);
    `,
  },
];
