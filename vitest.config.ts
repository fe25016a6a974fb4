import { defineConfig } from 'vitest/config';

// Fast pure logic, programs and the in-process app against real SQLite and Docker, a real browser, and tests that restart dockerd.
export default defineConfig({
  test: {
    projects: [
      // Pure and fast: no Docker, no processes (test/support/no-processes.ts refuses them), no network beyond 127.0.0.1.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', setupFiles: ['test/support/no-processes.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/contract/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 90_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        // Restarts the Docker daemon: run on its own, after the other projects (see package.json "test").
        test: {
          name: 'disruptive',
          include: ['test/disruptive/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Builds the node's image and deploys recipe/ on the real swarm (minutes): on its own, after the others.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
