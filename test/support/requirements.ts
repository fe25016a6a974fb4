// What a test needs from the machine (Docker, Chromium, a program, root): in CI (CI=true) a missing one fails loudly
// with the reason; on a laptop it skips with a warning. Nothing in the suite skips any other way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Docker from 'dockerode';

export const inCI = process.env.CI === 'true';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';

/**
 * The one gate: true when `problem` is undefined. Otherwise in CI it throws (`what` is needed: problem. fix),
 * so the file fails instead of skipping; elsewhere it warns `SKIPPING what` and returns false.
 */
export function available(what: string, problem: string | undefined, fix: string): boolean {
  if (!problem) return true;
  if (inCI) throw new Error(`${what} cannot run in CI: ${problem}. ${fix}`);
  console.warn(`SKIPPING ${what}: ${problem} (${fix})`);
  return false;
}

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
  return available('Docker tests', await dockerAnswers(), 'CI must start dockerd (see .ci/run)');
}

export function haveChromium(): boolean {
  const problem = existsSync(CHROMIUM) ? undefined : `Chromium not found at ${CHROMIUM}`;
  return available('browser tests', problem, 'apt-get install chromium; CI must install it (see .ci/setup-machine.sh)');
}

/** The first of `paths` that runs and whose `--version` says at least `minMajor`; undefined when none does. */
export function programAt(paths: string[], minMajor = 0): string | undefined {
  for (const bin of paths) {
    if (!existsSync(bin)) continue;
    const major = Number(/(\d+)\.\d+/.exec(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
    if (major >= minMajor) return bin;
  }
  return undefined;
}

/** Every program in `paths` is installed: undefined, or which ones are missing. */
export function missingPrograms(paths: string[]): string | undefined {
  const missing = paths.filter((p) => !existsSync(p));
  return missing.length ? `missing ${missing.join(', ')}` : undefined;
}
