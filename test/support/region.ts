// Nodes of a region for tests: a real app on a real loopback port, with its own SQLite file, abra folder and ZIM
// root (never the machine's ~/.abra), Kiwix apps as abra env files, and the pairing flow as admins click it.
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { csrfFrom, loggedIn, testNode, type TestNode } from './app.ts';
import { freePort } from './server.ts';

export type Running = { node: TestNode; url: string; port: number; server?: Server; name: string; base: string };

export async function regionNode(name: string, apps: { domain: string; recipe: string; zims?: { file: string; bytes: number | Buffer; sha256?: string }[] }[] = [], env: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Its own abra folder and ZIM root, never the machine's ~/.abra.
  const base = mkdtempSync(path.join(tmpdir(), `lores-region-${name}-`));
  const zimRoot = path.join(base, 'zims');
  mkdirSync(zimRoot);
  const node = await testNode({ NODE_NAME: name, NODE_URL: url, PORT: String(port), REGION_POLL_SECONDS: '3600', ABRA_DIR: path.join(base, 'abra'), ZIM_ROOT: zimRoot, ...env });
  for (const a of apps) {
    const zimDir = path.join(zimRoot, a.domain);
    mkdirSync(zimDir, { recursive: true });
    const envDir = path.join(node.services.config.abraDir, 'servers', 'default');
    mkdirSync(envDir, { recursive: true });
    writeFileSync(path.join(envDir, `${a.domain}.env`), `TYPE=${a.recipe}:1.2.0+3.8.2\nDOMAIN=${a.domain}\nZIM_FILES_PATH=${zimDir}\n`);
    for (const z of a.zims ?? []) {
      const bytes = typeof z.bytes === 'number' ? Buffer.alloc(z.bytes, 7) : z.bytes;
      writeFileSync(path.join(zimDir, z.file), bytes);
      // As if the node had downloaded it from the Kiwix catalogue: the Metalink's hash is kept.
      node.services.store.region.keepHash({ fileName: z.file, sha256: z.sha256 ?? 'a'.repeat(64), size: bytes.length, source: 'https://download.kiwix.org/zim/x.meta4', keptAt: Date.now() });
    }
  }
  return { node, url, port, name, base };
}
export const listen = (r: Running) => new Promise<void>((resolve) => (r.server = createServer(r.node.app).listen(r.port, '127.0.0.1', () => resolve())));
export const close = (r: Running) => new Promise<void>((resolve) => (r.server ? (r.server.closeAllConnections(), r.server.close(() => resolve())) : resolve()));

/** A's admin asks B to pair (as from "nodes nearby"), and reads the code A shows. */
export async function offer(a: Running, b: Running): Promise<string> {
  const { agent, csrf } = await loggedIn(a.node);
  const res = await agent.post('/region/pair').type('form').send({ _csrf: csrf, url: b.url }).expect(200);
  return /id="pair-code"><strong>(\d{6})</.exec(res.text)![1]!;
}
/** B's admin types `code` next to the request from A. */
export async function accept(b: Running, fromName: string, code: string) {
  const { agent } = await loggedIn(b.node);
  const page = await agent.get('/region').expect(200);
  const id = new RegExp(`data-request="${fromName}"[\\s\\S]*?action="/region/requests/([0-9a-f]{32})/accept"`).exec(page.text)?.[1];
  expect(id, `a request from ${fromName} on ${b.name}`).toBeTruthy();
  return agent.post(`/region/requests/${id}/accept`).type('form').send({ _csrf: csrfFrom(page.text), code });
}

/** Pairs two nodes the way their admins would (a request from `a`, the code typed on `b`). */
export async function pair(a: Running, b: Running): Promise<void> {
  const res = await accept(b, a.name, await offer(a, b));
  expect(res.text).toContain(`Paired with ${a.name}.`);
}
