// The audit log in words: "Deployed kiwix.example.org" rather than `job.deploy`, and a detail's JSON as a short line
// ("changed: GREETING, +compose.lan.yml"). The page keeps the raw action and JSON beside them, folded away.

/** What each action did, as the start of a sentence; the row's target (an app, a person) follows it. */
const ACTIONS: Record<string, string> = {
  login: 'Logged in',
  'login.failed': 'Failed to log in',
  'login.locked': 'Login refused after too many failed tries',
  logout: 'Logged out',
  'logout.everywhere': 'Logged out everywhere',
  'setup.admin-created': 'Set up the node and its first admin',
  'setup.failed': 'Failed to set up the node',
  'account.password': 'Changed their own password',
  'user.add': 'Added the person',
  'user.remove': 'Removed the person',
  'user.role': 'Changed the role of',
  'user.password-reset': 'Reset the password of',
  'user.disable': 'Disabled the account of',
  'user.enable': 'Enabled the account of',
  'user.logout-everywhere': 'Ended every session of',
  'access-token.create': 'Made an access token for',
  'access-token.revoke': 'Revoked an access token of',
  'settings.node-domain': 'Changed the node’s domain',
  'settings.download-limit': 'Changed the download limit',
  'settings.audit-retention': 'Changed how long the audit log is kept',
  'audit.prune': 'Deleted old audit log entries',
  'app.config': 'Changed settings of',
  'app.adopt': 'Adopted',
  'app.release': 'Stopped managing',
  'host-reach.confirm': 'Confirmed what reaches the host for',
  'job.install': 'Installed',
  'job.deploy': 'Deployed',
  'job.redeploy': 'Redeployed',
  'job.restart': 'Restarted',
  'job.stop': 'Stopped',
  'job.start': 'Started',
  'job.undeploy': 'Undeployed',
  'job.remove': 'Removed',
  'job.upgrade': 'Upgraded',
  'job.rollback': 'Rolled back',
  'job.fetch': 'Fetched the recipe',
  'job.backup': 'Backed up',
  'job.node-backup': 'Backed up the node',
  'job.restore': 'Restored a backup of',
  'job.zim-download': 'Downloaded a ZIM file into',
  'zim.pause': 'Paused a ZIM download in',
  'zim.resume': 'Resumed a ZIM download in',
  'zim.cancel': 'Cancelled a ZIM download in',
  'zim.remove': 'Removed a ZIM file from',
  'catalogue.refresh': 'Refreshed the recipe catalogue',
  'backup.repository': 'Set the backup repository',
  'backup.schedule': 'Changed the backup schedule of',
  'backup.download': 'Downloaded a backup of',
  'backup.before-upgrade': 'Changed safety snapshots before upgrades',
  'backup.restore-before-upgrade': 'Restored the data from before the upgrade of',
  'config-repo.push': 'Pushed to the config repository',
  'config-repo.pull': 'Pulled from the config repository',
  'config-repo.auth': 'Was refused by the config repository',
  'config-repo.discard': 'Discarded pending changes of',
  'config-repo.remote': 'Set the config repository’s remote',
  'config-repo.remote-sync': 'Synced the config repository with its remote',
  'region.pair.offer': 'Offered to pair with',
  'region.pair.request': 'Was asked to pair by',
  'region.pair.accept': 'Accepted pairing with',
  'region.pair.confirm': 'Paired with',
  'region.unpair': 'Unpaired from',
  'region.peer.refused': 'Refused a message from',
  'region.local-name': 'Changed the LAN name of',
  'region.local-name.on': 'Turned on the LAN name of',
  'region.local-name.off': 'Turned off the LAN name of',
  'node.restored': 'Restored the node from a backup',
};

/** "Deployed kiwix.example.org": the action in words, followed by its target when it has one. */
export function auditAction(action: string, target?: string | null): string {
  const known = ACTIONS[action] ?? (action.startsWith('job.') ? `Ran “${action.slice(4)}” on` : action.replace(/[.-]/g, ' '));
  return target ? `${known} ${target}` : known;
}

const SHORT = 160;
const clip = (s: string) => (s.length > SHORT ? `${s.slice(0, SHORT - 1)}…` : s);

function valueText(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v === '' ? '(empty)' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return v === true ? 'yes' : v === false ? 'no' : String(v);
  if (Array.isArray(v)) return v.length ? v.map(valueText).join(', ') : 'nothing';
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k} ${valueText(x)}`)
    .join(', ');
}

/** Key names as words: `unregisteredFirst` → "unregistered first", `from_version` → "from version". */
const keyWords = (k: string) => k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();

/** A detail (JSON written by the node) as one short line; text that is not JSON is shown as it is. */
export function auditDetail(detail: string | null | undefined): string {
  if (!detail) return '';
  let value: unknown;
  try {
    value = JSON.parse(detail);
  } catch {
    return clip(detail);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return clip(valueText(value));
  const o = value as Record<string, unknown>;
  const parts: string[] = [];
  // A change from one value to another reads as one.
  if ('from' in o && 'to' in o) parts.push(o.from === o.to ? `unchanged (${valueText(o.to)})` : `from ${valueText(o.from)} to ${valueText(o.to)}`);
  if (Array.isArray(o.changed)) parts.push(o.changed.length ? `changed: ${valueText(o.changed)}` : 'nothing changed');
  for (const [k, v] of Object.entries(o)) {
    if (k === 'from' || k === 'to' || k === 'changed') continue;
    parts.push(`${keyWords(k)}: ${valueText(v)}`);
  }
  return clip(parts.join('; '));
}
