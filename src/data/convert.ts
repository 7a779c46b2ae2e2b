import type { Format, FormatName } from './formats/index.js';
import type { ReadLimits } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { openDataset, Problems, Tally } from './dataset.js';
import { isObject, RowError, Unrepresentable } from './record.js';

export interface ConvertReport {
  from: FormatName;
  to: FormatName;
  rows: number;
  written: number;
  /** Rows that could not be read (broken JSON, bad shape), with line and reason. */
  rejected: Problems;
  /** Rows the target format cannot hold at all, by reason. */
  dropped: Tally;
  /** Rows written with something left out (a rejected answer, the roles), by what. */
  lost: Tally;
}

/** Convert IN to OUT in another format, streaming; OUT appears only when the whole run succeeded. */
export async function convertFile(input: string, output: string, o: { from?: Format; to: Format; onBytes?: (n: number) => void; read?: ReadLimits }): Promise<ConvertReport> {
  // Message texts move from one layout to another unchanged: read and write them as bytes.
  const ds = await openDataset(input, { from: o.from, onBytes: o.onBytes, raw: true, read: o.read });
  const sink = new RowSink(output, { columns: o.to.fields, bytes: true });
  const report: ConvertReport = { from: ds.format.name, to: o.to.name, rows: 0, written: 0, rejected: new Problems(), dropped: new Tally(), lost: new Tally() };
  const read = ds.format.read;
  const write = o.to.write;
  const lost = (what: string) => report.lost.add(what);
  // Keys the input format does not read (firefly's "category", a dataset's "source"…) are not carried over: say so.
  const known = new Set([...ds.format.fields, ...(ds.format.alsoReads ?? [])]);
  const unknown = new Map<string, string>();
  const noteKeys = (v: unknown) => {
    if (!isObject(v)) return;
    for (const k in v) {
      if (known.has(k)) continue;
      let what = unknown.get(k);
      if (!what) { what = `field ${JSON.stringify(k)} not carried over (${ds.format.name} rows do not use it)`; unknown.set(k, what); }
      report.lost.add(what);
    }
  };
  await withSinks([sink], async () => {
    for await (const batch of ds.batches) {
      report.rows += batch.length;
      for (const r of batch) {
        if (report.rejected.addIfBroken(r)) continue;
        try {
          sink.write(write(read(r.value), lost));
          noteKeys(r.value);
        } catch (e) {
          if (e instanceof RowError) report.rejected.add({ line: r.line, reason: e.message });
          else if (e instanceof Unrepresentable) report.dropped.add(`${e.message} (a ${o.to.name} row cannot hold it)`);
          else throw e;
        }
      }
    }
    report.written = sink.count;
    if (report.written === 0) sink.abort(); // no empty file that looks like a result
  });
  return report;
}
