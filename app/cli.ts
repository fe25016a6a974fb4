// The node's command line, for operators (via `abra app cmd`, see recipe/abra.sh):
//   node dist/app/cli.js reset-admin-password --username admin --password-file /run/secrets/admin_password
//   node dist/app/cli.js export-config
//   node dist/app/cli.js restore-node --repository <restic repository> --password-file <file> [--snapshot <id>] [--force]
//   node dist/app/cli.js mdns [--check]     (only the mDNS responder, on the host's network: recipe/compose.mdns.yml)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { createStore } from './store/index.ts';
import { auditLog } from './services/audit.ts';
import { hashPassword } from './services/passwords.ts';
import { settingsService } from './services/settings.ts';
import { restoreNode } from './services/backups/node-restore.ts';
import { ZodError } from 'zod';
import { resolveLocal, startMdns } from './adapters/mdns/responder.ts';
import { NEARBY_PATH, serveNearby } from './adapters/mdns/nearby-feed.ts';
import { createLogger } from './log.ts';
import { anyLocalNameOf } from './services/region/region.ts';
import { describeIssues, passwordSchema, usernameSchema } from './validation.ts';

const CLI_ACTOR = { name: 'command line', ip: null };

async function resetAdminPassword(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { username: { type: 'string', default: 'admin' }, 'password-file': { type: 'string' } } });
  const username = usernameSchema.parse(values.username);
  if (!values['password-file']) throw new Error('--password-file is required');
  const password = passwordSchema.safeParse(readFileSync(values['password-file'], 'utf8').replace(/\r?\n$/, ''));
  if (!password.success) throw new Error(`The password in ${values['password-file']} ${password.error.issues[0]?.message}`);
  const config = loadConfig();
  const store = createStore(config.dataDir);
  try {
    const now = Date.now();
    const hash = await hashPassword(password.data);
    const found = store.users.credentials(username);
    if (found && found.user.role !== 'admin') throw new Error(`${username} is a ${found.user.role}, not an admin`);
    store.transaction(() => {
      const user = found?.user ?? store.users.create({ username, role: 'admin', passwordHash: hash }, now);
      store.users.setPassword(user.id, hash, now);
      store.users.setDisabled(user.id, false, now);
      store.sessions.removeForUser(user.id);
    });
    auditLog(store.audit, Date.now).record(CLI_ACTOR, 'user.password-reset', { target: username, detail: { via: 'cli' } });
    console.log(`The password of ${username} is reset; their sessions were ended.`);
  } finally {
    store.close();
  }
}

function exportConfig(): void {
  const config = loadConfig();
  const store = createStore(config.dataDir);
  try {
    const settings = settingsService(store, { nodeDomain: config.nodeDomain, downloadLimitKBps: 0 }, Date.now).current();
    const users = store.users.list().map(({ username, role, disabled }) => ({ username, role, disabled }));
    console.log(JSON.stringify({ settings, users }, null, 2));
  } finally {
    store.close();
  }
}

/** Disaster recovery: this (stopped, new) node takes back the last backup of a node from the repository. */
async function restoreNodeCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { repository: { type: 'string' }, 'password-file': { type: 'string' }, snapshot: { type: 'string' }, force: { type: 'boolean', default: false } } });
  if (!values.repository || !values['password-file']) throw new Error('--repository and --password-file are required');
  const config = loadConfig();
  const r = await restoreNode({ repository: values.repository, passwordFile: values['password-file'], snapshot: values.snapshot, force: values.force, dataDir: config.dataDir, abraDir: config.abraDir, resticBin: config.resticBin });
  console.log(`Restored the node from snapshot ${r.snapshot} (${r.time}): ${r.people} people, ${r.apps} app configs, ${r.jobs} jobs in the history. Start the node, then restore each app's data from its Backups page.`);
}

/**
 * Only the mDNS responder: announces the node and answers for `<app>-<NODE_NAME>.local` with LAN_ADDRESS, and serves
 * the nodes it finds nearby on LAN_ADDRESS:MDNS_NEARBY_PORT, until stopped. The node's container sits on an overlay
 * network, where multicast does not reach the LAN; this runs beside it on the host's network. `--check`: asks the
 * LAN for the node's own name once (a healthcheck).
 */
async function mdnsCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { check: { type: 'boolean', default: false } } });
  const config = loadConfig();
  const { lanAddress, nodeName, nodeUrl } = config.region;
  if (!lanAddress) throw new Error('LAN_ADDRESS must be set to the host’s LAN IPv4 address for the mDNS responder');
  if (values.check) {
    const found = await resolveLocal(`${nodeName}.lores.local`, { address: lanAddress, timeoutMs: 5000 });
    if (found !== lanAddress) throw new Error(`no mDNS answer for ${nodeName}.lores.local on ${lanAddress}${found ? ` (answered ${found})` : ''}`);
    console.log(`${nodeName}.lores.local answers ${found}`);
    return;
  }
  const log = createLogger(config.logLevel);
  const url = new URL(nodeUrl);
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const mdns = startMdns({ address: lanAddress, nodeName: () => nodeName, port, answers: anyLocalNameOf(nodeName), log, now: Date.now });
  // The node, on the overlay network, reads what this finds on the LAN from here (its MDNS_NEARBY_URL).
  const feed = await serveNearby(mdns, { host: lanAddress, port: config.region.nearbyPort });
  log.info({ address: lanAddress, nodeName }, `mDNS responder: answering for *-${nodeName}.local with ${lanAddress}; nodes nearby at http://${lanAddress}:${config.region.nearbyPort}${NEARBY_PATH}`);
  await new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  feed.close();
  mdns.stop();
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'restore-node') return restoreNodeCommand(rest);
  if (command === 'reset-admin-password') return resetAdminPassword(rest);
  if (command === 'export-config') return exportConfig();
  if (command === 'mdns') return mdnsCommand(rest);
  throw new Error('usage: cli.js reset-admin-password --username <name> --password-file <file> | export-config | restore-node --repository <repository> --password-file <file> [--snapshot <id>] [--force] | mdns [--check]');
}

main(process.argv.slice(2)).catch((err: Error) => {
  const message = err instanceof ZodError ? describeIssues(err, { value: 'The username' }) : err instanceof ConfigError ? err.message : err.message;
  console.error(`lores-node: ${message}`);
  process.exit(1);
});
