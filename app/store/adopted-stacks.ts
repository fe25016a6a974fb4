// Stacks an admin adopted: deployed from elsewhere, handed to the node so that stewards may act on them.
import { prep, type Db } from './db.ts';

export type AdoptedStack = { stack: string; adoptedAt: number; adoptedBy: string | null };

export function adoptedStackStore(db: Db) {
  return {
    adopt(stack: string, by: string | null, now: number): void {
      prep(db, 'INSERT INTO adopted_stacks (stack, adopted_at, adopted_by) VALUES (?, ?, ?) ON CONFLICT(stack) DO NOTHING').run(stack, now, by);
    },
    release(stack: string): boolean {
      return prep(db, 'DELETE FROM adopted_stacks WHERE stack = ?').run(stack).changes > 0;
    },
    get(stack: string): AdoptedStack | undefined {
      return prep(db, 'SELECT stack, adopted_at AS adoptedAt, adopted_by AS adoptedBy FROM adopted_stacks WHERE stack = ?').get(stack) as AdoptedStack | undefined;
    },
    /** Every adopted stack's name: pages list them on every render. */
    names(): Set<string> {
      return new Set((prep(db, 'SELECT stack FROM adopted_stacks').all() as { stack: string }[]).map((r) => r.stack));
    },
  };
}
