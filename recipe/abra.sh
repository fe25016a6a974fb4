#!/usr/bin/env bash
# Read by abra for this recipe.
#
# Versions of swarm configs: every config in compose*.yml whose name ends in a version variable gets that
# variable exported here, bumped whenever the config's file changes (configs cannot change in place; abra
# lint R012). This recipe has no configs yet.
#
# Functions for operators, run inside the node's container with
#   abra app cmd <domain> app <function> [-- args]
# They need only what the image has (bash, node) and the node answering on its port.

LORES_HOME=${LORES_HOME:-/srv/lores-node}
LORES_CLI="$LORES_HOME/dist/app/cli.js"

# The node's /healthz JSON, pretty-printed; fails when the node does not answer or says it is failing.
_lores_healthz() {
  node -e '
    const url = `http://127.0.0.1:${process.env.PORT || 3000}/healthz`;
    fetch(url, { signal: AbortSignal.timeout(8000) })
      .then(async (r) => {
        process.stdout.write(JSON.stringify(await r.json(), null, 2) + "\n");
        process.exit(r.status === 200 ? 0 : 1);
      })
      .catch((e) => { console.error(`the node does not answer on ${url}: ${e.message}`); process.exit(1); });'
}

# abra app cmd <domain> app health
# Is the node well: {"status":"ok"} or "failing" (exit code 1 when not). Without a login /healthz says no more;
# its details (process, database, Docker) are for a logged-in admin.
health() {
  _lores_healthz
}

# abra app cmd <domain> app version
# The node's version, its Node.js and its abra.
version() {
  node -e '
    const fs = require("node:fs");
    const home = process.env.LORES_HOME || "/srv/lores-node";
    const pkg = JSON.parse(fs.readFileSync(`${home}/package.json`, "utf8"));
    console.log(`lores-node ${pkg.version}`);
    console.log(`node ${process.version}`);' || return 1
  # abra wants a terminal even for --version: give it one, as the node does (and a scratch ABRA_DIR).
  local scratch
  scratch=$(mktemp -d)
  ABRA_DIR="$scratch" script -qec 'abra --version' /dev/null | tr -d '\r'
  rm -rf "$scratch"
}

# abra app cmd <domain> app reset_admin_password [-- <username>]
# Sets the password of an admin (default "admin") to the current admin-password secret, re-enables the
# account and ends its sessions. For a new password, first insert a new version of the secret and deploy:
#   abra app secret insert <domain> admin_password v2 '<new password>'
#   (set SECRET_ADMIN_PASSWORD_VERSION=v2 in the app's env)   abra app deploy <domain> --force
reset_admin_password() {
  if [ ! -f "$LORES_CLI" ]; then
    echo "this version of LoRes Node has no command line ($LORES_CLI): another admin can reset the password on the People page" >&2
    return 1
  fi
  node "$LORES_CLI" reset-admin-password --username "${1:-admin}" --password-file "${ADMIN_PASSWORD_FILE:-/run/secrets/admin_password}"
}

# abra app cmd <domain> app export_config > lores-node-config.json
# The node's configuration as JSON: its version, its settings (with the node's command line), its non-secret
# environment, and the env files of the apps it manages. No secrets: those stay in the swarm.
export_config() {
  local settings='null'
  if [ -f "$LORES_CLI" ]; then
    settings=$(node "$LORES_CLI" export-config) || return 1
  fi
  SETTINGS_JSON="$settings" node -e '
    const fs = require("node:fs");
    const path = require("node:path");
    const home = process.env.LORES_HOME || "/srv/lores-node";
    const abraDir = process.env.ABRA_DIR || "/abra";
    const keys = ["NODE_DOMAIN", "LOG_LEVEL", "SESSION_HOURS", "TRUST_PROXY", "HOST", "PORT", "DATA_DIR", "ABRA_DIR", "BUNDLED_RECIPES_DIR", "ADMIN_PASSWORD_FILE"];
    const apps = {};
    const servers = path.join(abraDir, "servers");
    for (const server of fs.existsSync(servers) ? fs.readdirSync(servers) : []) {
      const dir = path.join(servers, server);
      if (!fs.statSync(dir).isDirectory()) continue;
      for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".env"))) apps[`${server}/${f}`] = fs.readFileSync(path.join(dir, f), "utf8");
    }
    const out = {
      version: JSON.parse(fs.readFileSync(`${home}/package.json`, "utf8")).version,
      exportedAt: new Date().toISOString(),
      settings: JSON.parse(process.env.SETTINGS_JSON || "null"),
      environment: Object.fromEntries(keys.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])),
      apps,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");'
}

# abra app cmd <domain> mdns mdns_check
# With compose.mdns.yml: asks the LAN, from the mDNS service on the host's network, for the node's own name
# (<NODE_NAME>.lores.local) and says what answered; fails when nothing does.
mdns_check() {
  node "$LORES_CLI" mdns --check
}
