// Generated secret values leave the node only through the one-time page: whatever abra prints and however an install
// fails, they are in no job output, audit row, SQLite page (main file or WAL) or log line.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { pino } from 'pino';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServices, createApp } from '../../app/app.ts';
import { createDocker } from '../../app/adapters/docker/client.ts';
import { loadConfig } from '../../app/config.ts';
import type { Wiring } from '../../app/services/index.ts';
import { startServices } from '../../app/startup.ts';
import { createStore } from '../../app/store/index.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES, setFaults } from '../support/abra.ts';
import { ADMIN_PASSWORD, addUser, type TestNode } from '../support/app.ts';
import { haveDocker } from '../support/requirements.ts';
import { ensureTestImage, removeStackAndObjects } from '../support/swarm.ts';

vi.setConfig({ testTimeout: 120_000 });
const dockerThere = await haveDocker();
const id = randomBytes(3).toString('hex');
// The abra double makes every value `<prefix><secret name>`, so the test knows what to look for.
const PREFIX = `Lk${id}Secret`;
const VALUE = `${PREFIX}db_password`;

describe.skipIf(!dockerThere)('generated secrets never leak (abra double, real swarm)', () => {
  let node: TestNode;
  let abraDir: string;
  let logFile: string;
  let guestCookie: string;
  const domains: string[] = [];
  const before = { output: process.env.ABRA_DOUBLE_SECRETS_OUTPUT, prefix: process.env.ABRA_DOUBLE_SECRET_PREFIX };

  beforeAll(async () => {
    await ensureTestImage();
    process.env.ABRA_DOUBLE_SECRET_PREFIX = PREFIX; // the node passes its environment on to abra
    abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
    const dataDir = mkdtempSync(path.join(tmpdir(), 'lores-test-'));
    logFile = path.join(dataDir, 'node.log');
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'trace', ADMIN_PASSWORD, CATALOGUE_URL: '', ABRA_DIR: abraDir, ABRA_BIN: ABRA_DOUBLE, BUNDLED_RECIPES_DIR: FIXTURE_RECIPES, ABRA_TIMEOUT_SECONDS: '60' });
    const store = createStore(config.dataDir);
    // The node's log at its most talkative, in a file the test reads back.
    const log = pino({ level: 'trace', base: undefined }, pino.destination({ dest: logFile, sync: true }));
    const services: Wiring = buildServices({ config, store, docker: createDocker(config.dockerSocket), log });
    await startServices(services);
    node = {
      app: createApp(services),
      services,
      clock: { now: Date.now(), advance() {} },
      dataDir,
      close() {
        services.model.stop();
        services.catalogue.stop();
        store.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    const guest = await addUser(node, 'gil', 'guest');
    const g = services.sessions.start((await services.people.authenticate(guest.username, guest.password))!, { ip: '127.0.0.1', userAgent: 'test' });
    guestCookie = `lores_session=${g.token}`;
  }, 60_000);

  afterAll(async () => {
    process.env.ABRA_DOUBLE_SECRETS_OUTPUT = before.output;
    process.env.ABRA_DOUBLE_SECRET_PREFIX = before.prefix;
    if (before.output === undefined) delete process.env.ABRA_DOUBLE_SECRETS_OUTPUT;
    if (before.prefix === undefined) delete process.env.ABRA_DOUBLE_SECRET_PREFIX;
    node?.close();
    for (const d of domains) await removeStackAndObjects(d.replaceAll('.', '_'));
    rmSync(abraDir, { recursive: true, force: true });
  }, 120_000);

  /** Installs the fixture recipe (which generates db_password) with abra printing its secrets as `output` says. */
  async function install(output: string, opts: { deploy: boolean }) {
    const domain = `s${domains.length}${id}.lores.test`;
    domains.push(domain);
    process.env.ABRA_DOUBLE_SECRETS_OUTPUT = output;
    const job = await node.services.lifecycle.install({ recipe: 'lores-test-app', version: '1.0.0+1.0', domain, deploy: opts.deploy, form: {} }, { name: 'sam', ip: '127.0.0.1', role: 'steward' });
    return node.services.jobs.finished(job.id);
  }

  /** Every place a value could have been written to: none may hold it. */
  async function expectNoLeak(jobId: number) {
    const output = node.services.store.jobs.output(jobId).map((l) => l.line).join('\n');
    expect(output).not.toContain(PREFIX);
    expect(JSON.stringify(node.services.store.jobs.byId(jobId))).not.toContain(PREFIX);
    const page = await supertest(node.app).get(`/jobs/${jobId}`).set('Cookie', guestCookie).expect(200);
    expect(page.text).not.toContain(PREFIX);
    expect(JSON.stringify(node.services.store.audit.page({ limit: 1000 }))).not.toContain(PREFIX);
    const db = path.join(node.dataDir, 'lores-node.sqlite');
    for (const file of [db, `${db}-wal`]) {
      if (!existsSync(file)) continue;
      expect(readFileSync(file).includes(Buffer.from(PREFIX)), `${path.basename(file)} holds a secret`).toBe(false);
    }
    const logged = readFileSync(logFile, 'utf8');
    expect(logged).toContain('abra is ready'); // the log really is captured
    expect(logged).not.toContain(PREFIX);
    // The double really did print the values: a test that finds nothing because nothing was there proves nothing.
    expect(readFileSync(path.join(abraDir, '.double-calls.jsonl'), 'utf8')).toContain('secret');
  }

  it('finds the values in noisy output (spinner, colours, carriage returns, log lines) and hands them over once', async () => {
    const job = await install('noisy', { deploy: false });
    expect(job.state, node.services.store.jobs.output(job.id).map((l) => l.line).join('\n')).toBe('succeeded');
    await expectNoLeak(job.id);
    expect(node.services.lifecycle.takeSecrets(job.id, 'sam')).toEqual([{ name: 'db_password', value: VALUE }]);
  });

  it('fails without quoting abra when its output cannot be parsed', async () => {
    const job = await install('unparseable', { deploy: false });
    expect(job.state).toBe('failed');
    expect(job.error).toContain('not the expected JSON');
    await expectNoLeak(job.id);
  });

  it('fails without quoting abra when abra printed the values and then exited non-zero', async () => {
    const job = await install('panic', { deploy: false });
    expect(job.state).toBe('failed');
    expect(job.error).toContain('exit code 2');
    await expectNoLeak(job.id);
  });

  it('keeps the values out of everything when the deploy after generating fails', async () => {
    setFaults(abraDir, { 'app deploy': 'fail' });
    try {
      const job = await install('noisy', { deploy: true });
      expect(job.state).toBe('failed');
      expect(job.error).toContain('injected failure');
      await expectNoLeak(job.id);
      // Generated before the deploy failed: still shown once, to the installer only.
      expect(node.services.lifecycle.takeSecrets(job.id, 'gil')).toBeUndefined();
      expect(node.services.lifecycle.takeSecrets(job.id, 'sam')).toEqual([{ name: 'db_password', value: VALUE }]);
    } finally {
      setFaults(abraDir, {});
    }
  });

  it('really created the secrets on the swarm with the known values', async () => {
    const names = (await execa('docker', ['secret', 'ls', '--format', '{{.Name}}'])).stdout;
    expect(names).toContain(`${domains[0]!.replaceAll('.', '_')}_db_password_v1`);
  });
});
