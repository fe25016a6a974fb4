// Generated secret values wait here, in memory only, until the person who ran the job opens them once.
// Never written to SQLite, logs or job output: a node restart forgets them (abra keeps them in the swarm).

export type SecretValue = { name: string; value: string };

const SECRET_TTL_MS = 30 * 60_000;

export function oneTimeSecrets(opts: { now: () => number; ttlMs?: number }) {
  const ttl = opts.ttlMs ?? SECRET_TTL_MS;
  const kept = new Map<number, { owner: string | null; values: SecretValue[]; expires: number }>();
  return {
    /** Holds a job's generated values for its owner; only names and values are kept, nothing else abra said. */
    keep(jobId: number, owner: string | null, generated: readonly SecretValue[]): void {
      kept.set(jobId, { owner, values: generated.map((g) => ({ name: g.name, value: g.value })), expires: opts.now() + ttl });
    },
    /** The values, once, to their owner before they expire; undefined to anyone else, later, or a second time. */
    take(jobId: number, viewer: string): SecretValue[] | undefined {
      const entry = kept.get(jobId);
      if (!entry || entry.expires < opts.now() || entry.owner !== viewer) return undefined;
      kept.delete(jobId);
      return entry.values;
    },
    has: (jobId: number): boolean => kept.has(jobId),
  };
}
export type OneTimeSecrets = ReturnType<typeof oneTimeSecrets>;
