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
