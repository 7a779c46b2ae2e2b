import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { UserError } from '../../errors.js';
import { isInvalidJson, parseJsonBytes } from './byteJson.js';
import { jsonErrorAt } from './jsonError.js';
import { DEFAULT_LIMITS, LineTooLong, type ReadLimits, TOO_DEEP, tooDeep } from './limits.js';
import type { RawRow } from './rawRow.js';
import { readRows, type SourceInfo } from './source.js';

const CHUNK = 1 << 20;

/**
 * JSON Lines read as bytes: lines are found with a native byte search and each is parsed by
 * parseJsonBytes, so string values stay undecoded (RawText) until someone needs their characters. A
 * file that turns out to be a JSON array is handed to readRows. Line numbers, error reports and limits
 * are the same as readRows gives.
 */
export async function* readRowsRaw(info: SourceInfo, onBytes?: (n: number) => void, read: ReadLimits = DEFAULT_LIMITS): AsyncGenerator<RawRow[]> {
  const file = createReadStream(info.path, { highWaterMark: CHUNK });
  if (onBytes) file.on('data', (b) => onBytes(b.length));
  const stream = info.gzip ? file.pipe(createGunzip({ chunkSize: CHUNK })) : file;
  if (info.gzip) file.on('error', (e) => stream.destroy(e));
  // A line cut by chunk boundaries is kept as pieces and joined once: concatenating per chunk copied a
  // long line again for every chunk.
  let parts: Buffer[] = [];
  let pending = 0;
  let line = 0;
  let first = true;
  let atStart = true;
  let blankCols = 0;
  const one = (buf: Buffer, s: number, e: number, out: RawRow[]) => parseLine(buf, s, e, ++line, out);
  const pend = (b: Buffer) => {
    pending += b.length;
    if (pending > read.maxLine) throw new LineTooLong(line + 1, 'this line', read.maxLine);
    parts.push(b);
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let pos = 0;
      const out: RawRow[] = [];
      if (first) {
        if (atStart && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) pos = 3;
        atStart = false;
        // Blank lines before the first row are counted and dropped (a gzip of blanks is a bomb, not a file).
        let k = pos;
        let lastNl = -1;
        for (let c = chunk[k]; k < chunk.length && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09); c = chunk[++k]) if (c === 0x0a) { line++; lastNl = k; }
        blankCols = lastNl === -1 ? blankCols + k - pos : k - lastNl - 1;
        if (blankCols > read.maxLine) throw new LineTooLong(line + 1, 'this line', read.maxLine);
        if (k === chunk.length) continue;
        first = false;
        if (chunk[k] === 0x5b) {
          // A JSON array: the string reader knows how to walk it.
          stream.destroy();
          yield* readRows(info.path, { info, onBytes, read });
          return;
        }
        info.container = 'jsonl';
        if (blankCols) parts.push(Buffer.alloc(blankCols, 0x20)); // columns in error reports stay right
        pending = blankCols;
        pos = k;
      }
      let nl = chunk.indexOf(10, pos);
      if (parts.length) {
        if (nl === -1) { pend(chunk.subarray(pos)); continue; }
        pend(chunk.subarray(pos, nl));
        const joined = parts.length === 1 ? parts[0] : Buffer.concat(parts, pending);
        parts = [];
        pending = 0;
        one(joined, 0, joined.length, out);
        pos = nl + 1;
        nl = chunk.indexOf(10, pos);
      }
      for (; nl !== -1; nl = chunk.indexOf(10, pos)) {
        if (nl === pos) {
          // A run of empty lines is counted in one loop: a gzip of newlines is a billion of them.
          let k = nl + 1;
          while (chunk[k] === 10) k++;
          line += k - nl;
          pos = k;
          continue;
        }
        if (nl - pos > read.maxLine) throw new LineTooLong(line + 1, 'this line', read.maxLine);
        one(chunk, pos, nl, out);
        pos = nl + 1;
      }
      if (pos < chunk.length) pend(chunk.subarray(pos));
      if (out.length) yield out;
    }
  } catch (e) {
    if (e instanceof LineTooLong) throw e.forFile(info.path);
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || /unexpected end of file/i.test((e as Error).message)) {
      if (!read.allowBroken) throw new UserError(`${info.path}: the file is cut short: the gzip data is broken or cut short (${(e as Error).message}); add --allow-broken to use the rows before that point`);
      const out: RawRow[] = [];
      if (parts.length) one(Buffer.concat(parts, pending), 0, pending, out);
      out.push({ line: line + 1, column: 1, reason: `gzip: the data is broken or cut short (${(e as Error).message})`, text: '', truncated: true });
      yield out;
      return;
    }
    throw new UserError(`cannot read ${info.path}: ${(e as Error).message}`);
  }
  if (parts.length && !first) {
    const out: RawRow[] = [];
    one(parts.length === 1 ? parts[0] : Buffer.concat(parts, pending), 0, pending, out);
    if (out.length) yield out;
  }
}

/** One line of JSON Lines (bytes s..e, without the newline) as a row; blank lines give nothing. */
export function parseLine(buf: Buffer, s: number, e: number, line: number, out: RawRow[]) {
  if (e > s && buf[e - 1] === 0x0d) e--;
  let k = s;
  while (k < e && (buf[k] === 0x20 || buf[k] === 0x09)) k++;
  if (k === e) return;
  try {
    out.push({ line, value: parseJsonBytes(buf, s, e) });
  } catch (err) {
    if (!isInvalidJson(err)) throw err;
    // The byte parser is strict; JSON.parse has the last word, and the error locator the message.
    const text = buf.toString('utf8', s, e);
    try {
      const value: unknown = JSON.parse(text);
      // The byte parser stops at MAX_DEPTH; JSON.parse does not, and a deeper row would overflow every walk after it.
      out.push(tooDeep(value) ? { line, column: 1, reason: TOO_DEEP, text } : { line, value });
    } catch {
      const at = jsonErrorAt(text);
      out.push({ line, column: at.index + 1, reason: `JSON: ${at.reason}`, text });
    }
  }
}
