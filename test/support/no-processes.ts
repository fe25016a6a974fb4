// Set-up file of the "unit" project: unit tests are pure and fast, so starting any process (docker, git, bash,
// kiwix-serve, node) fails the test that tries, naming the program. Such tests belong in test/integration/.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

const refuse = (name: string) =>
  function (this: unknown, file: unknown): never {
    throw new Error(`unit tests start no processes (${name} ${String(file)}): move this test to test/integration/`);
  };

for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  (childProcess as unknown as Record<string, unknown>)[name] = refuse(name);
}
// ESM `import { spawn } from 'node:child_process'` (execa's too) reads the live bindings: update them.
syncBuiltinESMExports();
