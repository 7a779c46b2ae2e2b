import { openDataset } from '../data/dataset.js';
import { sharegpt, text } from '../data/formats/index.js';
import type { DataRecord } from '../data/record.js';
import { percentile } from '../data/stats.js';

export interface LengthStats {
  rows: number;
  p50: number;
  p99: number;
  max: number;
  /** Rows longer than the cutoff. */
  over: number;
}

/**
 * Token lengths of the rows init exported (ShareGPT, as LLaMA-Factory reads them), counted with the real
 * Llama-3 tokenizer in the llama3 template's layout (data/tokens.ts): the length LLaMA-Factory cuts at cutoff_len
 * (the `default` template's plain-text roles differ by a few tokens a turn). Documents (stage pt) were exported
 * as {"text"} rows and are read as such.
 */
export async function tokenLengths(files: { path: string; kind: DataRecord['kind'] }[], cutoff: number): Promise<LengthStats> {
  const { llama3Tokens } = await import('../data/tokens.js');
  const lengths: number[] = [];
  for (const f of files) {
    const format = f.kind === 'text' ? text : sharegpt;
    const ds = await openDataset(f.path, { from: format });
    for await (const batch of ds.batches) for (const r of batch) if (r.reason === undefined) lengths.push(llama3Tokens(format.read(r.value)));
  }
  const sorted = Uint32Array.from(lengths).sort();
  return {
    rows: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1] : 0,
    over: sorted.filter((n) => n > cutoff).length,
  };
}
