import { UserError } from '../../errors.js';
import type { RawRow } from './rawRow.js';
import type { SourceInfo } from './source.js';

export async function* readParquetRows(info: SourceInfo, _onBytes?: (n: number) => void): AsyncGenerator<RawRow[]> {
  throw new UserError(`${info.path}: reading .parquet is not supported yet; convert it to .jsonl first`);
}
