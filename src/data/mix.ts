import { UserError } from '../errors.js';
import type { Format, FormatName } from './formats/index.js';
import type { ReadLimits } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { openDataset, Problems, Tally } from './dataset.js';
import { seededRandom, selection, shuffle } from './random.js';
import { RowError, Unrepresentable } from './record.js';

export interface MixSource { path: string; weight: number }
export interface MixSourceReport {
  path: string; format: FormatName; weight: number; usable: number; taken: number; rejected: Problems; dropped: Tally;
  /** The source's rows the target format keeps with something left out (text beside a tool call, the tools…), by what. */
  lost: Tally;
}
export interface MixReport { to: FormatName; written: number; sources: MixSourceReport[] }

/** "data/a.jsonl:0.5" → {path, weight}; no ":number" suffix means weight 1. */
export function parseMixSource(arg: string): MixSource {
  const m = /^(.*):([^:]*)$/.exec(arg);
  if (m && m[1] && /^\s*[\d.eE+-]+\s*$/.test(m[2])) {
    const w = Number(m[2]);
    if (!Number.isFinite(w) || w < 0) throw new UserError(`${arg}: the weight after ':' must be a number ≥ 0`, 2);
    return { path: m[1], weight: w };
  }
  return { path: arg, weight: 1 };
}

/** n split by weight into whole counts that sum to n exactly (largest remainders get the leftovers). */
export function apportion(n: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) throw new UserError('the weights add up to 0; give at least one source a weight above 0', 2);
  const exact = weights.map((w) => (n * w) / sum);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) { if (left-- <= 0) break; out[i]++; }
  return out;
}

/**
 * n rows drawn from several datasets in proportion to their weights, converted to one format and
 * shuffled together. A source with fewer rows than its share is repeated (each row the same number of
 * times, the remainder drawn at random). Two passes per source (count, then draw); the n output rows are
 * held in memory to shuffle them.
 */
export async function mixFiles(sources: MixSource[], output: string, o: { n: number; seed: number; to?: Format; read?: ReadLimits }): Promise<MixReport> {
  const rand = seededRandom(o.seed);
  const reports: MixSourceReport[] = [];
  let to = o.to;
  // Pass 1: what each source can give.
  for (const s of sources) {
    const ds = await openDataset(s.path, { read: o.read });
    to ??= ds.format;
    const rep: MixSourceReport = { path: s.path, format: ds.format.name, weight: s.weight, usable: 0, taken: 0, rejected: new Problems(), dropped: new Tally(), lost: new Tally() };
    const target = to;
    for await (const batch of ds.batches) {
      for (const r of batch) {
        if (rep.rejected.addIfBroken(r)) continue;
        try { target.write(ds.format.read(r.value), (what) => rep.lost.add(what)); rep.usable++; } catch (e) {
          if (e instanceof RowError) rep.rejected.add({ line: r.line, reason: e.message });
          else if (e instanceof Unrepresentable) rep.dropped.add(e.message);
          else throw e;
        }
      }
    }
    reports.push(rep);
  }
  const shares = apportion(o.n, sources.map((s) => s.weight));
  shares.forEach((k, i) => {
    if (k > 0 && reports[i].usable === 0) throw new UserError(`${sources[i].path} has no rows usable as ${to!.name}; give it weight 0 or leave it out`);
  });
  // Pass 2: draw.
  const rows: string[] = [];
  for (let i = 0; i < sources.length; i++) {
    const k = shares[i];
    const rep = reports[i];
    if (k === 0) continue;
    const copies = Math.floor(k / rep.usable);
    const pick = selection(k - copies * rep.usable, rep.usable, rand);
    const ds = await openDataset(sources[i].path, { read: o.read });
    for await (const batch of ds.batches) {
      for (const r of batch) {
        if (r.reason !== undefined) continue;
        let json: string;
        try { json = JSON.stringify(to!.write(ds.format.read(r.value), () => {})); } catch { continue; }
        const times = copies + (pick.take() ? 1 : 0);
        for (let t = 0; t < times; t++) rows.push(json);
      }
    }
    rep.taken = k;
  }
  shuffle(rows, rand);
  const sink = new RowSink(output, { columns: to!.fields });
  await withSinks([sink], async () => { for (const r of rows) sink.writeJson(r); });
  return { to: to!.name, written: sink.count, sources: reports };
}
