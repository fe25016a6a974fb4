// The ZIM files in a Kiwix app's folder: what is on disk, what kiwix-serve has in its library right now, removing
// one without pulling it from under a reader, and which have a newer dated file in the catalogue.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { zimFileNameSchema, type ZimEntry } from '../../adapters/kiwix/opds.ts';
import { execRead, runningContainerOf } from '../../adapters/docker/exec.ts';
import { partFileName } from './part-file.ts';
import { UserFacingError } from '../../errors.ts';
import { parseOrRefuse } from '../../validation.ts';

export type ZimFile = { fileName: string; size: number; modifiedAt: number };
export type PartFile = { fileName: string; bytes: number };

/** Where the Kiwix recipe keeps the library it builds from the folder (recipes/kiwix/entrypoint.sh). */
const KIWIX_LIBRARY = '/tmp/library.xml';
/** The port kiwix-serve listens on inside its container (the recipe's entrypoint.sh and healthcheck). */
const KIWIX_PORT = 8080;
/** The recipe rebuilds its library every few seconds; removal waits this long at most for it to let go. */
const UNREGISTER_WAIT_MS = 30_000;
/** `<file>.removing-<random>`: unique, so two removals of files with the same name never collide. */
const REMOVING = /\.zim\.removing-[0-9a-f]{8}$/;
const STALE_REMOVAL_MS = 10 * 60_000;

export const zimName = (value: unknown, label = 'The ZIM file') => parseOrRefuse(zimFileNameSchema, value, { value: label });

/** `*.zim` files and unfinished `*.zim.part` downloads in the folder; a file that vanishes meanwhile is left out. */
export async function filesIn(dir: string): Promise<{ zims: ZimFile[]; parts: PartFile[] }> {
  const zims: ZimFile[] = [];
  const parts: PartFile[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    // Publishing, removing or discarding renames files while we look: a missing one is simply gone.
    const st = await fsp.stat(path.join(dir, entry.name)).catch(() => undefined);
    if (!st) continue;
    if (zimFileNameSchema.safeParse(entry.name).success) {
      zims.push({ fileName: entry.name, size: st.size, modifiedAt: st.mtimeMs });
    } else if (entry.name.endsWith('.zim.part') && zimFileNameSchema.safeParse(entry.name.slice(0, -5)).success) {
      parts.push({ fileName: entry.name.slice(0, -5), bytes: st.size });
    } else if (REMOVING.test(entry.name) && Date.now() - st.mtimeMs > STALE_REMOVAL_MS) {
      // A removal cut off by a restart left this behind: it is no longer served, so finish the job.
      await fsp.unlink(path.join(dir, entry.name)).catch(() => undefined);
    }
  }
  return { zims: zims.sort((a, b) => a.fileName.localeCompare(b.fileName)), parts };
}

/**
 * A book in Kiwix's library file: its ZIM's own metadata and, once kiwix-serve has loaded it (`served`), where it
 * shows it (a path on the app's address). kiwix-serve reloads the file a few seconds after the recipe rewrites it.
 */
export type ServedBook = { fileName: string; id: string; title: string; language: string; date: string; name: string; served: boolean; urlPath?: string };

const unescapeXml = (s: string) =>
  s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_m, name: string, dec?: string, hex?: string) =>
    dec ? String.fromCodePoint(Number(dec)) : hex ? String.fromCodePoint(parseInt(hex, 16)) : ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[name]!,
  );
const attributesOf = (tag: string) => Object.fromEntries([...tag.matchAll(/([A-Za-z]+)="([^"]*)"/g)].map((m) => [m[1]!, unescapeXml(m[2]!)]));

/** The books of a kiwix-manage library file (`<book id path title language date name …/>`), by file name. */
export function booksInLibrary(xml: string): Map<string, Omit<ServedBook, 'served' | 'urlPath'>> {
  const books = new Map<string, Omit<ServedBook, 'served' | 'urlPath'>>();
  for (const m of xml.matchAll(/<book\s[^>]*>/g)) {
    const a = attributesOf(m[0]);
    if (!a.path) continue;
    const fileName = path.posix.basename(a.path);
    books.set(fileName, { fileName, id: a.id ?? '', title: a.title ?? '', language: a.language ?? '', date: a.date ?? '', name: a.name ?? '' });
  }
  return books;
}

/**
 * Where kiwix-serve shows each book, from its own OPDS catalogue: the entry's `text/html` link, by book id. Its
 * versions differ (3.3 serves `/<book>`, 3.8 `/content/<book>`), so the node asks rather than guesses.
 */
export function bookLinks(opds: string): Map<string, string> {
  const links = new Map<string, string>();
  for (const entry of opds.split('<entry>').slice(1)) {
    const id = /<id>\s*urn:uuid:([^<\s]+)\s*<\/id>/.exec(entry)?.[1];
    const link = [...entry.matchAll(/<link\s[^>]*>/g)].map((l) => attributesOf(l[0])).find((l) => l.type === 'text/html' && l.href);
    if (id && link?.href?.startsWith('/')) links.set(id, link.href);
  }
  return links;
}

async function libraryXml(docker: Docker, stack: string): Promise<{ container: string; xml: string } | undefined> {
  try {
    const container = await runningContainerOf(docker, `${stack}_app`);
    if (!container) return undefined;
    return { container, xml: await execRead(docker, container, ['cat', KIWIX_LIBRARY]) };
  } catch {
    return undefined;
  }
}

/**
 * File names kiwix-serve serves now (its catalogue lists them), read from the running container; undefined when no
 * container runs (the app is stopped or not deployed) or it cannot be read.
 */
async function servedBy(docker: Docker, stack: string): Promise<Set<string> | undefined> {
  const books = await servedBooks(docker, stack);
  return books && new Set([...books.values()].filter((b) => b.served).map((b) => b.fileName));
}

/**
 * The books of the library file, each with whether kiwix-serve serves it yet and where; undefined as for servedBy.
 * A book is served once kiwix-serve's own catalogue lists it: the library file changes first, and a link handed out
 * before kiwix-serve reloads it would open a "not found" page. When the catalogue cannot be read (kiwix-serve still
 * starting, or too slow to answer) no book counts as served yet: the next look, or the download's wait, tells.
 */
export async function servedBooks(docker: Docker, stack: string): Promise<Map<string, ServedBook> | undefined> {
  const lib = await libraryXml(docker, stack);
  if (!lib) return undefined;
  const books = booksInLibrary(lib.xml);
  const links = books.size
    ? await execRead(docker, lib.container, ['wget', '-q', '-O', '-', `http://127.0.0.1:${KIWIX_PORT}/catalog/v2/entries?count=-1`]).then(bookLinks, () => undefined)
    : new Map<string, string>();
  return withLinks(books, links);
}

/** The library file's books joined with kiwix-serve's catalogue links (undefined: the catalogue could not be read). */
export function withLinks(books: Map<string, Omit<ServedBook, 'served' | 'urlPath'>>, links: Map<string, string> | undefined): Map<string, ServedBook> {
  return new Map(
    [...books].map(([f, b]) => {
      const urlPath = links?.get(b.id);
      return [f, { ...b, served: urlPath !== undefined, ...(urlPath ? { urlPath } : {}) }];
    }),
  );
}

async function waitUntil(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until kiwix-serve lists the file (a fresh download); no running Kiwix or no listing in time says so. */
export async function waitServed(docker: Docker, stack: string, fileName: string, ms = 60_000): Promise<'served' | 'not running' | 'not yet'> {
  let running = true;
  const served = await waitUntil(async () => {
    const names = await servedBy(docker, stack);
    running = names !== undefined;
    return !running || names!.has(fileName);
  }, ms);
  return !running ? 'not running' : served ? 'served' : 'not yet';
}

/**
 * Unregisters first, then deletes: the file is renamed away from `*.zim` so the recipe drops it from the library,
 * and only once kiwix-serve no longer lists it (or no Kiwix runs) is it deleted.
 */
export async function removeZim(docker: Docker, stack: string, dir: string, fileName: string): Promise<{ unregisteredFirst: boolean }> {
  const file = path.join(dir, fileName);
  const away = `${file}.removing-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(file, away);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserFacingError(`${fileName} is not in this library.`, 404);
    throw err;
  }
  const served = await servedBy(docker, stack);
  const unregisteredFirst = served === undefined || !served.has(fileName) || (await waitUntil(async () => !(await servedBy(docker, stack))?.has(fileName), UNREGISTER_WAIT_MS));
  await fsp.unlink(away);
  return { unregisteredFirst };
}

/** `wikipedia_en_all_maxi_2024-01.zim` → the name without its date, and the date. */
export function datedName(fileName: string): { base: string; date: string } | undefined {
  const m = /^(.+)_(\d{4}-\d{2})\.zim$/.exec(fileName);
  return m ? { base: m[1]!, date: m[2]! } : undefined;
}

/** For each file on disk, a newer dated file of the same name in the catalogue entries at hand. */
export function updatesFor(zims: ZimFile[], entries: ZimEntry[]): Map<string, ZimEntry> {
  const newest = new Map<string, { date: string; entry: ZimEntry }>();
  for (const e of entries) {
    const d = datedName(e.fileName);
    if (d && (newest.get(d.base)?.date ?? '') < d.date) newest.set(d.base, { date: d.date, entry: e });
  }
  const updates = new Map<string, ZimEntry>();
  for (const z of zims) {
    const d = datedName(z.fileName);
    const n = d && newest.get(d.base);
    if (d && n && n.date > d.date) updates.set(z.fileName, n.entry);
  }
  return updates;
}

export { partFileName };
