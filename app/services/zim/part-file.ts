// The part file on disk: opened safely, and published into the library once verified (atomically, durably).
import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { diskError, ZimDownloadError } from './download-errors.ts';
import type { Checked } from './download-options.ts';

export const partFileName = (fileName: string) => `${fileName}.part`;

export async function openPart(part: string): Promise<FileHandle> {
  try {
    // O_NOFOLLOW: a part file planted as a symlink must not make root write, chmod or truncate its target.
    return await fsp.open(part, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o644);
  } catch (err) {
    throw diskError(err, path.basename(part));
  }
}

export async function publish(part: string, dest: string, o: Pick<Checked, 'fileName' | 'replace'>): Promise<void> {
  try {
    if (o.replace) {
      await fsp.rename(part, dest); // atomic: readers see the old file or the new one, never a mix
      return;
    }
    try {
      // link() refuses to overwrite, atomically, where an exists-check-then-rename could race.
      await fsp.link(part, dest);
      await fsp.unlink(part);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new ZimDownloadError('exists', `${o.fileName} appeared in the library during the download; the verified download is kept as ${path.basename(part)}.`);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
      // File systems without hard links (exFAT/FAT USB disks): check, then rename.
      if ((await fileSize(dest, -1)) >= 0) throw new ZimDownloadError('exists', `${o.fileName} appeared in the library during the download.`);
      await fsp.rename(part, dest);
    }
  } catch (err) {
    throw err instanceof ZimDownloadError ? err : diskError(err, o.fileName);
  }
}

/** Make the rename durable: a power cut right after must not bring the part file back. */
export async function syncDir(dir: string): Promise<void> {
  const d = await fsp.open(dir, 'r').catch(() => undefined);
  await d?.sync().catch(() => undefined);
  await d?.close().catch(() => undefined);
}

export async function fileSize(file: string, missing = 0): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw err;
  }
}
