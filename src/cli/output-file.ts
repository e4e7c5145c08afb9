/**
 * Files the user asks the CLI to write (--save-torrent): checked before any work starts, so that a
 * path that cannot be written fails in a second, not after the whole lookup. The tool never
 * replaces a file it did not write: an existing file is refused, a directory is written into.
 */
import { constants } from 'node:fs';
import { access, lstat, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Why `path` cannot take a new file (one line naming the option and the path), or undefined if it can. */
export async function newFileProblem(path: string, option: string): Promise<string | undefined> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isDirectory() === true) return writableDirectory(path, option, path);
  if (existing !== undefined) return `${option} ${path}: the file exists; dht-scrape does not replace files (remove it, or choose another name)`;
  const parent = dirname(path);
  const folder = await stat(parent).catch(() => undefined);
  if (folder === undefined) return `${option} ${path}: the directory ${parent} does not exist`;
  if (!folder.isDirectory()) return `${option} ${path}: ${parent} is not a directory`;
  return writableDirectory(parent, option, path);
}

async function writableDirectory(directory: string, option: string, path: string): Promise<string | undefined> {
  try {
    await access(directory, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'EACCES';
    return `${option} ${path}: cannot write in ${directory} (${code})`;
  }
}
