import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { UserError } from '../../errors.js';
import { regularFileSize } from '../../util/files.js';
import { CsvParser } from './csv.js';
import { JsonArrayParser } from './jsonArray.js';
import { JsonlParser, TextLinesParser } from './jsonl.js';
import { DEFAULT_LIMITS, LineTooLong, type ReadLimits } from './limits.js';
import type { ChunkParser, RawRow } from './rawRow.js';

export type Container = 'jsonl' | 'json' | 'csv' | 'txt' | 'parquet';

export interface SourceInfo {
  path: string;
  /** On-disk size: progress is counted in bytes read from the disk, gzipped or not. */
  size: number;
  gzip: boolean;
  container: Container;
}

const CHUNK = 1 << 20;

/** The container by name: .jsonl, .json, .csv, .txt, .parquet, each optionally .gz. */
export function containerByName(path: string): Container | undefined {
  const m = /\.(jsonl|ndjson|json|csv|txt|parquet)(\.gz)?$/i.exec(path);
  if (!m) return undefined;
  const ext = m[1].toLowerCase();
  return ext === 'ndjson' ? 'jsonl' : (ext as Container);
}

function head(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** Size, compression and container of an input, without reading it. */
export function inspectSource(path: string): SourceInfo {
  // A FIFO would block the open below and a device would never end: only regular files are read.
  const size = regularFileSize(path, 'data file');
  const h = head(path, 4);
  const gzip = h[0] === 0x1f && h[1] === 0x8b;
  const parquet = h.toString('latin1') === 'PAR1';
  const byName = containerByName(path);
  // JSON Lines and JSON arrays are told apart by their first character (see readRows), whatever the name.
  const container: Container = parquet ? 'parquet' : byName === 'csv' || byName === 'txt' ? byName : byName === 'parquet' ? 'parquet' : 'jsonl';
  return { path, size, gzip, container };
}

/**
 * The rows of a file, in batches of a few thousand, in file order, with bounded memory: the file is read
 * in 1 MiB chunks (gunzipped on the way when it is gzip) and parsed as it arrives. `onBytes` reports
 * disk bytes read, for progress bars. A line over `read.maxLine` is an error; a file cut short (an array
 * or a quote never closed, gzip ending early) is one too unless `read.allowBroken`, when what came before
 * is read and the cut is one broken row.
 */
export async function* readRows(path: string, o: { onBytes?: (n: number) => void; info?: SourceInfo; read?: ReadLimits } = {}): AsyncGenerator<RawRow[]> {
  const info = o.info ?? inspectSource(path);
  const read = o.read ?? DEFAULT_LIMITS;
  if (info.container === 'parquet') {
    // Parquet compresses its own columns and is read by seeking, which a gzip stream cannot do.
    if (info.gzip) throw new UserError(`${path} is a gzipped Parquet file, which cannot be read in place; gunzip it first`);
    const { readParquetRows } = await import('./parquet.js');
    yield* readParquetRows(info.path, o.onBytes);
    return;
  }
  const file = createReadStream(path, { highWaterMark: CHUNK });
  if (o.onBytes) { const cb = o.onBytes; file.on('data', (b) => cb(b.length)); }
  const stream = info.gzip ? file.pipe(createGunzip({ chunkSize: CHUNK })) : file;
  if (info.gzip) file.on('error', (e) => stream.destroy(e));
  const decoder = new StringDecoder('utf8');
  let parser: ChunkParser | undefined = info.container === 'csv' ? new CsvParser(read.maxLine) : info.container === 'txt' ? new TextLinesParser(read.maxLine) : undefined;
  // Blank text before the first character is counted, not kept: kept and re-scanned per chunk, a gzip of
  // a gigabyte of spaces took quadratic time and all of it in memory.
  let blankLines = 0;
  let blankCols = 0;
  let atStart = true;
  let lastLine = 0;
  let cut: string | undefined;
  try {
    for await (let buf of stream as AsyncIterable<Buffer>) {
      let lead = '';
      if (!parser) {
        // JSON Lines or one JSON array: the first byte that is not blank (nor a BOM) tells.
        const from = atStart && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
        atStart = false;
        let k = from;
        let lastNl = -1;
        for (let c = buf[k]; k < buf.length && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09); c = buf[++k]) {
          if (c === 0x0a) { blankLines++; lastNl = k; }
        }
        blankCols = lastNl === -1 ? blankCols + k - from : k - lastNl - 1;
        if (blankCols > read.maxLine) throw new LineTooLong(blankLines + 1, 'this line', read.maxLine);
        if (k === buf.length) continue;
        const array = buf[k] === 0x5b;
        parser = array ? new JsonArrayParser(read.maxLine, blankLines + 1) : new JsonlParser(read.maxLine, blankLines + 1);
        info.container = array ? 'json' : 'jsonl';
        // The first line keeps its leading blanks, so columns in error reports stay right.
        lead = ' '.repeat(blankCols);
        buf = buf.subarray(k);
      }
      const s = lead + decoder.write(buf);
      const out: RawRow[] = [];
      parser.push(s, out);
      if (out.length) { lastLine = out[out.length - 1].line; yield out; }
    }
  } catch (e) {
    if (e instanceof LineTooLong) throw e.forFile(path);
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'Z_DATA_ERROR' && code !== 'Z_BUF_ERROR' && !/unexpected end of file/i.test((e as Error).message)) {
      throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
    }
    cut = `gzip: the data is broken or cut short (${(e as Error).message})`;
  }
  const out: RawRow[] = [];
  try {
    const tail = decoder.end();
    if (parser) { if (tail) parser.push(tail, out); parser.end(out); }
  } catch (e) {
    if (e instanceof LineTooLong) throw e.forFile(path);
    throw e;
  }
  let truncated = out.find((r) => r.truncated);
  if (!truncated && cut !== undefined) {
    // The line after the last row read: where the cut is, as near as a stream can tell.
    truncated = { line: (out.at(-1)?.line ?? lastLine) + 1, column: 1, reason: cut, text: '', truncated: true };
    out.push(truncated);
  }
  if (truncated && !read.allowBroken) {
    const where = cut === undefined ? `:${truncated.line}` : '';
    throw new UserError(`${path}${where}: the file is cut short: ${truncated.reason!.replace(/^(JSON|CSV): /, '').replace(/^gzip: the data/, 'the gzip data')}; add --allow-broken to use the rows before that point`);
  }
  if (out.length) yield out;
}
