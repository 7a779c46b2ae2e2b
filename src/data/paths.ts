import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';

/** A file's name without its data extensions: data/train.jsonl.gz → data/train. */
export function stem(path: string): string {
  return join(dirname(path), basename(path).replace(/(\.(jsonl|ndjson|json|csv|txt|parquet))?(\.gz)?$/i, ''));
}

function real(p: string): string {
  try { return realpathSync(p); } catch { return resolve(p); }
}

/** Outputs never replace an input: the original scripts rewrote their input in place; we do not. */
export function assertNotInput(output: string, inputs: string[], flag = '-o') {
  for (const i of inputs) {
    if (real(output) === real(i)) throw new UserError(`${flag} ${output} is the input file; write to a new file (the input is never changed)`, 2);
  }
}

/** Two outputs of one command must be two files, however they are spelled (./a.jsonl and a.jsonl are one). */
export function assertDistinct(outputs: [flag: string, path: string | undefined][]) {
  const seen = new Map<string, string>();
  for (const [flag, path] of outputs) {
    if (path === undefined) continue;
    const key = real(path);
    const other = seen.get(key);
    if (other) throw new UserError(`${other} and ${flag} name the same file (${path}); give two different files`, 2);
    seen.set(key, flag);
  }
}
