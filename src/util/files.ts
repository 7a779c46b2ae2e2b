import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';

/** Write a file so that readers see the old content or the new, never half: temp file, then rename. */
export function writeFileAtomic(path: string, data: string | Uint8Array) {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeFailure(path, e);
  }
}

/** A failed write of a file the user named, as a one-line error that says why. */
export function writeFailure(path: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'its folder does not exist' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message;
  return new UserError(`cannot write ${path}: ${why}`);
}

/**
 * Stat a file the user named before opening it: a FIFO, a device (/dev/zero) or a folder would block `openSync`
 * or read forever, so anything but a regular file (after symlinks) is a one-line error. Returns its size in bytes.
 */
export function regularFileSize(path: string, what = 'file'): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `no such ${what}: ${path}` : `cannot read ${path}: ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw new UserError(`${path} is a folder, not a ${what}`);
  if (!st.isFile()) throw new UserError(`${path} is not a regular file (a pipe, socket or device); give a ${what} on disk`);
  return st.size;
}
