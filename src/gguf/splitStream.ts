import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { outputTarget, tempDone, tempPath, writeFailure } from '../util/files.js';
import { GgufError } from './errors.js';
import type { SplitPiece, SplitPlan } from './split.js';

/** The bytes [start, end] (inclusive) of one piece, read from the source for a file range. */
async function* pieceBytes(source: string, p: SplitPiece, start: number, end: number): AsyncGenerator<Uint8Array> {
  if (p.kind === 'bytes') { yield p.data.subarray(start, end + 1); return; }
  let got = 0;
  for await (const chunk of createReadStream(source, { start: p.offset + start, end: p.offset + end })) {
    got += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  // A source cut short since the plan was made would give a part with its tensors in the wrong place.
  if (got !== end - start + 1) throw new GgufError(`${source} changed while its parts were made (${got} of ${end - start + 1} bytes at byte ${p.offset + start}); make them again`);
}

async function* partBytes(plan: SplitPlan, index: number, start: number, end: number): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const p of plan.parts[index].pieces) {
    const length = p.kind === 'bytes' ? p.data.length : p.length;
    const [from, to] = [Math.max(start, at), Math.min(end, at + length - 1)];
    if (from <= to) yield* pieceBytes(plan.source, p, from - at, to - at);
    at += length;
  }
}

/**
 * One part's bytes, or bytes [start, end] of it (end inclusive, as an HTTP Range), made as they are sent: the
 * page's server gives a model's parts to the browser without writing them to disk.
 */
export function partStream(plan: SplitPlan, index: number, range?: { start: number; end: number }): Readable {
  const part = plan.parts[index];
  if (!part) throw new RangeError(`part ${index} of ${plan.parts.length}`);
  const { start, end } = range ?? { start: 0, end: part.size - 1 };
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end < part.size && start <= end + 1)) {
    throw new RangeError(`bytes ${start}-${end} of a part of ${part.size}`);
  }
  return Readable.from(partBytes(plan, index, start, end), { objectMode: false });
}

/**
 * Write every part into `dir`. All are written to temp files first and renamed only when all are complete: an
 * error, an abort or Ctrl-C (tempPath's handler) leaves no part, so never a model missing one.
 */
export async function writeSplit(plan: SplitPlan, dir: string, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<string[]> {
  const targets = plan.parts.map((p) => outputTarget(join(dir, p.name)));
  const temps: string[] = [];
  const total = plan.parts.reduce((n, p) => n + p.size, 0);
  let done = 0;
  try {
    for (const [i, target] of targets.entries()) {
      const tmp = tempPath(target);
      temps.push(tmp);
      const counted = new Transform({
        transform(chunk: Buffer, _enc, cb) { done += chunk.length; onProgress?.(done, total); cb(null, chunk); },
      });
      try {
        await pipeline(partStream(plan, i), counted, createWriteStream(tmp), { signal });
      } catch (e) {
        if ((e as Error).name === 'AbortError' || e instanceof GgufError) throw e;
        throw writeFailure(target, e);
      }
    }
    for (const [i, tmp] of temps.entries()) {
      try { await rename(tmp, targets[i]); } catch (e) { throw writeFailure(targets[i], e); }
    }
    return targets;
  } finally {
    for (const tmp of temps) { await rm(tmp, { force: true }); tempDone(tmp); }
  }
}
