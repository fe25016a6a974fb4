// A node for the role-boundary tests: run "from its recipe" (so it has a self app), the abra double, the test
// recipe, Kiwix and the node's own recipe bundled (it mounts the Docker socket), and an admin, a steward and a guest.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stackNameFor } from '../../app/adapters/abra/names.ts';
import { addUser, loggedIn, testNode, type TestNode } from './app.ts';
import { ABRA_DOUBLE, FIXTURE_RECIPES, abraCalls } from './abra.ts';
import { REPO_ROOT } from './server.ts';

export type Agent = Awaited<ReturnType<typeof loggedIn>>;

export async function boundaryNode(id: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lores-boundary-'));
  const bundled = path.join(dir, 'recipes');
  cpSync(path.join(FIXTURE_RECIPES, 'lores-test-app'), path.join(bundled, 'lores-test-app'), { recursive: true });
  cpSync(path.join(REPO_ROOT, 'recipe'), path.join(bundled, 'lores-node'), { recursive: true });
  cpSync(path.join(REPO_ROOT, 'recipes', 'kiwix'), path.join(bundled, 'kiwix'), { recursive: true });
  const abraDir = path.join(dir, 'abra');
  const zimRoot = path.join(dir, 'zims');
  mkdirSync(path.join(zimRoot, 'wiki'), { recursive: true });
  const selfDomain = `self${id}.lores.test`;
  const selfStack = stackNameFor(selfDomain);
  const node: TestNode = await testNode(
    {
      ABRA_DIR: abraDir,
      ABRA_BIN: ABRA_DOUBLE,
      BUNDLED_RECIPES_DIR: bundled,
      ABRA_TIMEOUT_SECONDS: '90',
      ZIM_ROOT: zimRoot,
      LORES_SELF_STACK: selfStack,
      LORES_ENV_DOMAIN: selfDomain,
      LORES_ENV_NODE_DOMAIN: 'lores.test',
    },
    { full: true },
  );
  await addUser(node, 'sam', 'steward');
  await addUser(node, 'gus', 'guest');
  const as = {
    admin: await loggedIn(node),
    steward: await loggedIn(node, 'sam', 'steward password 1'),
    guest: await loggedIn(node, 'gus', 'steward password 1'),
  };
  const serversDir = path.join(abraDir, 'servers', 'default');
  const envPath = (domain: string) => path.join(serversDir, `${domain}.env`);
  /** Everything a refused request must leave as it was: jobs, abra calls, env files. */
  const snapshot = () => ({
    jobs: node.services.store.jobs.list({ limit: 1000 }).length,
    abraCalls: abraCalls(abraDir).length,
    envFiles: existsSync(serversDir) ? readdirSync(serversDir).sort().map((f) => `${f}\n${readFileSync(path.join(serversDir, f), 'utf8')}`) : [],
  });
  return {
    node,
    abraDir,
    zimRoot,
    selfDomain,
    selfStack,
    as,
    envPath,
    snapshot,
    /** POSTs a form as one of the three, with their CSRF token. */
    post: (who: Agent, url: string, form: Record<string, string> = {}) => who.agent.post(url).type('form').send({ _csrf: who.csrf, ...form }),
    async close() {
      node.close();
      // Secrets the installs generated (abra app secret generate) for stacks of this run.
      const secrets = await execa('docker', ['secret', 'ls', '--format', '{{.Name}}'], { reject: false });
      const ours = secrets.stdout.split('\n').filter((n) => n.includes(id));
      if (ours.length) await execa('docker', ['secret', 'rm', ...ours], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
export type BoundaryNode = Awaited<ReturnType<typeof boundaryNode>>;
