// The node the browser tests click through: its own process, the first admin's password read from a secret file
// (as in production), the abra stand-in with its own ABRA_DIR and the given bundled recipes, the local Docker.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ABRA_DOUBLE } from './abra.ts';
import { startNode, type NodeProcess } from './server.ts';

export type BrowserNode = NodeProcess & { abraDir: string; close(): Promise<void> };

export async function browserNode(opts: { password: string; recipes: string; abraTimeoutSeconds?: number; env?: Record<string, string> }): Promise<BrowserNode> {
  const abraDir = mkdtempSync(path.join(tmpdir(), 'lores-abra-'));
  const secretDir = mkdtempSync(path.join(tmpdir(), 'lores-secret-'));
  const adminPasswordFile = path.join(secretDir, 'admin_password');
  writeFileSync(adminPasswordFile, `${opts.password}\n`, { mode: 0o600 });
  const removeDirs = () => {
    rmSync(abraDir, { recursive: true, force: true });
    rmSync(secretDir, { recursive: true, force: true });
  };
  let node: NodeProcess;
  try {
    node = await startNode({
      adminPasswordFile,
      env: {
        ABRA_DIR: abraDir,
        ABRA_BIN: ABRA_DOUBLE,
        BUNDLED_RECIPES_DIR: opts.recipes,
        DOCKER_SOCKET: '/var/run/docker.sock',
        ABRA_TIMEOUT_SECONDS: String(opts.abraTimeoutSeconds ?? 240),
        ...opts.env,
      },
    });
  } catch (err) {
    removeDirs();
    throw err;
  }
  return {
    ...node,
    abraDir,
    /** Stops the node and removes its data, abra's folder and the secret file (not the stacks it deployed). */
    async close() {
      await node.stop();
      rmSync(node.dataDir, { recursive: true, force: true });
      removeDirs();
    },
  };
}
