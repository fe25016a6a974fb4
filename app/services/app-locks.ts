// One action per app at a time: a second request while one runs gets a clear "busy".
import { UserFacingError } from './errors.ts';

export class AppLocks {
  readonly #held = new Map<string, string>();

  /** What is running on this app right now, if anything. */
  holder(app: string): string | undefined {
    return this.#held.get(app);
  }

  async run<T>(app: string, action: string, fn: () => Promise<T>): Promise<T> {
    const busy = this.#held.get(app);
    if (busy) throw new UserFacingError(`${app} is busy: “${busy}” is still in progress. Try again when it has finished.`, 409);
    this.#held.set(app, action);
    try {
      return await fn();
    } finally {
      this.#held.delete(app);
    }
  }
}
