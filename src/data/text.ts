/**
 * A JSON string left as the bytes the file had, between its quotes. `data convert` moves message texts
 * from one JSON layout to another without changing them, so it need not decode UTF-8 into a JS string
 * and encode it again: the bytes are valid JSON string content and are copied to the output as they are
 * (escapes included). Anything that needs the characters (stats, alpaca's instruction + input) asks for
 * `textOf`, which decodes once.
 */
export class RawText {
  private decoded: string | undefined;
  constructor(readonly buf: Buffer, readonly start: number, readonly end: number, readonly escaped: boolean) {}
  toString(): string {
    if (this.decoded === undefined) {
      this.decoded = this.escaped ? JSON.parse(this.buf.toString('utf8', this.start - 1, this.end + 1)) as string : this.buf.toString('utf8', this.start, this.end);
    }
    return this.decoded;
  }
  toJSON(): string { return this.toString(); }
}

/** A message text: a JS string, or the raw bytes of a JSON string. */
export type Text = string | RawText;

export const isText = (v: unknown): v is Text => typeof v === 'string' || v instanceof RawText;
export const textOf = (t: Text): string => (typeof t === 'string' ? t : t.toString());
export const isEmptyText = (t: Text | undefined): boolean => t === undefined || (typeof t === 'string' ? t === '' : t.end === t.start);

/** Only blanks (spaces, tabs, newlines…)? Raw text is decoded only when it is short or starts blank. */
export function isBlank(t: Text): boolean {
  if (typeof t === 'string') return t.trim() === '';
  if (t.end === t.start) return true;
  const c = t.buf[t.start];
  // A first byte that is neither whitespace, an escape, nor the lead byte of a Unicode space (U+00A0:
  // C2, U+1680: E1, U+2000–U+205F: E2, U+3000: E3, U+FEFF: EF) settles it without decoding.
  if (c > 0x20 && c !== 0x5c && c < 0x80) return false;
  if (c >= 0x80 && c !== 0xc2 && c !== 0xe1 && c !== 0xe2 && c !== 0xe3 && c !== 0xef) return false;
  return t.toString().trim() === '';
}
