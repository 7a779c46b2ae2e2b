import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { UserError } from '../../errors.js';
import { CsvParser } from './csv.js';
import { JsonArrayParser } from './jsonArray.js';
import { JsonlParser, TextLinesParser } from './jsonl.js';
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

function statInput(path: string) {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new UserError(`${path} is a folder; give a data file (.jsonl, .json, .csv, .parquet, .txt, or .gz of one)`);
    return st;
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
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
  const st = statInput(path);
  const h = head(path, 4);
  const gzip = h[0] === 0x1f && h[1] === 0x8b;
  const parquet = h.toString('latin1') === 'PAR1';
  const byName = containerByName(path);
  // JSON Lines and JSON arrays are told apart by their first character (see readRows), whatever the name.
  const container: Container = parquet ? 'parquet' : byName === 'csv' || byName === 'txt' ? byName : byName === 'parquet' ? 'parquet' : 'jsonl';
  return { path, size: st.size, gzip, container };
}

/**
 * The rows of a file, in batches of a few thousand, in file order, with bounded memory: the file is read
 * in 1 MiB chunks (gunzipped on the way when it is gzip) and parsed as it arrives. `onBytes` reports
 * disk bytes read, for progress bars.
 */
export async function* readRows(path: string, o: { onBytes?: (n: number) => void; info?: SourceInfo } = {}): AsyncGenerator<RawRow[]> {
  const info = o.info ?? inspectSource(path);
  if (info.container === 'parquet') {
    const { readParquetRows } = await import('./parquet.js');
    yield* readParquetRows(info, o.onBytes);
    return;
  }
  const file = createReadStream(path, { highWaterMark: CHUNK });
  if (o.onBytes) { const cb = o.onBytes; file.on('data', (b) => cb(b.length)); }
  const stream = info.gzip ? file.pipe(createGunzip({ chunkSize: CHUNK })) : file;
  if (info.gzip) file.on('error', (e) => stream.destroy(e));
  const decoder = new StringDecoder('utf8');
  let parser: ChunkParser | undefined = info.container === 'csv' ? new CsvParser() : info.container === 'txt' ? new TextLinesParser() : undefined;
  let lead = '';
  try {
    for await (const buf of stream as AsyncIterable<Buffer>) {
      let s = decoder.write(buf);
      if (!parser) {
        // JSON Lines or one JSON array: the first character that is not blank tells.
        s = lead + s;
        const m = /[^\s\uFEFF]/.exec(s);
        if (!m) { lead = s; continue; }
        parser = m[0] === '[' ? new JsonArrayParser() : new JsonlParser();
        info.container = m[0] === '[' ? 'json' : 'jsonl';
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      }
      const out: RawRow[] = [];
      parser.push(s, out);
      if (out.length) yield out;
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || /unexpected end of file/i.test((e as Error).message)) {
      throw new UserError(`${path}: the gzip data is broken or cut short (${(e as Error).message}); the rows before that point were read`);
    }
    throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const out: RawRow[] = [];
  const tail = decoder.end();
  if (parser) { if (tail) parser.push(tail, out); parser.end(out); }
  if (out.length) yield out;
}
