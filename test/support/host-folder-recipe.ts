// A bundled recipe for tests whose one service reads a host folder (DATA_PATH, so it reaches the host: an admin's) and
// ends with a chosen exit code (EXIT_CODE; 0 keeps it running): enough for a missing folder, a crash loop, and the
// confirmations a host-reaching app needs. Written as a plain folder; the node's bundling makes it a git checkout.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_IMAGE } from './swarm.ts';

export const HOST_FOLDER_RECIPE = 'lores-failfast';
export const HOST_FOLDER_VERSION = '1.0.0+1';

/** Writes the recipe into `dir` (a BUNDLED_RECIPES_DIR). */
export function writeHostFolderRecipe(dir: string): void {
  const tree = path.join(dir, HOST_FOLDER_RECIPE, HOST_FOLDER_VERSION);
  mkdirSync(tree, { recursive: true });
  writeFileSync(path.join(tree, 'compose.yml'), `version: "3.8"
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "if [ \\"$$EXIT_CODE\\" != 0 ]; then exit $$EXIT_CODE; fi; trap 'exit 0' TERM; while true; do sleep 1; done"]
    environment:
      - EXIT_CODE=\${EXIT_CODE:-0}
    volumes:
      - type: bind
        source: \${DATA_PATH}
        target: /data
        read_only: true
    deploy:
      replicas: 1
      restart_policy:
        condition: on-failure
        delay: 1s
      labels:
        - "coop-cloud.\${STACK_NAME}.version=${HOST_FOLDER_VERSION}"
        - "coop-cloud.\${STACK_NAME}.timeout=\${TIMEOUT:-120}"
    stop_grace_period: 2s
`);
  writeFileSync(path.join(tree, '.env.sample'), `TYPE=${HOST_FOLDER_RECIPE}

DOMAIN=${HOST_FOLDER_RECIPE}.example.com

## The host folder the app reads
DATA_PATH=/tmp

## The exit code the app ends with as it starts (0: it keeps running)
EXIT_CODE=0

COMPOSE_FILE="compose.yml"
`);
  writeFileSync(path.join(tree, 'README.md'), 'A test recipe: a folder to read and an exit code.\n');
}
