import { prep, prepWrite, type Db, type WriteCounter } from './db.ts';
import type { Role } from '../validation.ts';

export type User = {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: number;
};
type UserRow = { id: number; username: string; role: Role; disabled: number; created_at: number };
const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  role: r.role,
  disabled: r.disabled === 1,
  createdAt: r.created_at,
});

export function userStore(db: Db, writes: WriteCounter) {
  const write = prepWrite(db, writes);
  const cols = 'id, username, role, disabled, created_at';
  return {
    count(): number {
      return (prep(db, 'SELECT count(*) AS n FROM users').get() as { n: number }).n;
    },
    list(): User[] {
      return (prep(db, `SELECT ${cols} FROM users ORDER BY username`).all() as UserRow[]).map(toUser);
    },
    byId(id: number): User | undefined {
      const row = prep(db, `SELECT ${cols} FROM users WHERE id = ?`).get(id) as UserRow | undefined;
      return row && toUser(row);
    },
    /** The user and their password hash, for checking a login. */
    credentials(username: string): { user: User; passwordHash: string } | undefined {
      const row = prep(db, `SELECT ${cols}, password_hash FROM users WHERE username = ?`)
        .get(username) as (UserRow & { password_hash: string }) | undefined;
      return row && { user: toUser(row), passwordHash: row.password_hash };
    },
    create(input: { username: string; role: Role; passwordHash: string }, now: number): User {
      const info = write('INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
        .run(input.username, input.role, input.passwordHash, now, now);
      return this.byId(Number(info.lastInsertRowid))!;
    },
    setPassword(id: number, passwordHash: string, now: number): void {
      write('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?').run(passwordHash, now, id);
    },
    setRole(id: number, role: Role, now: number): void {
      write('UPDATE users SET role = ?, updated_at = ? WHERE id = ?').run(role, now, id);
    },
    setDisabled(id: number, disabled: boolean, now: number): void {
      write('UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?').run(disabled ? 1 : 0, now, id);
    },
    remove(id: number): void {
      write('DELETE FROM users WHERE id = ?').run(id);
    },
  };
}
export type UserStore = ReturnType<typeof userStore>;
