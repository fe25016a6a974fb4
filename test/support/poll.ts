// Waiting for something the swarm, kiwix-serve or a download does in its own time: poll until a check gives a
// value, or fail saying what was awaited (and, via `detail`, what the state was then).
export type Waited<T> = { value: T; ms: number };

export async function within<T>(what: string, ms: number, check: () => Promise<T | undefined | false> | T | undefined | false, detail?: () => string): Promise<Waited<T>> {
  const start = Date.now();
  for (;;) {
    const value = await Promise.resolve().then(check).catch(() => undefined);
    if (value) return { value, ms: Date.now() - start };
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms / 1000} s${detail ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
