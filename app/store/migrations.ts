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
    name: 'audit rows written before targets and details were bounded, brought within bounds',
    sql: `
      -- Line breaks and tabs in a target become spaces, escape and NUL characters go (the audit page shows targets).
      UPDATE audit_log SET target = replace(replace(replace(replace(replace(target, char(13), ' '), char(10), ' '), char(9), ' '), char(27), ''), char(0), '')
        WHERE instr(target, char(13)) OR instr(target, char(10)) OR instr(target, char(9)) OR instr(target, char(27)) OR instr(target, char(0));
      -- Targets at most 200 characters, as app/services/audit.ts now writes them.
      UPDATE audit_log SET target = substr(target, 1, 199) || '…' WHERE length(target) > 200;
      -- Details at most 4000 characters of JSON; a longer one keeps only that it was cut and its size.
      UPDATE audit_log SET detail = json_object('truncated', json('true'), 'size', length(detail)) WHERE length(detail) > 4000;
    `,
  },
  {
    version: 7,
    name: 'a region of nodes: identity, pairing, paired nodes and their last status, kept ZIM hashes, LAN names',
    sql: `
      -- This node's Ed25519 key pair (one row): its identity towards the nodes it pairs with.
      CREATE TABLE region_identity (
        id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        private_key TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      -- Nodes this node is paired with, and the last status each sent (kept for when it is unreachable).
      CREATE TABLE region_peers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        public_key TEXT NOT NULL,
        paired_at INTEGER NOT NULL,
        paired_by TEXT,
        status TEXT,
        status_at INTEGER,
        attempted_at INTEGER,
        error TEXT
      );
      -- Pairings in progress: 'offer' (this node shows the code) or 'request' (another node asked; an admin here types the code).
      CREATE TABLE region_pairings (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('offer', 'request')),
        code TEXT,
        peer_id TEXT,
        peer_name TEXT,
        peer_url TEXT NOT NULL,
        peer_key TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      -- The sha-256 of each ZIM file as its catalogue's Metalink stated it when this node fetched it: what it serves
      -- to neighbours, and what a copy from a neighbour must match.
      CREATE TABLE zim_hashes (
        file_name TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        source TEXT NOT NULL,
        kept_at INTEGER NOT NULL
      );
      -- Apps whose <app>-<node>.local name a steward turned on.
      CREATE TABLE local_names (
        stack TEXT PRIMARY KEY,
        enabled_at INTEGER NOT NULL,
        enabled_by TEXT
      );
    `,
  },
  {
    version: 8,
    name: 'backups: runs with their snapshots, and schedules',
    sql: `
      -- One row per snapshot the node made (restic holds the data; this holds what restic 0.14 does not say: size, trigger).
      CREATE TABLE backup_runs (
        id INTEGER PRIMARY KEY,
        job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        stack TEXT,
        snapshot_id TEXT NOT NULL,
        trigger TEXT NOT NULL,
        files INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        bytes_added INTEGER NOT NULL,
        seconds REAL NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX backup_runs_stack ON backup_runs(stack, id);
      CREATE UNIQUE INDEX backup_runs_snapshot ON backup_runs(snapshot_id);
      -- A daily backup per app (stack; '' for the node itself) at a quiet hour, with restic's retention.
      CREATE TABLE backup_schedules (
        stack TEXT PRIMARY KEY,
        hour INTEGER NOT NULL CHECK (hour BETWEEN 0 AND 23),
        keep_daily INTEGER NOT NULL,
        keep_weekly INTEGER NOT NULL,
        keep_monthly INTEGER NOT NULL,
        last_run_on TEXT,
        updated_at INTEGER NOT NULL,
        updated_by TEXT
      );
    `,
  },
  {
    version: 9,
    name: 'stacks an admin handed to the node',
    sql: `
      -- A stack the node did not install (no abra env file here) that an admin adopted: stewards may act on it.
      CREATE TABLE adopted_stacks (
        stack TEXT PRIMARY KEY,
        adopted_at INTEGER NOT NULL,
        adopted_by TEXT
      );
    `,
  },
  {
    version: 10,
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
  {
    version: 11,
    name: 'jobs can be cancelled',
    sql: `
      -- A job stopped on purpose by a person ends "cancelled" (not "interrupted", which is the node's doing). SQLite cannot
      -- change a CHECK in place: the jobs table is rebuilt, its output and the backup runs' links kept (they would
      -- follow the old table's drop through their foreign keys, so they are copied aside and put back).
      CREATE TABLE jobs_next (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        app TEXT,
        recipe TEXT,
        args TEXT NOT NULL DEFAULT '{}',
        actor TEXT,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'interrupted', 'cancelled')),
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        exit_code INTEGER,
        error TEXT,
        phase TEXT
      );
      INSERT INTO jobs_next (id, kind, app, recipe, args, actor, state, created_at, started_at, finished_at, exit_code, error, phase)
        SELECT id, kind, app, recipe, args, actor, state, created_at, started_at, finished_at, exit_code, error, phase FROM jobs;
      CREATE TEMP TABLE job_output_kept AS SELECT * FROM job_output;
      CREATE TEMP TABLE backup_job_links AS SELECT id, job_id FROM backup_runs WHERE job_id IS NOT NULL;
      DROP TABLE job_output;
      DROP TABLE jobs;
      ALTER TABLE jobs_next RENAME TO jobs;
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
      INSERT INTO job_output SELECT job_id, seq, at, stream, line FROM job_output_kept;
      UPDATE backup_runs SET job_id = (SELECT job_id FROM backup_job_links l WHERE l.id = backup_runs.id) WHERE id IN (SELECT id FROM backup_job_links);
      DROP TABLE job_output_kept;
      DROP TABLE backup_job_links;
    `,
  },
];
