import { RawText } from '../text.js';
import type { ChunkParser, RawRow } from './rawRow.js';

/**
 * CSV (RFC 4180: quoted fields may hold commas, quotes as "" and newlines). The first record names the
 * columns. A field that holds JSON (a list of turns, say) is read as that JSON, so a dataset exported
 * to CSV reads back as the rows it was.
 */
export class CsvParser implements ChunkParser {
  private header: string[] | undefined;
  private fields: string[] = [];
  private field = '';
  private quoted = false;
  private afterQuote = false;
  private line = 1;
  private recordLine = 1;
  private sawAny = false;

  push(chunk: string, out: RawRow[]) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.quoted) {
        if (c === '"') { this.quoted = false; this.afterQuote = true; continue; }
        if (c === '\n') this.line++;
        this.field += c;
        continue;
      }
      if (c === '"') {
        if (this.afterQuote) { this.field += '"'; this.quoted = true; this.afterQuote = false; continue; }
        if (this.field === '') { this.quoted = true; this.sawAny = true; continue; }
      }
      this.afterQuote = false;
      if (c === ',') { this.fields.push(this.field); this.field = ''; this.sawAny = true; continue; }
      if (c === '\n') { this.record(out); this.line++; this.recordLine = this.line; continue; }
      if (c === '\r') continue;
      this.field += c;
      this.sawAny = true;
    }
  }

  end(out: RawRow[]) {
    if (this.quoted) out.push({ line: this.recordLine, column: 1, reason: 'CSV: a quoted field is not closed', text: this.field });
    else this.record(out);
  }

  private record(out: RawRow[]) {
    if (!this.sawAny && this.field === '' && this.fields.length === 0) return; // blank line
    const fields = [...this.fields, this.field];
    this.fields = [];
    this.field = '';
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
      if (m && typeof m === 'object' && (('from' in m && 'value' in m) || ('role' in m && 'content' in m))) return m;
    } catch { /* text */ }
    return v;
  }
  if ((LISTS.has(column) || MESSAGE_LISTS.has(column)) && c === '[') {
    try {
      const parsed: unknown = JSON.parse(v);
      if (!Array.isArray(parsed)) return v;
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
