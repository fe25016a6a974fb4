// Stopping abra stops everything it started: `script` gives abra a session of its own on its pty, and what abra runs
// may start more, or ignore SIGTERM. Here /bin/sh stands in for abra, under the same pty launcher, with such children.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { runAbra } from '../../app/adapters/abra/run.ts';

const marker = `${process.pid}${Date.now() % 100000}`;
const running = async (pattern: string) => (await execa('pgrep', ['-f', pattern], { reject: false })).stdout.trim().split('\n').filter(Boolean);

describe('stopping abra’s process tree', () => {
  it('SIGTERMs every process it started, SIGKILLs one that ignores it after the grace, and only then says it stopped', async () => {
    const abort = new AbortController();
    const lines: string[] = [];
    // Three children: one plain, one that ignores SIGTERM and SIGHUP, one in the foreground.
    const script = `sleep 7${marker}1 & (trap "" TERM HUP; sleep 7${marker}2) & sleep 7${marker}3`;
    const run = runAbra(['-c', script], { bin: '/bin/sh', abraDir: '/tmp', pty: 'script', timeoutMs: 60_000, signal: abort.signal, onLine: (l) => lines.push(l) });
    let seen: string[] = [];
    for (let i = 0; i < 50 && seen.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await running(`^sleep 7${marker}`);
    }
    expect(seen.length, 'the three children should be running').toBe(3);
    abort.abort(new Error('Cancelled by sam.'));
    await expect(run).rejects.toThrow('abra was stopped: Cancelled by sam.');
    // Nothing is left when runAbra returns: not even the child that ignored SIGTERM.
    expect(await running(`^sleep 7${marker}`)).toEqual([]);
  });
});
