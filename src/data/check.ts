import type { Format, FormatName } from './formats/index.js';
import type { ReadLimits } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { openDataset, Problems, Tally } from './dataset.js';
import { isObject, RowError } from './record.js';

export interface CheckReport {
  format: FormatName;
  rows: number;
  valid: number;
  problems: Problems;
  /** Problems by kind: "JSON", "schema", "duplicate id". */
  kinds: Tally;
}

const ID_KEYS = ['id', 'conversation_id'];

/**
 * Check every row of IN: JSON syntax, the format's schema, empty turns, role order, duplicate ids.
 * Valid rows go to `valid` unchanged; rejected ones to `rejected` as {line, column?, reason, row}. The
 * input is only read.
 */
export async function checkFile(input: string, o: { from?: Format; valid?: string; rejected?: string; onBytes?: (n: number) => void; keep?: number; read?: ReadLimits }): Promise<CheckReport> {
  const ds = await openDataset(input, { from: o.from, onBytes: o.onBytes, read: o.read });
  const valid = o.valid ? new RowSink(o.valid) : undefined;
  const rejected = o.rejected ? new RowSink(o.rejected) : undefined;
  const report: CheckReport = { format: ds.format.name, rows: 0, valid: 0, problems: new Problems(o.keep ?? 10), kinds: new Tally() };
  const ids = new Map<string, number>();
  const reject = (line: number, reason: string, kind: string, row: unknown, column?: number) => {
    report.problems.add({ line, column, reason });
    report.kinds.add(kind);
    rejected?.write({ line, ...(column ? { column } : {}), reason, row });
  };
  await withSinks([valid, rejected].filter((s) => s !== undefined), async () => {
    for await (const batch of ds.batches) {
      report.rows += batch.length;
      for (const r of batch) {
        if (r.reason !== undefined) { reject(r.line, r.reason, r.reason.split(':')[0], r.text, r.column); continue; }
        try {
          ds.format.read(r.value);
        } catch (e) {
          if (!(e instanceof RowError)) throw e;
          reject(r.line, e.message, 'schema', r.value);
          continue;
        }
        const asIs = isObject(r.value) ? ds.format.checkAsIs?.(r.value) : undefined;
        if (asIs !== undefined) { reject(r.line, asIs, 'schema', r.value); continue; }
        const id = isObject(r.value) ? ID_KEYS.map((k) => (r.value as Record<string, unknown>)[k]).find((v) => typeof v === 'string' || typeof v === 'number') : undefined;
        if (id !== undefined) {
          const seen = ids.get(String(id));
          if (seen !== undefined) { reject(r.line, `duplicate id ${JSON.stringify(id)} (first on line ${seen})`, 'duplicate id', r.value); continue; }
          ids.set(String(id), r.line);
        }
        report.valid++;
        valid?.write(r.value as Record<string, unknown>);
      }
    }
  });
  return report;
}
