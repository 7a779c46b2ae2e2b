import type { Format, FormatName } from './formats/index.js';
import { openDataset, Problems } from './dataset.js';
import type { ReadLimits } from './io/limits.js';
import { type DataRecord, recordTexts, RowError } from './record.js';
import { textOf } from './text.js';
import { type CharCounts, countChars } from './textMeasure.js';

export interface Bin { from: number; to: number; count: number }

export interface StatsReport {
  format: FormatName;
  rows: number;
  /** Rows counted (the others were broken or not of the format). */
  counted: number;
  rejected: Problems;
  turns: number;
  withSystem: number;
  pairs: number;
  tools: ToolCounts;
  chars: CharCounts;
  /** What the lengths below count: Llama-3 tokens, or characters with --no-tokens. */
  unit: 'tokens' | 'characters';
  total: number;
  min: number;
  max: number;
  mean: number;
  percentiles: Record<'p50' | 'p90' | 'p95' | 'p99', number>;
  cutoff: number;
  overCutoff: number;
  histogram: Bin[];
}

/** Tool use: rows that define tools, the calls made, and the results the tools gave. */
export interface ToolCounts {
  /** Rows whose tools list is not empty. */
  rows: number;
  /** Function calls (each call of a parallel turn counts). */
  calls: number;
  /** Turns that make more than one call at once. */
  parallel: number;
  /** Tool result turns (LLaMA-Factory's observations). */
  observations: number;
  /** Distinct function names defined in the tools lists, and distinct names called. */
  names: number;
  called: number;
}

class ToolTally {
  c = { rows: 0, calls: 0, parallel: 0, observations: 0 };
  private defined = new Set<string>();
  private called = new Set<string>();
  add(r: DataRecord) {
    if (r.kind === 'text') return;
    if (r.tools?.length) { this.c.rows++; for (const t of r.tools) this.defined.add(textOf(t.name)); }
    for (const t of r.kind === 'chat' ? r.turns : r.prompt) {
      if (t.role === 'tool') this.c.observations++;
      if (t.role !== 'call') continue;
      this.c.calls += t.calls.length;
      if (t.calls.length > 1) this.c.parallel++;
      for (const call of t.calls) this.called.add(textOf(call.name));
    }
  }
  counts(): ToolCounts { return { ...this.c, names: this.defined.size, called: this.called.size }; }
}

/** A growable list of row lengths: 4 bytes a row, so ten million rows take 40 MB. */
class Lengths {
  a = new Uint32Array(1 << 16);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) { const b = new Uint32Array(this.a.length * 2); b.set(this.a); this.a = b; }
    this.a[this.n++] = v;
  }
  sorted() { return this.a.slice(0, this.n).sort(); }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Uint32Array, p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Bins that double in width ([0,32), [32,64), [64,128), …) up to the longest row: lengths have long tails. */
export function histogram(sorted: Uint32Array, first = 32): Bin[] {
  if (!sorted.length) return [];
  const max = sorted[sorted.length - 1];
  const bins: Bin[] = [{ from: 0, to: first, count: 0 }];
  while (bins[bins.length - 1].to <= max) { const last = bins[bins.length - 1].to; bins.push({ from: last, to: last * 2, count: 0 }); }
  let b = 0;
  for (const v of sorted) { while (v >= bins[b].to) b++; bins[b].count++; }
  return bins;
}

export async function statsFile(input: string, o: { from?: Format; tokens: boolean; cutoff: number; onBytes?: (n: number) => void; read?: ReadLimits }): Promise<StatsReport> {
  const ds = await openDataset(input, { from: o.from, onBytes: o.onBytes, read: o.read });
  const lengths = new Lengths();
  const chars: CharCounts = { chars: 0, nonSpace: 0, han: 0 };
  const rejected = new Problems();
  const tools = new ToolTally();
  let rows = 0, turns = 0, withSystem = 0, pairs = 0, total = 0;
  // The tokenizer loads the 128k-token vocabulary (~0.5 s): only when tokens are counted.
  const measure = o.tokens ? (await import('./tokens.js')).llama3Tokens : (r: DataRecord) => {
    const c = { chars: 0, nonSpace: 0, han: 0 };
    for (const t of recordTexts(r)) countChars(t, c);
    return c.chars;
  };
  for await (const batch of ds.batches) {
    rows += batch.length;
    for (const raw of batch) {
      if (rejected.addIfBroken(raw)) continue;
      let r: DataRecord;
      try { r = ds.format.read(raw.value); } catch (e) {
        if (e instanceof RowError) { rejected.add({ line: raw.line, reason: e.message }); continue; }
        throw e;
      }
      if (r.kind === 'chat') turns += r.turns.length;
      if (r.kind === 'pair') { pairs++; turns += r.prompt.length + 1; }
      if (r.kind !== 'text' && r.system) withSystem++;
      tools.add(r);
      for (const t of recordTexts(r)) countChars(t, chars);
      const len = measure(r);
      total += len;
      lengths.push(len);
    }
  }
  const sorted = lengths.sorted();
  return {
    format: ds.format.name, rows, counted: sorted.length, rejected, turns, withSystem, pairs, tools: tools.counts(), chars,
    unit: o.tokens ? 'tokens' : 'characters', total,
    min: sorted.length ? sorted[0] : 0, max: sorted.length ? sorted[sorted.length - 1] : 0, mean: sorted.length ? total / sorted.length : 0,
    percentiles: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
    cutoff: o.cutoff, overCutoff: sorted.length - lowerBound(sorted, o.cutoff + 1), histogram: histogram(sorted),
  };
}

/** Index of the first value ≥ v. */
function lowerBound(sorted: Uint32Array, v: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (sorted[m] < v) lo = m + 1; else hi = m; }
  return lo;
}
