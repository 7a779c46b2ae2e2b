import { isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';

/**
 * A file name from a hub, checked before it becomes a path on this disk: relative, forward
 * slashes, no "." or ".." segments, no drive letters or control characters. A hub (or a mirror in
 * between) that sends anything else is refused, so a listing cannot write outside the store.
 */
export function checkHubPath(p: unknown): string {
  const bad = (why: string) => new UserError(`refusing the file name ${JSON.stringify(p)} from the hub: ${why}`);
  if (typeof p !== 'string' || p === '') throw bad('it is empty');
  if (p.length > 1024) throw bad('it is too long');
  if (/[\x00-\x1f\x7f]/.test(p)) throw bad('it has control characters');
  if (p.includes('\\')) throw bad('it has a backslash');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || isAbsolute(p)) throw bad('it is an absolute path');
  if (/[:*?"<>|]/.test(p)) throw bad('it has a character file systems do not allow (: * ? " < > |)');
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw bad('it has an empty, "." or ".." segment');
    // Names Windows reserves or silently changes.
    if (/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(seg) || /[. ]$/.test(seg)) throw bad(`"${seg}" is not a usable file name on every system`);
  }
  return p;
}

/** Where a checked hub path goes under `dir`; throws if it would land anywhere else. */
export function pathInside(dir: string, hubPath: string): string {
  const full = resolve(join(dir, checkHubPath(hubPath)));
  const rel = relative(resolve(dir), full);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new UserError(`refusing the file name ${JSON.stringify(hubPath)}: it leaves ${dir}`);
  return full;
}
