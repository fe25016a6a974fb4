// What a recipe version would reach on the host: the Docker socket, host folders, privileges, host namespaces and
// low ports, from compose files and the env values they are deployed with. The real recipes are read too.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeFilesOf, hostReachIn, interpolate } from '../../app/services/host-reach.ts';
import { REPO_ROOT } from '../support/server.ts';

const env = (o: Record<string, string> = {}) => new Map(Object.entries(o));
const reach = (yaml: string, values: Record<string, string> = {}, confined: Record<string, string> = {}) =>
  hostReachIn([{ file: 'compose.yml', text: yaml }], env(values), confined);
const service = (body: string) => `version: "3.8"\nservices:\n  app:\n    image: x\n${body.replace(/^/gm, '    ')}\n`;

describe('compose interpolation', () => {
  it('follows compose: defaults, alternatives, escapes, missing names', () => {
    const e = env({ A: 'a', EMPTY: '' });
    expect(interpolate('$A/${A}/$$A', e).value).toBe('a/a/$A');
    expect(interpolate('${EMPTY:-d} ${EMPTY-d} ${NONE-d} ${A:+alt} ${NONE+alt}', e).value).toBe('d  d alt ');
    expect(interpolate('${NONE:-${A}/x}', e).value).toBe('a/x');
    expect(interpolate('${NONE}', e)).toEqual({ value: '', missing: ['NONE'] });
  });

  it('builds COMPOSE_FILE up line by line, ignoring commented lines', () => {
    expect(composeFilesOf('COMPOSE_FILE="compose.yml"\nCOMPOSE_FILE="$COMPOSE_FILE:compose.lan.yml"\n#COMPOSE_FILE="$COMPOSE_FILE:compose.zims.yml"\n')).toEqual(['compose.yml', 'compose.lan.yml']);
    expect(composeFilesOf('TYPE=x\n')).toEqual(['compose.yml']);
  });
});

describe('host reach', () => {
  it('finds nothing in an ordinary app (named volumes, published high ports, configs from the recipe)', () => {
    const yaml = `${service('volumes:\n  - data:/data\n  - /tmp\nports:\n  - "8080:80"\n  - target: 80\n    published: 8443\n    mode: host')}volumes:\n  data:\nconfigs:\n  c:\n    file: entrypoint.sh\n`;
    expect(reach(yaml)).toEqual([]);
  });

  it('finds the Docker socket and host folders, short and long syntax, and sources set by env values', () => {
    expect(reach(service('volumes:\n  - /var/run/docker.sock:/var/run/docker.sock'))).toEqual(['app: mounts the Docker socket (/var/run/docker.sock)']);
    expect(reach(service('volumes:\n  - type: bind\n    source: /run/docker.sock\n    target: /s'))).toEqual(['app: mounts the Docker socket (/run/docker.sock)']);
    expect(reach(service('volumes:\n  - ${SOCK}:/s'), { SOCK: '/var/run/docker.sock' })).toEqual(['app: mounts the Docker socket (/var/run/docker.sock)']);
    expect(reach(service('volumes:\n  - type: bind\n    source: ${DIR}\n    target: /d'), { DIR: '/' })).toEqual(['app: mounts the host folder /']);
    expect(reach(service('volumes:\n  - ${DIR:-/etc}:/d:ro'))).toEqual(['app: mounts the host folder /etc']);
    expect(reach(service('volumes:\n  - ./conf:/conf'))).toEqual(['app: mounts the host folder ./conf']);
    expect(reach(service('volumes:\n  - type: bind\n    source: ${NOPE}\n    target: /d'))).toEqual(['app: mounts the host folder (empty) (from ${NOPE}, not set)']);
  });

  it('finds named volumes that are bind mounts in disguise', () => {
    const yaml = `${service('volumes:\n  - root:/r')}volumes:\n  root:\n    driver_opts:\n      type: none\n      o: bind\n      device: /\n`;
    expect(reach(yaml)).toEqual(['app: mounts the host folder / (volume root)']);
  });

  it('lets a confined setting through only inside its root', () => {
    const yaml = service('volumes:\n  - type: bind\n    source: ${ZIM_FILES_PATH}\n    target: /data');
    expect(reach(yaml, { ZIM_FILES_PATH: '/srv/zims/wiki' }, { ZIM_FILES_PATH: '/srv/zims' })).toEqual([]);
    expect(reach(yaml, { ZIM_FILES_PATH: '/srv/zims' }, { ZIM_FILES_PATH: '/srv/zims' })).toEqual([]);
    expect(reach(yaml, { ZIM_FILES_PATH: '/srv/zimsx' }, { ZIM_FILES_PATH: '/srv/zims' })).toEqual(['app: mounts the host folder /srv/zimsx']);
    expect(reach(yaml, { ZIM_FILES_PATH: '/' }, { ZIM_FILES_PATH: '/srv/zims' })).toEqual(['app: mounts the host folder /']);
    // Not confined: any host folder counts.
    expect(reach(yaml, { ZIM_FILES_PATH: '/srv/zims/wiki' })).toEqual(['app: mounts the host folder /srv/zims/wiki']);
  });

  it('finds privileges, capabilities, devices, host namespaces and host networking', () => {
    const found = reach(
      `${service('privileged: true\ncap_add: [NET_ADMIN, SYS_ADMIN]\ndevices: ["/dev/sda:/dev/sda"]\nnetwork_mode: host\npid: host\nipc: host\nuserns_mode: host\nsecurity_opt: ["apparmor:unconfined"]\nnetworks: [hostnet]')}networks:\n  hostnet:\n    external: true\n    name: host\n`,
    );
    expect(found).toEqual([
      'app: runs privileged (every device and capability of the host)',
      'app: adds capabilities NET_ADMIN, SYS_ADMIN',
      'app: uses host devices /dev/sda',
      'app: shares the host’s network namespace (network_mode: host)',
      'app: shares the host’s process (PID) namespace (pid: host)',
      'app: shares the host’s IPC namespace (ipc: host)',
      'app: shares the host’s user namespace (userns_mode: host)',
      'app: joins the host’s network (network hostnet)',
      'app: lifts a security profile (security_opt apparmor:unconfined)',
    ]);
    expect(reach(service('privileged: ${P:-false}'))).toEqual([]);
    expect(reach(service('privileged: ${P}'), { P: 'true' })).toHaveLength(1);
  });

  it('finds host ports below 1024, long and short syntax, set by env values too', () => {
    expect(reach(service('ports:\n  - target: 3000\n    published: ${LAN_PORT:-8080}\n    mode: host'), { LAN_PORT: '22' })).toEqual([
      'app: publishes the host’s port 22 (below 1024, host mode)',
    ]);
    expect(reach(service('ports:\n  - target: 3000\n    published: ${LAN_PORT:-8080}\n    mode: host'))).toEqual([]);
    expect(reach(service('ports:\n  - "127.0.0.1:80:8080/tcp"\n  - "8081"'))).toEqual(['app: publishes the host’s port 80 (below 1024, ingress mode)']);
  });

  it('finds configs and secrets read from the node’s own files', () => {
    expect(reach(`${service('')}configs:\n  c:\n    file: /data/lores-node.sqlite\nsecrets:\n  s:\n    file: ../../servers/default/x.env\n`)).toEqual([
      'config c: reads the node’s file /data/lores-node.sqlite',
      'secret s: reads the node’s file ../../servers/default/x.env',
    ]);
  });

  it('says a compose file it cannot read is unknown rather than safe', () => {
    expect(reach('services: [')).toEqual(['compose.yml could not be read, so what it would reach on the host is unknown']);
  });

  it('the node’s own recipe reaches the host (the Docker socket); the bundled Kiwix recipe does not, its ZIM folder confined', () => {
    const read = (dir: string, file: string) => ({ file, text: readFileSync(path.join(REPO_ROOT, dir, file), 'utf8') });
    const self = hostReachIn([read('recipe', 'compose.yml'), read('recipe', 'compose.lan.yml')], env({ STACK_NAME: 'n', LAN_PORT: '8080' }));
    expect(self).toEqual(['app: mounts the Docker socket (/var/run/docker.sock)']);
    const kiwix = [read('recipes/kiwix', 'compose.yml'), read('recipes/kiwix', 'compose.lan.yml')];
    expect(hostReachIn(kiwix, env({ ZIM_FILES_PATH: '/srv/zims/wiki' }), { ZIM_FILES_PATH: '/srv/zims' })).toEqual([]);
    expect(hostReachIn(kiwix, env({ ZIM_FILES_PATH: '/srv/zims', KIWIX_LAN_PORT: '80' }), { ZIM_FILES_PATH: '/srv/zims' })).toEqual([
      'app: publishes the host’s port 80 (below 1024, host mode)',
    ]);
  });
});
