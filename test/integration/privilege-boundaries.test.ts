// The role boundary around apps (issue #14): the node holds the Docker socket, so a steward must never reach root on
// the host through it. One test per finding: F1 host-reaching recipes and host paths, F2 the node's own settings,
// F3 stacks the node does not manage. Real SQLite, the abra double, the real swarm.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stackNameFor } from '../../app/adapters/abra/names.ts';
import { boundaryNode, type BoundaryNode } from '../support/boundary-node.ts';
import { jobSucceeded, type Posted } from '../support/jobs.ts';
import { haveDocker } from '../support/requirements.ts';
import { coopCloudStack, deployStack, ensureTestImage, removeStack } from '../support/swarm.ts';
import { eventually } from '../support/poll.ts';

vi.setConfig({ testTimeout: 120_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
const PLAIN = `plain${id}`; // an unlabelled stack, deployed by someone else
const ELSEWHERE = `else${id}.lores.test`; // a Co-op Cloud app deployed from an operator's laptop
const SOCKET_DOMAIN = `sock${id}.lores.test`;
const KIWIX_DOMAIN = `kiwix${id}.lores.test`;

const replicas = async (service: string) => Number((await execa('docker', ['service', 'inspect', service, '--format', '{{.Spec.Mode.Replicated.Replicas}}'])).stdout.trim());

describe.skipIf(!dockerThere)('privilege boundaries around apps', () => {
  let b: BoundaryNode;
  /** Whoever posted: the job it started must succeed. */
  const finished = (res: Posted) => jobSucceeded(b.node, res);
  const lastAudit = (action: string) => b.node.services.store.audit.page({ limit: 1, action })[0];

  beforeAll(async () => {
    await ensureTestImage();
    b = await boundaryNode(id);
    await deployStack(PLAIN, { web: {} });
    await deployStack(stackNameFor(ELSEWHERE), coopCloudStack(stackNameFor(ELSEWHERE), { recipe: 'lores-test-app', version: '1.0.0+1.0', domain: ELSEWHERE }));
    const seen = (stack: string) => [...b.node.services.model.services.values()].some((s) => s.stack === stack && s.running > 0);
    expect(await eventually(() => seen(PLAIN) && seen(stackNameFor(ELSEWHERE)), 60_000)).toBe(true);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await Promise.all([removeStack(PLAIN), removeStack(stackNameFor(ELSEWHERE))]);
  }, 90_000);

  describe('F1: host-reaching recipes and host paths', () => {
    it('a steward cannot install the node’s own recipe (it mounts the Docker socket); the install page says so and nothing runs', async () => {
      const page = await b.as.steward.agent.get('/install/lores-node').expect(200);
      expect(page.text).toContain('mounts the Docker socket (/var/run/docker.sock)');
      expect(page.text).toContain('Only an admin may');
      expect(page.text).not.toContain('name="confirm_host_reach"');
      const before = b.snapshot();
      // Ticking the admin's box does not help a steward.
      const res = await b.post(b.as.steward, '/install/lores-node', { domain: SOCKET_DOMAIN, confirm_host_reach: 'on' });
      expect(res.status).toBe(403);
      expect(res.text).toContain('mounts the Docker socket (/var/run/docker.sock)');
      expect(b.snapshot()).toEqual(before);
      expect(existsSync(b.envPath(SOCKET_DOMAIN))).toBe(false);
      expect(lastAudit('job.install')).toMatchObject({ actor: 'sam', outcome: 'denied' });
    });

    it('an admin installs it only after ticking the confirmation that lists what it reaches; the confirmation is audited with the list', async () => {
      const page = await b.as.admin.agent.get('/install/lores-node').expect(200);
      expect(page.text).toContain('name="confirm_host_reach"');
      const before = b.snapshot();
      const unconfirmed = await b.post(b.as.admin, '/install/lores-node', { domain: SOCKET_DOMAIN });
      expect(unconfirmed.status).toBe(409);
      expect(unconfirmed.text).toContain('mounts the Docker socket');
      expect(b.snapshot()).toEqual(before);
      const job = await finished(await b.post(b.as.admin, '/install/lores-node', { domain: SOCKET_DOMAIN, confirm_host_reach: 'on' }));
      expect(existsSync(b.envPath(SOCKET_DOMAIN))).toBe(true);
      const confirmed = lastAudit('host-reach.confirm')!;
      expect(confirmed).toMatchObject({ actor: 'admin', target: SOCKET_DOMAIN, outcome: 'ok' });
      expect(JSON.parse(confirmed.detail!)).toEqual({ action: 'install', reach: ['app: mounts the Docker socket (/var/run/docker.sock)'] });
      expect(JSON.parse(lastAudit('job.install')!.detail!)).toMatchObject({ job: job.id, hostReach: ['app: mounts the Docker socket (/var/run/docker.sock)'] });
    });

    it('a steward may then not touch that app at all: settings, deploy, restart, upgrade, remove', async () => {
      const stack = stackNameFor(SOCKET_DOMAIN);
      const before = b.snapshot();
      for (const url of ['config', 'upgrade', 'remove']) expect((await b.as.steward.agent.get(`/apps/${stack}/${url}`)).status, url).toBe(403);
      for (const action of ['deploy', 'restart', 'undeploy', 'remove', 'config', 'stop', 'start']) {
        const res = await b.post(b.as.steward, `/apps/${stack}/${action}`, { confirm: SOCKET_DOMAIN, 'env.NODE_DOMAIN': 'x.org' });
        expect(res.status, action).toBe(403);
      }
      expect(b.snapshot()).toEqual(before);
    });

    it('ZIM_FILES_PATH stays under ZIM_ROOT for everyone: /, a sibling and a link out are refused; a folder under it installs', async () => {
      symlinkSync('/', path.join(b.zimRoot, 'out'));
      const before = b.snapshot();
      const cases: [keyof BoundaryNode['as'], string][] = [
        ['steward', '/'],
        ['admin', '/'],
        ['steward', '/etc'],
        ['steward', `${b.zimRoot}x`],
        ['steward', `${b.zimRoot}/out/etc`],
        ['admin', `${b.zimRoot}/out`],
      ];
      for (const [who, value] of cases) {
        const res = await b.post(b.as[who], '/install/kiwix', { domain: KIWIX_DOMAIN, 'env.ZIM_FILES_PATH': value, confirm_host_reach: 'on' });
        expect(res.status, `${who} ${value}`).toBe(400);
        // The form comes back as it was filled in, the refusal beside the field.
        const field = `name="env.ZIM_FILES_PATH" value="${value}"`;
        const beside = `id="error-env.ZIM_FILES_PATH" role="alert"><code>ZIM_FILES_PATH</code> must be a folder under ${b.zimRoot}`;
        expect(res.text).toContain(field);
        expect(res.text.indexOf(beside)).toBeGreaterThan(res.text.indexOf(field));
        expect(lastAudit('job.install')).toMatchObject({ actor: who === 'admin' ? 'admin' : 'sam', outcome: 'denied' });
      }
      expect(b.snapshot()).toEqual(before);
      await finished(await b.post(b.as.steward, '/install/kiwix', { domain: KIWIX_DOMAIN, 'env.ZIM_FILES_PATH': `${b.zimRoot}/wiki` }));
      // Nor can its settings move it out afterwards.
      const saved = readFileSync(b.envPath(KIWIX_DOMAIN), 'utf8');
      const res = await b.post(b.as.steward, `/apps/${stackNameFor(KIWIX_DOMAIN)}/config`, { 'env.ZIM_FILES_PATH': '/' });
      expect(res.status).toBe(400);
      expect(res.text).toContain('id="error-env.ZIM_FILES_PATH" role="alert"');
      expect(readFileSync(b.envPath(KIWIX_DOMAIN), 'utf8')).toBe(saved);
      // Nor an env file that arrived another way (a laptop's push to the config repository): deploy holds it too.
      writeFileSync(b.envPath(KIWIX_DOMAIN), saved.replace(/^ZIM_FILES_PATH=.*$/m, 'ZIM_FILES_PATH=/'));
      const jobsBefore = b.node.services.store.jobs.list({ limit: 1000 }).length;
      const bySteward = await b.post(b.as.steward, `/apps/${stackNameFor(KIWIX_DOMAIN)}/deploy`, {});
      expect(bySteward.status).toBe(403); // what it would reach is named: only an admin may
      expect(bySteward.text).toContain('mounts the host folder /');
      const byAdmin = await b.post(b.as.admin, `/apps/${stackNameFor(KIWIX_DOMAIN)}/deploy`, {});
      expect(byAdmin.status).toBe(400); // and the folder stays under its root for the admin too
      expect(byAdmin.text).toContain('must be a folder under');
      expect(b.node.services.store.jobs.list({ limit: 1000 }).length).toBe(jobsBefore);
      writeFileSync(b.envPath(KIWIX_DOMAIN), saved);
    });
  });

  describe('F2: the node’s own settings', () => {
    it('a steward can neither open, save, upgrade nor roll back the node’s own app', async () => {
      expect(existsSync(b.envPath(b.selfDomain))).toBe(true);
      const before = b.snapshot();
      for (const url of ['config', 'upgrade', 'rollback']) expect((await b.as.steward.agent.get(`/apps/${b.selfStack}/${url}`)).status, url).toBe(403);
      const saved = await b.post(b.as.steward, `/apps/${b.selfStack}/config`, { 'env.NODE_DOMAIN': 'evil.example.org', 'enable.SESSION_HOURS': 'on', 'env.SESSION_HOURS': '720' });
      expect(saved.status).toBe(403);
      expect(saved.text).toContain('only an admin');
      for (const action of ['upgrade', 'rollback']) expect((await b.post(b.as.steward, `/apps/${b.selfStack}/${action}`, { version: '0.1.0+0.1.0' })).status, action).toBe(403);
      expect(b.snapshot()).toEqual(before);
      const page = await b.as.steward.agent.get(`/apps/${b.selfStack}`).expect(200);
      expect(page.text).not.toContain(`/apps/${b.selfStack}/config`);
      expect(page.text).not.toContain(`/apps/${b.selfStack}/upgrade`);
    });

    it('an admin’s bad values are refused by the node’s start-up rules, link-local URLs only with an explicit override; all audited', async () => {
      const page = await b.as.admin.agent.get(`/apps/${b.selfStack}/config`).expect(200);
      expect(page.text).toContain('name="allow_link_local"');
      expect(page.text).toContain('mounts the Docker socket');
      const before = b.snapshot();
      const bad: [Record<string, string>, string][] = [
        [{ 'env.NODE_DOMAIN': 'not a domain' }, 'NODE_DOMAIN must be a domain name'],
        [{ 'enable.SESSION_HOURS': 'on', 'env.SESSION_HOURS': '100000' }, 'SESSION_HOURS'],
        [{ 'enable.CATALOGUE_URL': 'on', 'env.CATALOGUE_URL': 'ftp://mirror.example.org/recipes.json' }, 'CATALOGUE_URL'],
        [{ 'enable.CATALOGUE_URL': 'on', 'env.CATALOGUE_URL': 'http://169.254.169.254/latest/meta-data' }, 'link-local'],
        [{ 'enable.KIWIX_CATALOGUE_URL': 'on', 'env.KIWIX_CATALOGUE_URL': 'http://metadata.google.internal/computeMetadata/v1' }, 'link-local'],
        [{ 'enable.CATALOGUE_URL': 'on', 'env.CATALOGUE_URL': 'http://2852039166/' }, 'link-local'],
        // ZIM_ROOT belongs to the zims overlay (#15's env forms): it is switched on with it.
        [{ 'overlay.compose.zims.yml': 'on', 'enable.ZIM_ROOT': 'on', 'env.ZIM_ROOT': 'srv/zims' }, 'ZIM_ROOT must be an absolute path'],
        [{ 'overlay.compose.lan.yml': 'on', 'enable.LAN_PORT': 'on', 'env.LAN_PORT': '99999' }, 'LAN_PORT must be a port number'],
      ];
      for (const [form, says] of bad) {
        const res = await b.post(b.as.admin, `/apps/${b.selfStack}/config`, { 'env.NODE_DOMAIN': 'lores.test', ...form, confirm_host_reach: 'on' });
        expect(res.status, JSON.stringify(form)).toBe(400);
        expect(res.text).toContain(says);
      }
      // Good values still need the confirmation: the node's recipe mounts the Docker socket.
      const good = { 'env.NODE_DOMAIN': 'lores2.test', 'enable.SESSION_HOURS': 'on', 'env.SESSION_HOURS': '24' };
      expect((await b.post(b.as.admin, `/apps/${b.selfStack}/config`, good)).status).toBe(409);
      expect(b.snapshot()).toEqual(before);
      expect((await b.post(b.as.admin, `/apps/${b.selfStack}/config`, { ...good, confirm_host_reach: 'on' })).status).toBe(303);
      expect(readFileSync(b.envPath(b.selfDomain), 'utf8')).toMatch(/^NODE_DOMAIN=lores2\.test$/m);
      expect(JSON.parse(lastAudit('host-reach.confirm')!.detail!)).toMatchObject({ action: 'config', reach: expect.arrayContaining(['app: mounts the Docker socket (/var/run/docker.sock)']) });
      // The override lets an admin point at a link-local mirror on purpose; the audit log says it was used.
      const override = { ...good, 'enable.CATALOGUE_URL': 'on', 'env.CATALOGUE_URL': 'http://169.254.10.10/recipes.json', confirm_host_reach: 'on' };
      expect((await b.post(b.as.admin, `/apps/${b.selfStack}/config`, override)).status).toBe(400);
      expect(readFileSync(b.envPath(b.selfDomain), 'utf8')).not.toContain('169.254.10.10');
      expect((await b.post(b.as.admin, `/apps/${b.selfStack}/config`, { ...override, allow_link_local: 'on' })).status).toBe(303);
      expect(readFileSync(b.envPath(b.selfDomain), 'utf8')).toMatch(/^CATALOGUE_URL=http:\/\/169\.254\.10\.10\/recipes\.json$/m);
      expect(JSON.parse(lastAudit('app.config')!.detail!)).toMatchObject({ linkLocalUrlsAllowed: true });
    });
  });

  describe('F3: stacks the node does not manage', () => {
    it('a steward cannot stop an unlabelled stack nor an app deployed from elsewhere; the swarm is untouched', async () => {
      const before = b.snapshot();
      for (const stack of [PLAIN, stackNameFor(ELSEWHERE)]) {
        for (const action of ['stop', 'start', 'restart', 'deploy', 'undeploy', 'remove', 'config', 'upgrade']) {
          const res = await b.post(b.as.steward, `/apps/${stack}/${action}`);
          expect(res.status, `${action} ${stack}`).toBe(403);
          expect(res.text).toContain('read-only');
        }
      }
      expect(b.snapshot()).toEqual(before);
      expect(await replicas(`${PLAIN}_web`)).toBe(1);
      expect(await replicas(`${stackNameFor(ELSEWHERE)}_app`)).toBe(1);
    });

    it('installing on a domain whose stack already runs on the swarm is refused, for stewards and admins', async () => {
      const before = b.snapshot();
      for (const who of ['steward', 'admin'] as const) {
        const res = await b.post(b.as[who], '/install/lores-test-app', { domain: ELSEWHERE, 'env.GREETING': 'mine now', deploy: 'on' });
        expect(res.status, who).toBe(409);
        expect(res.text).toContain(`A stack named ${stackNameFor(ELSEWHERE)} already runs on this swarm`);
      }
      expect(b.snapshot()).toEqual(before);
      expect(existsSync(b.envPath(ELSEWHERE))).toBe(false);
    });

    it('two domains that abra cuts to one stack name cannot both be installed; the message suggests another domain', async () => {
      const long = `c${id}-${'x'.repeat(40)}`; // 47 characters: the stack name is its first 45
      const [first, second] = [`${long}.a.lores.test`, `${long}.b.lores.test`];
      expect(stackNameFor(first)).toBe(stackNameFor(second));
      await finished(await b.post(b.as.steward, '/install/lores-test-app', { domain: first }));
      const before = b.snapshot();
      const res = await b.post(b.as.steward, '/install/lores-test-app', { domain: second });
      expect(res.status).toBe(409);
      expect(res.text).toContain(`which ${first} already has`);
      expect(res.text).toContain('Choose another, shorter domain');
      expect(b.snapshot()).toEqual(before);
    });

    it('an admin adopts a stack from elsewhere (audited): then a steward may stop and start it; released, it is read-only again', async () => {
      expect((await b.post(b.as.steward, `/apps/${PLAIN}/adopt`)).status).toBe(403);
      expect((await b.as.steward.agent.get(`/apps/${PLAIN}`).expect(200)).text).not.toContain(`action="/apps/${PLAIN}/stop"`);
      const page = await b.as.admin.agent.get(`/apps/${PLAIN}`).expect(200);
      expect(page.text).toContain(`action="/apps/${PLAIN}/adopt"`);
      expect((await b.post(b.as.admin, `/apps/${PLAIN}/adopt`)).status).toBe(303);
      expect(lastAudit('app.adopt')).toMatchObject({ actor: 'admin', target: PLAIN, outcome: 'ok' });
      expect((await b.as.steward.agent.get(`/apps/${PLAIN}`).expect(200)).text).toContain(`action="/apps/${PLAIN}/stop"`);
      const stop = await b.post(b.as.steward, `/apps/${PLAIN}/stop`, { confirmed: '1' });
      expect(stop.status, stop.text.slice(0, 400)).toBe(303);
      expect(await eventually(async () => (await replicas(`${PLAIN}_web`)) === 0, 30_000)).toBe(true);
      await eventually(() => !b.node.services.jobs.holder(PLAIN), 30_000);
      expect((await b.post(b.as.steward, `/apps/${PLAIN}/start`)).status).toBe(303);
      expect(await eventually(async () => (await replicas(`${PLAIN}_web`)) === 1, 30_000)).toBe(true);
      await eventually(() => !b.node.services.jobs.holder(PLAIN), 30_000);
      expect((await b.post(b.as.admin, `/apps/${PLAIN}/release`)).status).toBe(303);
      expect(lastAudit('app.release')).toMatchObject({ actor: 'admin', target: PLAIN });
      expect((await b.post(b.as.steward, `/apps/${PLAIN}/stop`)).status).toBe(403);
      expect(await replicas(`${PLAIN}_web`)).toBe(1);
    });
  });
});
