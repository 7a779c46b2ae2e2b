import { jsonErrorAt } from './jsonError.js';
import { DEFAULT_LIMITS, LineTooLong, TOO_DEEP, tooDeep } from './limits.js';
import type { ChunkParser, RawRow } from './rawRow.js';

/**
 * A top-level JSON array read element by element, so a multi-gigabyte .json file never sits in memory
 * whole. It tracks strings and nesting only to find where each element ends; each element is then
 * parsed on its own, so one broken element is reported and the others still read.
 */
export class JsonArrayParser implements ChunkParser {
  private line: number;
  private col = 0;
  private elemCol = 0;
  private state: 'before' | 'between' | 'in' | 'after' = 'before';
  private depth = 0;
  private inStr = false;
  private esc = false;
  private elemLine = 0;
  private pending = '';
  private trailingReported = false;

  /** maxLine bounds one element (a file that is one endless element would otherwise be held whole). */
  constructor(private readonly maxLine = DEFAULT_LIMITS.maxLine, firstLine = 1) {
    this.line = firstLine;
  }

  push(chunk: string, out: RawRow[]) {
    const n = chunk.length;
    let segStart = this.state === 'in' ? 0 : -1;
    for (let i = 0; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 10) { this.line++; this.col = 0; } else this.col++;
      if (this.state === 'in') {
        if (this.inStr) {
          if (this.esc) this.esc = false;
          else if (c === 92) this.esc = true;
          else if (c === 34) this.inStr = false;
          continue;
        }
        if (c === 34) { this.inStr = true; continue; }
        if (c === 123 || c === 91) { this.depth++; continue; }
        if (c === 125 || c === 93) {
          if (this.depth > 0) {
            this.depth--;
            if (this.depth === 0) { this.emit(this.pending + chunk.slice(segStart, i + 1), out); segStart = -1; }
            continue;
          }
          // A ']' at depth 0 closes the array right after a bare value.
          this.emit(this.pending + chunk.slice(segStart, i), out);
          segStart = -1;
          this.state = 'after';
          continue;
        }
        if (c === 44 && this.depth === 0) { this.emit(this.pending + chunk.slice(segStart, i), out); segStart = -1; this.state = 'between'; }
        continue;
      }
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) continue;
      if (this.state === 'before') {
        if (c === 91) { this.state = 'between'; continue; }
        out.push({ line: this.line, column: 1, reason: 'JSON: a .json file must hold an array of rows ([{…}, {…}])', text: '' });
        this.state = 'after';
        this.trailingReported = true;
        continue;
      }
      if (this.state === 'between') {
        if (c === 44) continue;
        if (c === 93) { this.state = 'after'; continue; }
        this.state = 'in';
        this.elemLine = this.line;
        this.elemCol = this.col;
        this.pending = '';
        segStart = i;
        this.depth = c === 123 || c === 91 ? 1 : 0;
        this.inStr = c === 34;
        continue;
      }
      if (!this.trailingReported) {
        out.push({ line: this.line, column: 1, reason: 'JSON: text after the closing ] of the array', text: '' });
        this.trailingReported = true;
      }
    }
    if (this.state === 'in') {
      this.pending += chunk.slice(segStart);
      if (this.pending.length > this.maxLine) throw new LineTooLong(this.elemLine, 'this array element', this.maxLine);
    }
  }

  end(out: RawRow[]) {
    if (this.state === 'in') {
      // The file ends inside an element: the element is cut, not broken; only the rows before it are whole.
      this.pending = '';
      this.state = 'between';
      out.push({ line: this.elemLine, column: 1, reason: 'JSON: the file ends inside this element; the array is not closed with ]', text: '', truncated: true });
    } else if (this.state === 'before') {
      // An empty file holds no rows.
    } else if (this.state === 'between') {
      out.push({ line: this.line, column: 1, reason: 'JSON: the array is not closed with ]', text: '', truncated: true });
    }
  }

  private emit(text: string, out: RawRow[]) {
    const line = this.elemLine;
    const col = this.elemCol;
    this.pending = '';
    this.state = 'between';
    const t = text.trim();
    if (t === '') return;
    if (t.length > this.maxLine) throw new LineTooLong(line, 'this array element', this.maxLine);
    try {
      const value: unknown = JSON.parse(t);
      out.push(tooDeep(value) ? { line, column: col, reason: TOO_DEEP, text: t } : { line, value });
    } catch {
      const e = jsonErrorAt(t);
      const lead = text.length - text.trimStart().length;
      const before = text.slice(0, lead + e.index);
      const nl = before.lastIndexOf('\n');
      out.push({ line: line + countNewlines(before), column: nl === -1 ? col + e.index : before.length - nl, reason: `JSON: ${e.reason}`, text: t });
    }
  }
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
