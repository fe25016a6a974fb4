// Builds the real app in-process on a fresh SQLite file, with a clock tests can move.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import supertest from 'supertest';
import { buildServices, createApp } from '../../app/app.ts';
import { createDocker } from '../../app/adapters/docker/client.ts';
import { loadConfig } from '../../app/config.ts';
import { createLogger } from '../../app/log.ts';
import type { Wiring } from '../../app/services/index.ts';
import { createStore } from '../../app/store/index.ts';
import { startServices } from '../../app/startup.ts';
import type { Role } from '../../app/validation.ts';

export const ADMIN_PASSWORD = 'correct horse battery';

export type TestNode = {
  app: Express;
  services: Wiring;
  clock: { now: number; advance(ms: number): void };
  dataDir: string;
  close(): void;
};

export async function testNode(env: Record<string, string> = {}, opts: { live?: boolean; full?: boolean } = {}): Promise<TestNode> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lores-test-'));
  // No internet here: the recipe catalogue is off unless a test serves one.
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ADMIN_PASSWORD: ADMIN_PASSWORD, CATALOGUE_URL: '', ...env });
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      this.now += ms;
    },
  };
  const now = () => clock.now;
  const store = createStore(config.dataDir);
  const services = buildServices({ config, store, docker: createDocker(config.dockerSocket), log: createLogger('silent'), now });
  // `full`: the same start-up as the real node (bundled recipes, abra check, live model, job recovery).
  if (opts.full) await startServices(services);
  else {
    await services.people.bootstrap(ADMIN_PASSWORD);
    if (opts.live) await services.model.start();
  }
  const app = createApp(services, now);
  return {
    app,
    services,
    clock,
    dataDir,
    close() {
      services.model.stop();
      services.catalogue.stop();
      services.region.stop();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Pulls the CSRF token out of a rendered form. */
export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('no CSRF token in page');
  return m[1];
}

/** A supertest agent logged in as `username`, and the CSRF token of its session. */
export async function loggedIn(node: TestNode, username = 'admin', password = ADMIN_PASSWORD) {
  const agent = supertest.agent(node.app);
  const page = await agent.get('/login').expect(200);
  const res = await agent
    .post('/login')
    .type('form')
    .send({ _csrf: csrfFrom(page.text), username, password });
  if (res.status !== 303) throw new Error(`login as ${username} failed: ${res.status}`);
  const home = await agent.get('/account').expect(200);
  return { agent, csrf: csrfFrom(home.text) };
}

export async function addUser(node: TestNode, username: string, role: Role, password = 'steward password 1') {
  await node.services.people.add({ username, role, password });
  return { username, password };
}
