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
  private fields: string[] = [];
  /** The field being read, as pieces joined once at its end (one string per character was 40 bytes each). */
  private field: string[] = [];
  private fieldLen = 0;
  private recordLen = 0;
  private quoted = false;
  private afterQuote = false;
  private line = 1;
  private recordLine = 1;
  private sawAny = false;

  /** maxLine bounds a record: an unclosed quote would otherwise make the rest of the file one field. */
  constructor(private readonly maxLine = DEFAULT_LIMITS.maxLine) {}

  push(chunk: string, out: RawRow[]) {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.quoted) {
        const q = chunk.indexOf('"', i);
        const end = q === -1 ? n : q;
        for (let k = chunk.indexOf('\n', i); k !== -1 && k < end; k = chunk.indexOf('\n', k + 1)) this.line++;
        this.add(chunk, i, end);
        if (q === -1) break;
        this.quoted = false;
        this.afterQuote = true;
        i = q + 1;
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (c === 34) {
        if (this.afterQuote) { this.add('"', 0, 1); this.quoted = true; this.afterQuote = false; i++; continue; }
        if (this.fieldLen === 0) { this.quoted = true; this.sawAny = true; i++; continue; }
      }
      this.afterQuote = false;
      if (c === 44) { this.endField(); this.recordLen++; this.sawAny = true; i++; continue; }
      if (c === 10) { this.record(out); this.line++; this.recordLine = this.line; i++; continue; }
      if (c === 13) { i++; continue; }
      // A run of plain characters up to the next one that means something.
      let j = i + 1;
      for (let d = chunk.charCodeAt(j); j < n && d !== 44 && d !== 10 && d !== 13 && d !== 34; d = chunk.charCodeAt(++j));
      this.add(chunk, i, j);
      this.sawAny = true;
      i = j;
    }
  }

  end(out: RawRow[]) {
    if (this.quoted) out.push({ line: this.recordLine, column: 1, reason: 'CSV: the file ends inside a quoted field (a quote not closed)', text: this.field.join(''), truncated: true });
    else this.record(out);
  }

  private add(s: string, from: number, to: number) {
    if (to <= from) return;
    this.field.push(from === 0 && to === s.length ? s : s.slice(from, to));
    this.fieldLen += to - from;
    this.recordLen += to - from;
    if (this.recordLen > this.maxLine) {
      throw new LineTooLong(this.recordLine, this.quoted ? 'this CSV record (a quote not closed?)' : 'this CSV record', this.maxLine);
    }
  }

  private endField() {
    this.fields.push(this.field.length === 1 ? this.field[0] : this.field.join(''));
    this.field = [];
    this.fieldLen = 0;
  }

  private record(out: RawRow[]) {
    if (!this.sawAny && this.fieldLen === 0 && this.fields.length === 0) return; // blank line
    this.endField();
    const fields = this.fields;
    this.fields = [];
    this.recordLen = 0;
    this.sawAny = false;
    if (!this.header) { this.header = fields.map((f) => f.trim()); return; }
    if (fields.length !== this.header.length) {
      out.push({ line: this.recordLine, column: 1, reason: `CSV: ${fields.length} fields, the header has ${this.header.length}`, text: fields.join(',') });
      return;
    }
    const o: Record<string, unknown> = {};
    // An empty cell is a field the row does not have (a CSV cannot tell "" from absent; optional fields are absent).
    this.header.forEach((k, j) => { if (fields[j] !== undefined && fields[j] !== '') o[k] = cell(k, fields[j]); });
    out.push({ line: this.recordLine, value: o });
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
