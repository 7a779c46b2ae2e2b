import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { UserError } from '../../errors.js';
import { outputTarget, tempDone, tempPath, writeFailure } from '../../util/files.js';
import { JsonBytesWriter } from './byteJson.js';
import { csvRecord } from './csv.js';
import { containerByName } from './source.js';

export type OutContainer = 'jsonl' | 'json' | 'csv';

/** The output container from the file name; .parquet and .txt are read, not written. */
export function outContainer(path: string, flag = '-o'): { container: OutContainer; gzip: boolean } {
  const c = containerByName(path);
  const gzip = /\.gz$/i.test(path);
  if (c === 'jsonl' || c === 'json' || c === 'csv') return { container: c, gzip };
  if (c === 'parquet' || c === 'txt') throw new UserError(`${flag} ${path}: writing .${c} is not supported; write .jsonl (or .json, .csv, optionally .gz)`, 2);
  throw new UserError(`${flag} ${path}: the name must end in .jsonl, .json or .csv (optionally .gz), which says how to write it`, 2);
}

const FLUSH = 4 << 20;

/**
 * Rows written to a new file atomically: into a temporary file beside it, renamed over the name only
 * when every row is written (close), removed on failure (abort). Rows are joined and written in 4 MiB
 * batches: one write call per batch, not per row.
 */

export class RowSink {
  readonly container: OutContainer;
  readonly gzip: boolean;
  private readonly tmp: string;
  /** What `path` names: the file itself, or the regular file a symlink points to (the link stays). */
  private readonly target: string;
  private fd: number;
  private parts: string[] = [];
  private size = 0;
  private rows = 0;
  private columns: string[] | undefined;
  private closed = false;
  /** Byte mode: rows are serialised straight into a byte buffer (raw texts copied, no string joins). */
  private readonly bytes: JsonBytesWriter | undefined;

  constructor(readonly path: string, o: { columns?: string[]; bytes?: boolean } = {}) {
    ({ container: this.container, gzip: this.gzip } = outContainer(path));
    this.columns = o.columns;
    if (o.bytes && this.container !== 'csv') this.bytes = new JsonBytesWriter();
    this.target = outputTarget(path);
    this.tmp = tempPath(this.target);
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (e) {
      tempDone(this.tmp);
      throw writeFailure(path, e);
    }
    if (this.container === 'json') this.push('[');
    if (this.container === 'csv' && this.columns) this.push(csvRecord(this.columns) + '\n');
  }

  get count() { return this.rows; }

  write(row: Record<string, unknown>) {
    const bw = this.bytes;
    if (bw) {
      if (this.container === 'json') bw.ascii(this.rows ? ',\n' : '\n');
      bw.value(row);
      if (this.container === 'jsonl') bw.byte(0x0a);
      this.rows++;
      if (bw.len >= FLUSH) this.flush();
      return;
    }
    if (this.container === 'jsonl') {
      this.push(JSON.stringify(row) + '\n');
    } else if (this.container === 'json') {
      this.push((this.rows ? ',\n' : '\n') + JSON.stringify(row));
    } else {
      if (!this.columns) { this.columns = Object.keys(row); this.push(csvRecord(this.columns) + '\n'); }
      // A CSV has the columns of its header: a field a later row adds would be lost, so it stops the write instead.
      const extra = Object.keys(row).find((k) => row[k] !== undefined && !this.columns!.includes(k));
      if (extra !== undefined) {
        throw new UserError(`${this.path}: a row has the field "${extra}" that the CSV's columns (${this.columns.join(', ')}) do not; write JSON Lines (.jsonl) instead, which keeps every field`);
      }
      this.push(csvRecord(this.columns.map((k) => row[k])) + '\n');
    }
    this.rows++;
  }

  /** A row already serialised as one JSON text (what sample and split copy through unchanged). */
  writeJson(json: string) {
    if (this.container === 'csv') { this.write(JSON.parse(json)); return; }
    if (this.container === 'jsonl') this.push(json + '\n');
    else this.push((this.rows ? ',\n' : '\n') + json);
    this.rows++;
  }

  private push(s: string) {
    if (this.bytes) { this.bytes.text(s); return; }
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= FLUSH) this.flush();
  }

  private flush() {
    if (this.bytes) { this.bytes.drain((b) => this.out(b)); return; }
    if (!this.parts.length) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    // Each batch is a gzip member of its own: a multi-member file is valid gzip (gunzip, Python, zcat read it whole).
    this.out(Buffer.from(text));
  }

  private out(bytes: Buffer) {
    const data = this.gzip ? gzipSync(bytes, { level: 6 }) : bytes;
    try {
      for (let off = 0; off < data.length;) off += writeSync(this.fd, data, off);
    } catch (e) {
      this.abort();
      throw writeFailure(this.path, e);
    }
  }

  close() {
    if (this.closed) return;
    if (this.container === 'json') this.push(this.rows ? '\n]\n' : ']\n');
    this.flush();
    this.closed = true;
    try {
      closeSync(this.fd);
      renameSync(this.tmp, this.target);
    } catch (e) {
      rmSync(this.tmp, { force: true });
      throw writeFailure(this.path, e);
    } finally {
      tempDone(this.tmp);
    }
  }

  abort() {
    if (this.closed) return;
    this.closed = true;
    try { closeSync(this.fd); } catch { /* already closed */ }
    rmSync(this.tmp, { force: true });
    tempDone(this.tmp);
  }
}

/** Sinks closed together on success and all removed on any failure, so a failed run leaves no half file. */
export async function withSinks<T>(sinks: RowSink[], run: () => Promise<T>): Promise<T> {
  try {
    const r = await run();
    for (const s of sinks) s.close();
    return r;
  } catch (e) {
    for (const s of sinks) s.abort();
    throw e;
  }
}
