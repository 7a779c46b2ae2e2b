import type { ReadLimits } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { readRows } from './io/source.js';
import { Problems } from './dataset.js';
import { seededRandom, selection } from './random.js';
import { countValid } from './sample.js';

export interface SplitReport { rows: number; valid: number; train: number; val: number; rejected: Problems }

/** A validation set of exactly `val` rows (a count, or a fraction of the rows), the rest for training; both in file order. */
export async function splitFile(input: string, o: { val: number; seed: number; train: string; valid: string; read?: ReadLimits }): Promise<SplitReport> {
  const rejected = new Problems();
  const { rows, valid } = await countValid(input, rejected, o.read);
  const k = o.val < 1 ? Math.round(o.val * valid) : Math.min(o.val, valid);
  const pick = selection(k, valid, seededRandom(o.seed));
  const train = new RowSink(o.train);
  const val = new RowSink(o.valid);
  await withSinks([train, val], async () => {
    for await (const batch of readRows(input, { read: o.read })) {
      for (const r of batch) if (r.reason === undefined) (pick.take() ? val : train).writeJson(JSON.stringify(r.value));
    }
  });
  return { rows, valid, train: train.count, val: val.count, rejected };
}
