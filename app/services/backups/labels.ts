// What backup-bot-two's labels say about a stack, so recipes' existing backup config works unchanged:
//   backupbot.backup=true                          on one service: the stack is backed up (all its volumes)
//   backupbot.backup.volumes.<volume>=false        leaves a volume out
//   backupbot.backup.volumes.<volume>.path=a,b/c   limits a volume to these paths (relative to the volume)
//   backupbot.backup.pre-hook / post-hook          shell commands run in that service's container before/after
import path from 'node:path';

export type StackService = { name: string; labels: Record<string, string>; volumes: string[] };

export type BackupVolume = {
  /** The volume's name in the recipe (`data`). */
  name: string;
  /** Docker's name for it (`<stack>_data`). */
  dockerName: string;
  /** Paths inside the volume to back up; empty: all of it. */
  paths: string[];
};

export type BackupPlan = {
  stack: string;
  /** The service carrying backupbot.backup=true (its container runs the hooks). */
  service: string;
  preHook?: string;
  postHook?: string;
  volumes: BackupVolume[];
  excluded: string[];
};

const PREFIX = 'backupbot.backup.volumes.';

/** A path inside a volume as a label gives it, checked: relative, no `..`, no NUL. */
function cleanPath(p: string): string | undefined {
  const trimmed = p.trim().replace(/^\/+/, '');
  if (!trimmed || trimmed.includes('\0')) return undefined;
  const norm = path.posix.normalize(trimmed);
  if (norm === '.' || norm.startsWith('..')) return undefined;
  return norm.replace(/\/+$/, '');
}

/** The recipe's name of a Docker volume of the stack (`<stack>_data` → `data`). */
export const volumeName = (stack: string, dockerName: string) => (dockerName.startsWith(`${stack}_`) ? dockerName.slice(stack.length + 1) : dockerName);

/**
 * The backup plan of a stack from its services' labels and volumes, or undefined when no service says
 * backupbot.backup=true. Volume labels may name the volume as the recipe does or with the stack's prefix.
 */
export function backupPlanOf(stack: string, services: StackService[]): BackupPlan | undefined {
  const marked = services.find((s) => s.labels['backupbot.backup'] === 'true');
  if (!marked) return undefined;
  // Volume labels may sit on any service of the stack (backup-bot-two reads them all).
  const labels: Record<string, string> = {};
  for (const s of services) Object.assign(labels, Object.fromEntries(Object.entries(s.labels).filter(([k]) => k.startsWith(PREFIX))));
  Object.assign(labels, Object.fromEntries(Object.entries(marked.labels).filter(([k]) => k.startsWith(PREFIX))));
  const label = (vol: string, dockerName: string, suffix: string) => labels[`${PREFIX}${vol}${suffix}`] ?? labels[`${PREFIX}${dockerName}${suffix}`];

  const dockerNames = [...new Set(services.flatMap((s) => s.volumes))].sort();
  const volumes: BackupVolume[] = [];
  const excluded: string[] = [];
  for (const dockerName of dockerNames) {
    const name = volumeName(stack, dockerName);
    if (label(name, dockerName, '') === 'false') {
      excluded.push(name);
      continue;
    }
    const paths = (label(name, dockerName, '.path') ?? '').split(',').map(cleanPath).filter((p): p is string => Boolean(p));
    volumes.push({ name, dockerName, paths });
  }
  const hook = (k: string) => marked.labels[`backupbot.backup.${k}`]?.trim() || undefined;
  return { stack, service: marked.name, preHook: hook('pre-hook'), postHook: hook('post-hook'), volumes, excluded };
}

/** Where a volume's files are (backup-bot-two's layout, also inside its tar.gz downloads). */
export const volumeDataDir = (volumesDir: string, dockerName: string) => path.join(volumesDir, dockerName, '_data');

/** The absolute paths a plan backs up, below the Docker volumes folder. */
export function pathsOf(plan: BackupPlan, volumesDir: string): string[] {
  return plan.volumes.flatMap((v) => {
    const root = volumeDataDir(volumesDir, v.dockerName);
    return v.paths.length ? v.paths.map((p) => path.join(root, p)) : [root];
  });
}
