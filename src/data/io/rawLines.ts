import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { UserError } from '../../errors.js';
import { isInvalidJson, parseJsonBytes } from './byteJson.js';
import { jsonErrorAt } from './jsonError.js';
import type { RawRow } from './rawRow.js';
import { readRows, type SourceInfo } from './source.js';

const CHUNK = 1 << 20;

/**
 * JSON Lines read as bytes: lines are found with a native byte search and each is parsed by
 * parseJsonBytes, so string values stay undecoded (RawText) until someone needs their characters. A
 * file that turns out to be a JSON array is handed to readRows. Line numbers and error reports are
 * the same as readRows gives.
 */
export async function* readRowsRaw(info: SourceInfo, onBytes?: (n: number) => void): AsyncGenerator<RawRow[]> {
  const file = createReadStream(info.path, { highWaterMark: CHUNK });
  if (onBytes) file.on('data', (b) => onBytes(b.length));
  const stream = info.gzip ? file.pipe(createGunzip({ chunkSize: CHUNK })) : file;
  if (info.gzip) file.on('error', (e) => stream.destroy(e));
  let rest: Buffer | undefined;
  let line = 0;
  let first = true;
  const one = (buf: Buffer, s: number, e: number, out: RawRow[]) => parseLine(buf, s, e, ++line, out);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let buf = chunk;
      let pos = 0;
      const out: RawRow[] = [];
      if (rest && !first) {
        // Only the line cut by the chunk boundary is copied, not the whole chunk.
        const nl = chunk.indexOf(10);
        if (nl === -1) { rest = Buffer.concat([rest, chunk]); continue; }
        const joined = Buffer.concat([rest, chunk.subarray(0, nl)]);
        one(joined, 0, joined.length, out);
        rest = undefined;
        pos = nl + 1;
      } else if (rest) {
        buf = Buffer.concat([rest, chunk]);
        rest = undefined;
      }
      if (first) {
        if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
        let k = pos;
        while (k < buf.length && (buf[k] === 0x20 || buf[k] === 0x0a || buf[k] === 0x0d || buf[k] === 0x09)) k++;
        if (k === buf.length) { rest = buf; continue; }
        first = false;
        if (buf[k] === 0x5b) {
          // A JSON array: the string reader knows how to walk it.
          stream.destroy();
          yield* readRows(info.path, { info, onBytes });
          return;
        }
        info.container = 'jsonl';
      }
      for (let nl = buf.indexOf(10, pos); nl !== -1; nl = buf.indexOf(10, pos)) {
        one(buf, pos, nl, out);
        pos = nl + 1;
      }
      rest = pos < buf.length ? buf.subarray(pos) : undefined;
      if (out.length) yield out;
      buf = undefined as unknown as Buffer;
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || /unexpected end of file/i.test((e as Error).message)) {
      throw new UserError(`${info.path}: the gzip data is broken or cut short (${(e as Error).message}); the rows before that point were read`);
    }
    throw new UserError(`cannot read ${info.path}: ${(e as Error).message}`);
  }
  if (rest && !first) {
    const out: RawRow[] = [];
    one(rest, 0, rest.length, out);
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
      out.push({ line, value: JSON.parse(text) });
    } catch {
      const at = jsonErrorAt(text);
      out.push({ line, column: at.index + 1, reason: `JSON: ${at.reason}`, text });
    }
  }
}
