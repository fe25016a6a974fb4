// The apps directory: one list per live-model version, shared by every page until the swarm, the env files or the
// adoptions change; and its lookups' refusals.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { LiveModel } from '../../app/adapters/docker/live-model.ts';
import type { AppAccess } from '../../app/services/app-access.ts';
import { appDirectory } from '../../app/services/app-directory.ts';
import type { JobHistory } from '../../app/services/job-history.ts';
import type { JobRunner } from '../../app/services/jobs.ts';
import type { NodeSelf } from '../../app/services/node-self.ts';
import type { SettingsService } from '../../app/services/settings.ts';

const abraDir = mkdtempSync(path.join(tmpdir(), 'lores-apps-dir-'));
const servers = path.join(abraDir, 'servers', 'default');
mkdirSync(servers, { recursive: true });
// The clock stands still unless a test moves it: lists are also made afresh as time passes (statuses age).
vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-12-05T10:00:00Z') });
afterAll(() => {
  vi.useRealTimers();
  rmSync(abraDir, { recursive: true, force: true });
});

/** A live model without Docker: its version moves when a test says the swarm changed. */
class FakeModel extends EventEmitter {
  version = 1;
  services = new Map();
  nodes = new Map();
  recent = new Map();
  status = { stale: false, since: 0, error: null, syncedAt: 0 };
}
const model = new FakeModel();
const jobMoved = new EventEmitter<{ change: [app: string] }>(); // a job on an app started or ended
const adopted = new Set<string>();
const directory = appDirectory({
  model: model as unknown as LiveModel,
  abraDir,
  access: { options: () => ({ adopted: new Set(adopted), selfStack: undefined }), authorize: async () => undefined } as unknown as AppAccess,
  jobs: { holder: () => undefined, version: 0, onHolderChange: (fn: (app: string) => void) => (jobMoved.on('change', fn), () => jobMoved.off('change', fn)) } as unknown as JobRunner,
  history: { list: () => [] } as unknown as JobHistory,
  settings: { current: () => ({ nodeDomain: 'example.org' }) } as unknown as SettingsService,
  self: { isSelf: () => false } as unknown as NodeSelf,
});
const caller = { name: 'sam', ip: '127.0.0.1', role: 'steward' as const };

describe('the apps directory', () => {
  it('hands every page the same list until something it shows changes', () => {
    writeFileSync(path.join(servers, 'wiki.example.org.env'), 'TYPE=kiwix:1.0.0\n');
    const first = directory.list();
    expect(first.map((a) => a.stack)).toEqual(['wiki_example_org']);
    expect(directory.list()).toBe(first); // a second page: the very same result, not a new mapping
    model.version += 1; // the swarm moved
    const second = directory.list();
    expect(second).not.toBe(first);
    expect(directory.list()).toBe(second);
    writeFileSync(path.join(servers, 'blog.example.org.env'), 'TYPE=ghost:1.0.0\n'); // an install wrote an env file
    expect(directory.list().map((a) => a.stack).sort()).toEqual(['blog_example_org', 'wiki_example_org']);
    const third = directory.list();
    adopted.add('elsewhere'); // an admin adopted a stack
    const fourth = directory.list();
    expect(fourth).not.toBe(third);
    vi.advanceTimersByTime(15_000); // a "failing" status may have aged out meanwhile
    expect(directory.list()).not.toBe(fourth);
  });

  it("names a new version for kept pages whenever the list changes, not only when the swarm moved", () => {
    const v1 = directory.version();
    expect(directory.version()).toBe(v1); // nothing moved: a kept page stays good
    writeFileSync(path.join(servers, 'notes.example.org.env'), 'TYPE=hedgedoc:1.0.0\n'); // an env file, by a push
    const v2 = directory.version();
    expect(v2).not.toBe(v1);
    adopted.delete('elsewhere'); // an admin released a stack
    expect(directory.version()).not.toBe(v2);
  });

  it('refuses an unknown stack with a 404, and removing a deployed app with a 409', async () => {
    expect(() => directory.find('nothing')).toThrow(/There is no app “nothing” on this node/);
    await expect(directory.managed(caller, 'wiki_example_org', 'config')).resolves.toMatchObject({ stack: 'wiki_example_org' });
    await expect(directory.removable(caller, 'wiki_example_org')).resolves.toMatchObject({ status: 'not deployed' });
    model.services.set('svc', { id: 'svc', name: 'wiki_example_org_app', stack: 'wiki_example_org', labels: {}, desired: 1, running: 1, tasks: [], mode: 'replicated', image: 'kiwix', updateStatus: null, lastFailure: null });
    model.version += 1;
    await expect(directory.removable(caller, 'wiki_example_org')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/still deployed/) });
  });

  it('tells a page which stacks changed (on the swarm or by a job starting or ending), and stops when it leaves', () => {
    const seen: (string | null)[][] = [];
    const stop = directory.onChange((stacks) => seen.push(stacks ? [...stacks] : [null]));
    model.emit('change', new Set(['wiki_example_org']));
    model.emit('status', {});
    jobMoved.emit('change', 'blog_example_org');
    stop();
    model.emit('change', new Set(['other']));
    jobMoved.emit('change', 'other');
    expect(seen).toEqual([['wiki_example_org'], [null], ['blog_example_org']]);
  });
});
