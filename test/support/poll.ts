// Waiting for something the swarm, kiwix-serve or a download does in its own time: poll until a check gives a
// value, or fail saying what was awaited, the check's last error, and (via `detail`) what the state was then.
export type Waited<T> = { value: T; ms: number };
export type PollOptions = { detail?: () => string; everyMs?: number };

export async function within<T>(what: string, ms: number, check: () => Promise<T | undefined | false> | T | undefined | false, opts: PollOptions = {}): Promise<Waited<T>> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return { value, ms: Date.now() - start };
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > ms) {
      const lastError = last ? ` (last error: ${(last as Error).message})` : '';
      throw new Error(`${what}: not within ${ms / 1000} s${lastError}${opts.detail ? `\n${opts.detail()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 250));
  }
}

/**
 * The same wait for a yes/no check, answering whether it came true in time instead of throwing: for tests that
 * assert on the answer (`expect(await eventually(...)).toBe(true)`) or go on either way (cleanup, best effort).
 */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 20_000, everyMs = 100): Promise<boolean> {
  return within('eventually', ms, check, { everyMs }).then(
    () => true,
    () => false,
  );
}
