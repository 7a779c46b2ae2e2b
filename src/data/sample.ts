import type { ReadLimits } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { readRows } from './io/source.js';
import { Problems } from './dataset.js';
import { seededRandom, selection } from './random.js';

export interface SampleReport { rows: number; valid: number; written: number; rejected: Problems }

/** Rows that parse as JSON objects are the ones sampled; broken ones are reported and skipped. */
export async function countValid(input: string, rejected?: Problems, read?: ReadLimits): Promise<{ rows: number; valid: number }> {
  let rows = 0, valid = 0;
  for await (const batch of readRows(input, { read })) {
    rows += batch.length;
    for (const r of batch) {
      if (r.reason === undefined) valid++;
      else rejected?.add({ line: r.line, column: r.column, reason: r.reason });
    }
  }
  return { rows, valid };
}

/**
 * Exactly n rows (or all, when the file has fewer), chosen uniformly by reservoir sampling in one pass:
 * memory holds n rows, not the file. They are written in file order. The same seed gives the same rows.
 */
export async function sampleN(input: string, output: string, n: number, seed: number, read?: ReadLimits): Promise<SampleReport> {
  const rand = seededRandom(seed);
  const keep: { i: number; json: string }[] = [];
  const rejected = new Problems();
  let rows = 0, valid = 0;
  for await (const batch of readRows(input, { read })) {
    rows += batch.length;
    for (const r of batch) {
      if (rejected.addIfBroken(r)) continue;
      if (valid < n) keep.push({ i: valid, json: JSON.stringify(r.value) });
      else {
        const j = Math.floor(rand() * (valid + 1));
        if (j < n) keep[j] = { i: valid, json: JSON.stringify(r.value) };
      }
      valid++;
    }
  }
  keep.sort((a, b) => a.i - b.i);
  const sink = new RowSink(output);
  await withSinks([sink], async () => { for (const k of keep) sink.writeJson(k.json); });
  return { rows, valid, written: keep.length, rejected };
}

/**
 * round(fraction × rows) rows exactly: a first pass counts, a second picks by selection sampling,
 * streaming to the output in file order with nothing held in memory.
 */
export async function sampleFraction(input: string, output: string, fraction: number, seed: number, read?: ReadLimits): Promise<SampleReport> {
  const rejected = new Problems();
  const { rows, valid } = await countValid(input, rejected, read);
  const pick = selection(Math.round(fraction * valid), valid, seededRandom(seed));
  const sink = new RowSink(output);
  await withSinks([sink], async () => {
    for await (const batch of readRows(input, { read })) for (const r of batch) if (r.reason === undefined && pick.take()) sink.writeJson(JSON.stringify(r.value));
  });
  return { rows, valid, written: sink.count, rejected };
}
