// One typed function per abra command the node uses. Always -n and every needed argument.
import { AbraError, type AbraResult, type AbraRunOptions, findJson, parseMachineOutput, reasonFrom, runAbra } from './run.ts';

export type AbraOptions = Omit<AbraRunOptions, 'onLine' | 'signal'>;
export type CallOptions = { onLine?: (line: string) => void; signal?: AbortSignal };
export type GeneratedSecret = { name: string; version: string; dockerName: string; value: string };

type SecretRow = Record<string, unknown>;
/** abra's `secret generate -m` answer: a list of objects, each naming a secret (an empty list when there is none). */
const isSecretList = (v: unknown): v is SecretRow[] =>
  Array.isArray(v) && v.every((s) => s !== null && typeof s === 'object' && !Array.isArray(s) && typeof (s as SecretRow).name === 'string');

/**
 * A failed `secret generate` told without what it printed: abra may have printed the values before failing (or
 * panicking). Only its FATA/ERRO lines are kept, with every value it printed blotted out, and its lines dropped.
 */
export function secretSafeError(err: AbraError): AbraError {
  const values = (findJson(err.lines, isSecretList) ?? []).flatMap((s) => [s.value, s.password]).filter((v): v is string => typeof v === 'string' && v !== '');
  const blot = (line: string) => values.reduce((l, v) => l.split(v).join('••••'), line);
  const fatal = err.lines.filter((l) => /^\s*(FATA|ERRO|FATAL|ERROR)\b/.test(l) && !/[[{]/.test(l)).map(blot);
  if (err.exitCode === null) return new AbraError(err.message, null, []); // timeout, shutdown, not started: no output in it
  const why = fatal.length ? `: ${reasonFrom(fatal)}` : ` with exit code ${err.exitCode} (its output is not shown: it may hold secret values)`;
  return new AbraError(`abra failed${why}`, err.exitCode, []);
}

export function abraCommands(base: AbraOptions) {
  const run = (args: string[], call: CallOptions = {}): Promise<AbraResult> => runAbra(args, { ...base, ...call });
  // -D: LAN and .local domains fail abra's DNS checks; the node checks domains itself.
  const deployFlags = (o: { force?: boolean; noConverge?: boolean }) => ['-n', '-D', ...(o.force ? ['-f'] : []), ...(o.noConverge ? ['-c'] : [])];

  /** `secret generate -m`: its JSON found in noisy output; a failure told without anything abra printed. */
  const generateSecrets = async (args: string[], call?: CallOptions): Promise<GeneratedSecret[]> => {
    let lines: string[];
    try {
      ({ lines } = await run(args, { signal: call?.signal }));
    } catch (err) {
      throw err instanceof AbraError ? secretSafeError(err) : err;
    }
    return parseMachineOutput(lines, isSecretList).map((s) => ({
      name: String(s.name ?? ''),
      version: String(s.version ?? ''),
      dockerName: String(s['generated name'] ?? ''),
      value: String(s.value ?? s.password ?? ''),
    }));
  };
  return {
    version: async (): Promise<string> => (await run(['--version'])).lines.join(' ').trim(),

    /** Registers this machine as abra's `default` server; safe to repeat. */
    serverAddLocal: (call?: CallOptions) => run(['server', 'add', '--local', '-n'], call),

    serverLs: async (): Promise<{ name: string; host: string }[]> => parseMachineOutput((await run(['server', 'ls', '-m', '-n'])).lines),

    /** Clones a recipe from the catalogue's forge into $ABRA_DIR/recipes (needs the internet), or refreshes its tags. */
    recipeFetch: (recipe: string, call?: CallOptions) => run(['recipe', 'fetch', recipe, '-n'], call),

    appNew: (a: { recipe: string; version: string; domain: string }, call?: CallOptions) =>
      run(['app', 'new', a.recipe, a.version, '-n', '-o', '-s', 'default', '-D', a.domain], call),

    /**
     * Generates every secret the env file declares; the values come back once and are never stored. Nothing abra
     * printed leaves this function: not as job output, and not in an error (see `secretSafeError`).
     */
    secretGenerateAll: (domain: string, call?: CallOptions): Promise<GeneratedSecret[]> =>
      generateSecrets(['app', 'secret', 'generate', domain, '--all', '-m', '-n', '-o'], call),

    /** Generates one secret (one switched on later, with its overlay); its value comes back once, as above. */
    secretGenerate: (domain: string, name: string, version: string, call?: CallOptions): Promise<GeneratedSecret[]> =>
      generateSecrets(['app', 'secret', 'generate', domain, name, version, '-m', '-n', '-o'], call),

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
