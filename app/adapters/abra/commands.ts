// One typed function per abra command the node uses. Always -n and every needed argument.
import { type AbraResult, type AbraRunOptions, parseMachineOutput, runAbra } from './run.ts';

export type AbraOptions = Omit<AbraRunOptions, 'onLine' | 'signal'>;
export type CallOptions = { onLine?: (line: string) => void; signal?: AbortSignal };
export type GeneratedSecret = { name: string; version: string; dockerName: string; value: string };

/** The secrets abra printed with -m: names, versions and values (shown once, never stored). */
function generated(lines: string[]): GeneratedSecret[] {
  const parsed = parseMachineOutput<Record<string, unknown>[]>(lines);
  if (!Array.isArray(parsed)) throw new Error('abra printed secrets in a shape the node does not know');
  return parsed.map((s) => ({
    name: String(s.name ?? ''),
    version: String(s.version ?? ''),
    dockerName: String(s['generated name'] ?? ''),
    value: String(s.value ?? s.password ?? ''),
  }));
}

export function abraCommands(base: AbraOptions) {
  const run = (args: string[], call: CallOptions = {}): Promise<AbraResult> => runAbra(args, { ...base, ...call });
  // -D: LAN and .local domains fail abra's DNS checks; the node checks domains itself.
  const deployFlags = (o: { force?: boolean; noConverge?: boolean }) => ['-n', '-D', ...(o.force ? ['-f'] : []), ...(o.noConverge ? ['-c'] : [])];

  return {
    version: async (): Promise<string> => (await run(['--version'])).lines.join(' ').trim(),

    /** Registers this machine as abra's `default` server; safe to repeat. */
    serverAddLocal: (call?: CallOptions) => run(['server', 'add', '--local', '-n'], call),

    serverLs: async (): Promise<{ name: string; host: string }[]> => parseMachineOutput((await run(['server', 'ls', '-m', '-n'])).lines),

    /** Clones a recipe from the catalogue's forge into $ABRA_DIR/recipes (needs the internet), or refreshes its tags. */
    recipeFetch: (recipe: string, call?: CallOptions) => run(['recipe', 'fetch', recipe, '-n'], call),

    appNew: (a: { recipe: string; version: string; domain: string }, call?: CallOptions) =>
      run(['app', 'new', a.recipe, a.version, '-n', '-o', '-s', 'default', '-D', a.domain], call),

    /** Generates every secret the env file declares; the values come back once and are never stored. */
    secretGenerateAll: async (domain: string, call?: CallOptions): Promise<GeneratedSecret[]> => generated((await run(['app', 'secret', 'generate', domain, '--all', '-m', '-n', '-o'], { signal: call?.signal })).lines),

    /** Generates one secret (one switched on later, with its overlay); its value comes back once. */
    secretGenerate: async (domain: string, name: string, version: string, call?: CallOptions): Promise<GeneratedSecret[]> =>
      generated((await run(['app', 'secret', 'generate', domain, name, version, '-m', '-n', '-o'], { signal: call?.signal })).lines),

    appDeploy: (a: { domain: string; version?: string; force?: boolean; noConverge?: boolean }, call?: CallOptions) =>
      run(['app', 'deploy', a.domain, ...(a.version ? [a.version] : []), ...deployFlags(a), '-o'], call),

    appUpgrade: (a: { domain: string; version: string; noConverge?: boolean }, call?: CallOptions) =>
      run(['app', 'upgrade', a.domain, a.version, ...deployFlags(a), '-o'], call),

    appRollback: (a: { domain: string; version: string; noConverge?: boolean }, call?: CallOptions) =>
      run(['app', 'rollback', a.domain, a.version, ...deployFlags(a), '-o'], call),

    appUndeploy: (domain: string, call?: CallOptions) => run(['app', 'undeploy', domain, '-n'], call),

    /** Deletes the app's volumes, secrets, configs and env file. abra refuses while it is deployed. */
    appRemove: (domain: string, call?: CallOptions) => run(['app', 'remove', domain, '-n', '-f'], call),

    appRestart: (a: { domain: string; service?: string }, call?: CallOptions) =>
      run(['app', 'restart', a.domain, ...(a.service ? [a.service] : ['-a']), '-n'], call),
  };
}
export type Abra = ReturnType<typeof abraCommands>;
