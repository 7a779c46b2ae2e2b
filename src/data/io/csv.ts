import { type CsvRecord, CsvTokenizer, CsvTooLong } from '../../util/csv.js';
import { RawText } from '../text.js';
import { DEFAULT_LIMITS, LineTooLong, tooDeep } from './limits.js';
import type { ChunkParser, RawRow } from './rawRow.js';

/**
 * CSV (RFC 4180: quoted fields may hold commas, quotes as "" and newlines). The first record names the
 * columns. A field that holds JSON (a list of turns, say) is read as that JSON, so a dataset exported
 * to CSV reads back as the rows it was.
 */
export class CsvParser implements ChunkParser {
  private header: string[] | undefined;
  private readonly tokenizer: CsvTokenizer;
  private readonly records: CsvRecord[] = [];

  /** maxLine bounds a record: an unclosed quote would otherwise make the rest of the file one field. */
  constructor(private readonly maxLine = DEFAULT_LIMITS.maxLine) {
    this.tokenizer = new CsvTokenizer({ maxRecord: maxLine });
  }

  push(chunk: string, out: RawRow[]) {
    try {
      this.tokenizer.push(chunk, this.records);
    } catch (e) {
      if (e instanceof CsvTooLong) throw new LineTooLong(e.line, e.quoted ? 'this CSV record (a quote not closed?)' : 'this CSV record', this.maxLine);
      throw e;
    } finally {
      // Rows completed before a record ran long are still the caller's.
      this.rows(out);
    }
  }

  end(out: RawRow[]) {
    const open = this.tokenizer.end(this.records);
    this.rows(out);
    if (open) out.push({ line: open.recordLine, column: 1, reason: 'CSV: the file ends inside a quoted field (a quote not closed)', text: open.text, truncated: true });
  }

  private rows(out: RawRow[]) {
    for (const r of this.records) this.row(r, out);
    this.records.length = 0;
  }

  private row({ fields, line }: CsvRecord, out: RawRow[]) {
    if (!this.header) { this.header = fields.map((f) => f.trim()); return; }
    if (fields.length !== this.header.length) {
      out.push({ line, column: 1, reason: `CSV: ${fields.length} fields, the header has ${this.header.length}`, text: fields.join(',') });
      return;
    }
    const o: Record<string, unknown> = {};
    // An empty cell is a field the row does not have (a CSV cannot tell "" from absent; optional fields are absent).
    this.header.forEach((k, j) => { if (fields[j] !== undefined && fields[j] !== '') o[k] = cell(k, fields[j]); });
    out.push({ line, value: o });
  }
}

/** Columns whose cells hold nested values (written as JSON); any other cell is text, even one like "[1,2,3]". */
const LISTS = new Set(['conversation', 'conversations', 'messages', 'history']);
const MESSAGE_LISTS = new Set(['prompt', 'chosen', 'rejected']);

function cell(column: string, v: string): unknown {
  const c = v.trimStart()[0];
  // ShareGPT's ranking form keeps chosen/rejected as one message object.
  if (MESSAGE_LISTS.has(column) && c === '{') {
    try {
      const m = JSON.parse(v) as Record<string, unknown>;
      if (m && typeof m === 'object' && !tooDeep(m) && (('from' in m && 'value' in m) || ('role' in m && 'content' in m))) return m;
    } catch { /* text */ }
    return v;
  }
  if ((LISTS.has(column) || MESSAGE_LISTS.has(column)) && c === '[') {
    try {
      const parsed: unknown = JSON.parse(v);
      // A cell nested past MAX_DEPTH stays text: no walk after this one could take it.
      if (!Array.isArray(parsed) || tooDeep(parsed)) return v;
      // A prompt or an answer may be text that happens to be a JSON list; only a list of messages is one.
      if (MESSAGE_LISTS.has(column) && !parsed.every((m) => m !== null && typeof m === 'object' && !Array.isArray(m))) return v;
      return parsed;
    } catch { /* text that starts with a bracket */ }
  }
  return v;
}

/** One CSV record; nested values are written as JSON, so they read back as the same values. */
export function csvRecord(values: unknown[]): string {
  return values.map((v) => {
    if (v === undefined || v === null) return '';
    const s = typeof v === 'string' ? v : v instanceof RawText ? v.toString() : JSON.stringify(v);
    return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
  }).join(',');
}
