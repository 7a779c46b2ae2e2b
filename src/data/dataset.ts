import { UserError } from '../errors.js';
import { detectFormat, type Format, FORMAT_NAMES } from './formats/index.js';
import type { RawRow } from './io/rawRow.js';
import { readRowsRaw } from './io/rawLines.js';
import type { ReadLimits } from './io/limits.js';
import { inspectSource, readRows, type SourceInfo } from './io/source.js';
import { isObject } from './record.js';

export interface Dataset {
  info: SourceInfo;
  format: Format;
  /** Every row, in batches; a dataset is read once. */
  batches: AsyncGenerator<RawRow[]>;
}

const SNIFF_ROWS = 50;

/**
 * A data file with its format: the one given (--from), or the one most of its first rows look like.
 * The rows read to decide are handed on first, so nothing is read twice.
 */
export async function openDataset(path: string, o: { from?: Format; onBytes?: (n: number) => void; raw?: boolean; read?: ReadLimits } = {}): Promise<Dataset> {
  const info = inspectSource(path);
  // raw: JSON Lines with string values left as undecoded bytes (see RawText), for convert.
  const source = o.raw && info.container === 'jsonl' ? readRowsRaw(info, o.onBytes, o.read) : readRows(path, { onBytes: o.onBytes, info, read: o.read });
  const head: RawRow[][] = [];
  const values: unknown[] = [];
  if (!o.from) {
    while (values.length < SNIFF_ROWS) {
      const next = await source.next();
      if (next.done) break;
      head.push(next.value);
      for (const r of next.value) if (r.reason === undefined) values.push(r.value);
    }
  }
  const format = o.from ?? detectFormat(values);
  if (!format) {
    await source.return(undefined);
    if (!values.length) throw new UserError(`${path} has no readable rows${head.flat().length ? ` (line ${head.flat()[0].line}: ${head.flat()[0].reason})` : ''}`);
    const keys = [...new Set(values.filter(isObject).slice(0, 5).flatMap((v) => Object.keys(v)))].slice(0, 8);
    throw new UserError(`cannot tell the format of ${path} from its first rows (keys: ${keys.join(', ') || 'none'}); give --from with one of ${FORMAT_NAMES.join(', ')}`, 2);
  }
  async function* batches() {
    yield* head;
    yield* source;
  }
  return { info, format, batches: batches() };
}

/** A row that could not be used, where it is and why. */
export interface Problem { line: number; column?: number; reason: string }

/** Counts problems; keeps the first few for the report (the rest are counted, and written by `check`). */
export class Problems {
  count = 0;
  readonly first: Problem[] = [];
  constructor(private readonly keep = 10) {}
  add(p: Problem) {
    this.count++;
    if (this.first.length < this.keep) this.first.push(p);
  }
  /** Count the row if the file's own syntax broke it (bad JSON, an unclosed quote): true then, and the caller skips it. */
  addIfBroken(r: RawRow): boolean {
    if (r.reason === undefined) return false;
    this.add({ line: r.line, column: r.column, reason: r.reason });
    return true;
  }
  /** "file:line:column: reason" lines, as compilers print them, so editors can jump there. */
  lines(path: string): string[] {
    const out = this.first.map((p) => `${path}:${p.line}${p.column ? `:${p.column}` : ''}: ${p.reason}`);
    if (this.count > this.first.length) out.push(`… and ${this.count - this.first.length} more`);
    return out;
  }
}

/** Counts by reason, in first-seen order. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(what: string, n = 1) { this.counts.set(what, (this.counts.get(what) ?? 0) + n); }
  get total() { let t = 0; for (const n of this.counts.values()) t += n; return t; }
  toJSON() { return Object.fromEntries(this.counts); }
}
