// Tests that need Docker or Chromium: in CI (CI=true) a missing one fails loudly; on a laptop it skips with a reason.
import { existsSync } from 'node:fs';
import Docker from 'dockerode';

export const inCI = process.env.CI === 'true';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';

async function dockerAnswers(): Promise<string | undefined> {
  try {
    await new Docker({ socketPath: DOCKER_SOCKET, timeout: 3000 }).ping();
    return undefined;
  } catch (err) {
    return `Docker does not answer on ${DOCKER_SOCKET}: ${(err as Error).message}`;
  }
}

/** Resolves to true when Docker is there; in CI throws so the suite fails instead of skipping. */
export async function haveDocker(): Promise<boolean> {
  const problem = await dockerAnswers();
  if (!problem) return true;
  if (inCI) throw new Error(`${problem}. CI must start dockerd (see .ci/run).`);
  console.warn(`SKIPPING Docker tests: ${problem}`);
  return false;
}

export function haveChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const problem = `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  if (inCI) throw new Error(`${problem}. CI must install it (see .ci/run).`);
  console.warn(`SKIPPING browser tests: ${problem}`);
  return false;
}
