// The node's published image name lives in ONE place: the image line of recipe/compose.yml (what abra deploys).
// The release command, the forge's CI and the recipe README are checked against it (test/unit/release-image-name.test.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const RECIPE_COMPOSE = path.join(REPO_ROOT, 'recipe', 'compose.yml');

export type ImageName = {
  /** `git.coopcloud.tech/lores-node`: where releases are pushed (registry host and namespace). */
  registry: string;
  /** `lores-node`: the repository's last part. */
  name: string;
  /** The tag in compose.yml: the node version this recipe release deploys. */
  tag: string;
};

export function recipeImage(composeText = readFileSync(RECIPE_COMPOSE, 'utf8')): ImageName {
  const lines = [...composeText.matchAll(/^\s*image:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
  if (lines.length !== 1) throw new Error(`recipe/compose.yml should name exactly one image (it names ${lines.length})`);
  const m = /^(.+)\/([^/:]+):([^/:]+)$/.exec(lines[0]!);
  if (!m) throw new Error(`recipe/compose.yml's image ${lines[0]} is not <registry>/<namespace>/<name>:<version>`);
  return { registry: m[1]!, name: m[2]!, tag: m[3]! };
}
