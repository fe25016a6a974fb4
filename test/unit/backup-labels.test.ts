import { describe, expect, it } from 'vitest';
import { backupPlanOf, pathsOf } from '../../app/services/backups/labels.ts';
import { explainResticFailure, shownRepository } from '../../app/adapters/restic/restic.ts';

const svc = (name: string, labels: Record<string, string>, volumes: string[]) => ({ name, labels, volumes });

describe('backup-bot-two labels', () => {
  it('backs up every volume of a stack whose service says backupbot.backup=true, minus left-out ones, limited to paths', () => {
    const plan = backupPlanOf('s', [
      svc('s_app', { 'backupbot.backup': 'true', 'backupbot.backup.pre-hook': 'dump', 'backupbot.backup.volumes.cache': 'false', 'backupbot.backup.volumes.files.path': 'a, b/c/ ,/d' }, ['s_files', 's_cache']),
      svc('s_db', {}, ['s_db']),
    ]);
    expect(plan).toEqual({
      stack: 's',
      service: 's_app',
      preHook: 'dump',
      postHook: undefined,
      excluded: ['cache'],
      volumes: [
        { name: 'db', dockerName: 's_db', paths: [] },
        { name: 'files', dockerName: 's_files', paths: ['a', 'b/c', 'd'] },
      ],
    });
    expect(pathsOf(plan!, '/v')).toEqual(['/v/s_db/_data', '/v/s_files/_data/a', '/v/s_files/_data/b/c', '/v/s_files/_data/d']);
  });

  it('has no plan without the label, takes the prefixed volume name too, and refuses paths that climb out', () => {
    expect(backupPlanOf('s', [svc('s_app', { 'backupbot.backup': 'false' }, ['s_x'])])).toBeUndefined();
    const plan = backupPlanOf('s', [svc('s_app', { 'backupbot.backup': 'true', 'backupbot.backup.volumes.s_x': 'false', 'backupbot.backup.volumes.y.path': '../etc,ok/../../x,./z' }, ['s_x', 's_y'])]);
    expect(plan!.excluded).toEqual(['x']);
    expect(plan!.volumes).toEqual([{ name: 'y', dockerName: 's_y', paths: ['z'] }]);
  });
});

describe('restic failures in a steward’s words', () => {
  it.each([
    ['Fatal: wrong password or no key found', 'wrong-password'],
    ['Fatal: unable to save snapshot: write /r/data/x: no space left on device', 'disk-full'],
    ['subprocess ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused\nFatal: unable to open repository at sftp://x: unable to start the sftp session', 'unreachable'],
    ['Fatal: unable to open config file: Stat: stat /r/config: no such file or directory\nIs there a repository at the following location?', 'no-repository'],
    ['Fatal: unable to create lock in backend: repository is already locked exclusively by PID 1', 'locked'],
    ['something else', 'other'],
  ])('%s', (stderr, problem) => {
    expect(explainResticFailure(stderr, '/r').problem).toBe(problem);
  });
});

describe('repositories as pages show them', () => {
  it('hides a password in the URL, in messages too', () => {
    expect(shownRepository('rest:https://sam:hunter22@backup.example.org:8000/lores')).toBe('rest:https://sam:***@backup.example.org:8000/lores');
    expect(shownRepository('sftp:sam@host:/srv/restic')).toBe('sftp:sam@host:/srv/restic');
    expect(shownRepository('/srv/backups')).toBe('/srv/backups');
    const { message } = explainResticFailure('Fatal: wrong password or no key found', 'rest:https://sam:hunter22@h/r');
    expect(message).not.toContain('hunter22');
    expect(message).toContain('rest:https://sam:***@h/r');
  });
});
