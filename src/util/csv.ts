/**
 * The one RFC 4180 record tokenizer (data's reader and eval's loaders both sit on it): quoted fields may hold
 * commas, quotes as "" and newlines; text after a closing quote belongs to the field, as pandas reads it.
 * Every CR outside quotes is dropped (CRLF, a stray CR); CRs inside quotes are kept. Fields are sliced out
 * of the chunks and joined once at their end: one string per character took a 20 MB field past 3 GB.
 */

export interface CsvRecord {
  fields: string[];
  /** 1-based line the record starts on, for messages. */
  line: number;
}

/** A quote still open at the end of the text: the file was cut short, or a quote was never closed. */
export interface OpenQuote {
  /** The line the open field starts on. */
  line: number;
  /** The line its record starts on. */
  recordLine: number;
  /** The open field's text so far. */
  text: string;
}

export interface CsvLimits {
  /** Characters in a record (its fields and commas, CRs outside quotes aside). */
  maxRecord?: number;
  /** Characters in a field. */
  maxField?: number;
}

/** A cap passed; callers map it to their own error (the line is the record's or the field's first line). */
export class CsvTooLong extends Error {
  constructor(readonly what: 'record' | 'field', readonly line: number, readonly limit: number, readonly quoted: boolean) {
    super(`a CSV ${what} longer than ${limit} characters`);
  }
}

export class CsvTokenizer {
  private fields: string[] = [];
  private field: string[] = [];
  private fieldLen = 0;
  private recordLen = 0;
  /** Anything but a CR seen in this field: a quote opens a quoted field only at its start. */
  private fieldStarted = false;
  /** Anything seen in this record: a line with nothing on it is no record. */
  private recordStarted = false;
  private quoted = false;
  /** Just past a closing quote: a quote here is an escaped one ("") and the field is quoted again. */
  private afterQuote = false;
  private line = 1;
  private recordLine = 1;
  private fieldLine = 1;
  private readonly maxRecord: number;
  private readonly maxField: number;

  constructor(limits: CsvLimits = {}) {
    this.maxRecord = limits.maxRecord ?? Infinity;
    this.maxField = limits.maxField ?? Infinity;
  }

  /** Tokenize a chunk; the records it completes go to out. A chunk may end anywhere, even inside "". */
  push(chunk: string, out: CsvRecord[]) {
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
        if (!this.fieldStarted) { this.open(); this.quoted = true; i++; continue; }
      }
      this.afterQuote = false;
      if (c === 13) { i++; continue; }
      if (c === 44) { this.endField(); this.recordLen++; this.recordStarted = true; i++; continue; }
      if (c === 10) { this.record(out); this.line++; this.recordLine = this.fieldLine = this.line; i++; continue; }
      // A run of plain characters up to the next one that means something.
      let j = i + 1;
      for (let d = chunk.charCodeAt(j); j < n && d !== 44 && d !== 10 && d !== 13 && d !== 34; d = chunk.charCodeAt(++j));
      if (!this.fieldStarted) this.open();
      this.add(chunk, i, j);
      i = j;
    }
  }

  /** The last record (a text need not end in a newline) to out; a quote still open is returned, not a record. */
  end(out: CsvRecord[]): OpenQuote | undefined {
    if (this.quoted) return { line: this.fieldLine, recordLine: this.recordLine, text: this.field.join('') };
    this.record(out);
    return undefined;
  }

  private open() {
    this.fieldStarted = this.recordStarted = true;
    this.fieldLine = this.line;
  }

  private add(s: string, from: number, to: number) {
    if (to <= from) return;
    this.field.push(from === 0 && to === s.length ? s : s.slice(from, to));
    this.fieldLen += to - from;
    this.recordLen += to - from;
    if (this.fieldLen > this.maxField) throw new CsvTooLong('field', this.fieldLine, this.maxField, this.quoted);
    if (this.recordLen > this.maxRecord) throw new CsvTooLong('record', this.recordLine, this.maxRecord, this.quoted);
  }

  private endField() {
    this.fields.push(this.field.length === 1 ? this.field[0] : this.field.join(''));
    this.field = [];
    this.fieldLen = 0;
    this.fieldStarted = false;
    this.fieldLine = this.line;
  }

  private record(out: CsvRecord[]) {
    if (!this.recordStarted) return;
    this.endField();
    out.push({ fields: this.fields, line: this.recordLine });
    this.fields = [];
    this.recordLen = 0;
    this.recordStarted = false;
  }
}
