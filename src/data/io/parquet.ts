import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { UserError } from '../../errors.js';
import type { RawRow } from './rawRow.js';

/** Parquet values as JSON has them: int64 arrives as BigInt, timestamps as Date, binary as bytes. */
function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonValue(x);
    return out;
  }
  return v;
}

/** hyparquet's own words, except a stack overflow on a schema nested without end, which is ours to explain. */
const why = (e: unknown) => (e instanceof RangeError && /call stack/.test(e.message) ? 'its schema is nested too deeply' : (e as Error).message);

/**
 * The most one row group may hold, read whole: 1 GiB of column data (Hugging Face's own Parquet exports use row
 * groups of ~100 MB) and 16M rows. The footer's claims are checked before anything is read, so a damaged file
 * that claims a huge group is refused rather than allocated.
 */
export const MAX_ROW_GROUP_BYTES = 1 << 30;
export const MAX_ROW_GROUP_ROWS = 1 << 24;

/** Why a row group (as its footer describes it) is not read, if it is not. */
export function rowGroupProblem(group: { num_rows: bigint | number; total_byte_size: bigint | number }, index: number): string | undefined {
  const rows = Number(group.num_rows);
  const bytes = Number(group.total_byte_size);
  if (!Number.isSafeInteger(rows) || rows < 0 || !Number.isSafeInteger(bytes) || bytes < 0) return `row group ${index + 1} has a damaged size in the footer`;
  if (rows > MAX_ROW_GROUP_ROWS) return `row group ${index + 1} claims ${rows.toLocaleString('en-US')} rows, more than the ${MAX_ROW_GROUP_ROWS.toLocaleString('en-US')} read at once`;
  if (bytes > MAX_ROW_GROUP_BYTES) return `row group ${index + 1} claims ${(bytes / 2 ** 30).toFixed(1)} GiB of data, more than the 1 GiB read at once`;
  return undefined;
}

/**
 * The rows of a .parquet file (what Hugging Face datasets ship), one row group at a time, so memory
 * holds one row group, not the file. Nested columns (a list of {from, value} structs) come out as the
 * JSON they were. A row's `line` is its 1-based row number.
 */
export async function* readParquetRows(path: string, onBytes?: (n: number) => void): AsyncGenerator<RawRow[]> {
  const file = await asyncBufferFromFile(path);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (e) {
    throw new UserError(`${path} is not a readable Parquet file: ${why(e)}`);
  }
  for (const [i, group] of metadata.row_groups.entries()) {
    const problem = rowGroupProblem(group, i);
    if (problem) throw new UserError(`${path}: ${problem}; a damaged file, or rewrite it with smaller row groups (pyarrow: row_group_size)`);
  }
  let start = 0;
  for (const group of metadata.row_groups) {
    const n = Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: start + n });
    } catch (e) {
      throw new UserError(`${path}: cannot read rows ${start + 1}–${start + n}: ${why(e)}`);
    }
    yield rows.map((r, i) => ({ line: start + i + 1, value: jsonValue(r) }));
    start += n;
    onBytes?.(Number(group.total_compressed_size ?? 0));
  }
}
