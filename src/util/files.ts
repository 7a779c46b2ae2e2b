import { existsSync, lstatSync, readFileSync, readlinkSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';

/**
 * The file an output named `path` really is. Renaming a temp file over a symlink replaces the link with a
 * regular file (the user's `out.jsonl -> /data/big/out.jsonl` silently became a file here), so a link is
 * followed and its target written instead; a target that is not a regular file (a link to /dev/full, a
 * FIFO, a folder) is refused rather than replaced. A link to a file not there yet creates that file.
 */
export function outputTarget(path: string): string {
  let p = path;
  for (let hops = 0; ; hops++) {
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return p;
      throw writeFailure(path, e);
    }
    if (st.isSymbolicLink()) {
      if (hops >= 40) throw new UserError(`cannot write ${path}: too many levels of symbolic links`);
      p = resolve(dirname(p), readlinkSync(p));
      continue;
    }
    if (st.isFile()) return p;
    const what = st.isDirectory() ? 'a folder' : 'not a regular file (a device, pipe or socket)';
    throw new UserError(`cannot write ${path}: ${p === path ? 'it is' : `it links to ${p}, which is`} ${what}; give a file name`);
  }
}

let temps = 0;

/**
 * Temp files being written now. Ctrl-C ends a process without running `finally` blocks, so a long write (data
 * convert, gguf set, extend-context) left its hidden temp file, as big as the output, beside it; these are
 * removed on SIGINT / SIGTERM and at exit.
 */
const live = new Set<string>();

function removeLive() {
  for (const t of live) rmSync(t, { force: true });
  live.clear();
}

function onSignal(sig: NodeJS.Signals) {
  removeLive();
  // Alone, act as Node's default does and die by the signal (exit status 130 for SIGINT). A command with a
  // handler of its own (chat, eval, serve) decides; whatever it writes after this fails, as the temp is gone.
  if (process.listenerCount(sig) === 1) {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    process.kill(process.pid, sig);
  }
}

function track(tmp: string) {
  if (!live.size) process.on('SIGINT', onSignal).on('SIGTERM', onSignal).on('exit', removeLive);
  live.add(tmp);
}

/** The temp file from tempPath was renamed or removed: nothing to clean up any more. */
export function tempDone(tmp: string) {
  live.delete(tmp);
  if (!live.size) process.off('SIGINT', onSignal).off('SIGTERM', onSignal).off('exit', removeLive);
}

/**
 * The temp file a write of `target` goes to before its rename: beside it (so the rename is atomic), hidden, and
 * its own even when one process writes the same target twice at once (two test models of one name did, and the
 * second write truncated the first one's file under it).
 */
export function tempPath(target: string): string {
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${++temps}.tmp`);
  track(tmp);
  return tmp;
}

/**
 * Write a file so that readers see the old content or the new, never half: temp file, then rename. A
 * symlink is written through (see outputTarget).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array) {
  const target = outputTarget(path);
  const tmp = tempPath(target);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeFailure(path, e);
  } finally {
    tempDone(tmp);
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
/** Node's messages name the syscall and repeat the path ("ELOOP: too many symbolic links encountered, stat '…'"). */
const READ_ERRORS: Record<string, string> = {
  ELOOP: 'its symbolic links form a loop',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of its path is not a folder',
  ENAMETOOLONG: 'the name is too long',
};

export function regularFileSize(path: string, what = 'file'): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `no such ${what}: ${path}` : `cannot read ${path}: ${READ_ERRORS[code ?? ''] ?? code ?? (e as Error).message}`);
  }
  if (st.isDirectory()) throw new UserError(`${path} is a folder, not a ${what}`);
  if (!st.isFile()) throw new UserError(`${path} is not a regular file (a pipe, socket or device); give a ${what} on disk`);
  return st.size;
}

/**
 * A small text file read whole (a config.json, a chat template, a messages file), after regularFileSize: a FIFO
 * named config.json blocked estimate and extend-context for ever, and a link to /dev/zero took them past 5 GB.
 * Files of this kind are kilobytes; `max` bounds the memory anything else could take.
 */
export function readSmallFile(path: string, what: string, max = 16 << 20): string {
  const size = regularFileSize(path, what);
  if (size > max) throw new UserError(`${path} is ${(size / (1 << 20)).toFixed(1)} MiB, too big for a ${what} (at most ${max >> 20} MiB)`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${path}: ${READ_ERRORS[code ?? ''] ?? code ?? (e as Error).message}`);
  }
}

/** Whether two paths are one file (through links, hard links too); false when either does not exist. */
export function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/**
 * Free bytes on the disk that holds `path` (or its nearest existing parent, for an output not made yet);
 * undefined where the platform cannot say. LLAMA3ZH_TEST_FREE_BYTES stands in for a full disk in the tests.
 */
export function freeBytes(path: string): number | undefined {
  const fake = process.env.LLAMA3ZH_TEST_FREE_BYTES;
  if (fake !== undefined) return Number(fake);
  let probe = resolve(path);
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    const s = statfsSync(probe);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
