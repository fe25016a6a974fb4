import { prep, type Db } from './db.ts';

export type StoppedService = { stack: string; service: string; mode: 'replicated' | 'global'; replicas: number; stoppedAt: number; stoppedBy: string | null };

export function stoppedServiceStore(db: Db) {
  return {
    save(rows: StoppedService[]): void {
      const insert = prep(db, 
        'INSERT INTO stopped_services (stack, service, mode, replicas, stopped_at, stopped_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(stack, service) DO UPDATE SET mode = excluded.mode, replicas = excluded.replicas, stopped_at = excluded.stopped_at, stopped_by = excluded.stopped_by',
      );
      db.transaction(() => {
        for (const r of rows) insert.run(r.stack, r.service, r.mode, r.replicas, r.stoppedAt, r.stoppedBy);
      })();
    },
    forStack(stack: string): StoppedService[] {
      return prep(db, 'SELECT stack, service, mode, replicas, stopped_at AS stoppedAt, stopped_by AS stoppedBy FROM stopped_services WHERE stack = ?')
        .all(stack) as StoppedService[];
    },
    forget(stack: string, service: string): void {
      prep(db, 'DELETE FROM stopped_services WHERE stack = ? AND service = ?').run(stack, service);
    },
  };
}
