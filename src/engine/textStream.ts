/**
 * Turns generated tokens into text that is safe to stream: never half a UTF-8 character (one Chinese
 * character or emoji often spans several byte-level tokens) and never the start of a stop string that
 * may yet complete.
 */
export class TextStream {
  private pending: number[] = [];
  /** Characters of decode(pending) already moved into `text`. */
  private consumed = 0;
  /** All text decoded so far (complete characters only). */
  private text = '';
  /** How much of `text` has been handed out. */
  private emitted = 0;
  private readonly longestStop: number;
  stoppedBy?: string;

  private readonly stops: string[];

  constructor(private detokenize: (tokens: number[]) => string, stops: string[] = []) {
    this.stops = stops.filter((s) => s.length > 0); // an empty stop string would match at once
    // A loop, not Math.max(...lengths): a request may send hundreds of thousands of stop strings, and spreading
    // that many arguments overflows the stack.
    this.longestStop = this.stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /** Add a token; returns the text that can be shown now ('' if nothing yet). */
  push(token: number): string {
    this.pending.push(token);
    const piece = this.detokenize(this.pending);
    // An incomplete UTF-8 sequence at the end decodes to U+FFFD: show what comes before it, keep the
    // tokens, and decode them again with the next token. Decoding is stable on the complete prefix.
    let end = piece.length;
    while (end > 0 && piece[end - 1] === '\uFFFD') end--;
    if (end === piece.length || this.pending.length >= 16) {
      this.text += piece.slice(this.consumed);
      this.pending = [];
      this.consumed = 0;
    } else {
      this.text += piece.slice(this.consumed, end);
      this.consumed = end;
    }
    return this.release(false);
  }

  /** End of generation: everything left (minus a stop string). */
  flush(): string {
    if (this.pending.length) {
      this.text += this.detokenize(this.pending).slice(this.consumed);
      this.pending = [];
      this.consumed = 0;
    }
    return this.release(true);
  }

  get done(): boolean {
    return this.stoppedBy !== undefined;
  }

  /** The full reply text, cut at the stop string if one was hit. */
  get result(): string {
    return this.text.slice(0, this.stoppedAt ?? this.text.length);
  }

  private stoppedAt?: number;

  private release(final: boolean): string {
    if (this.stoppedBy !== undefined) return '';
    if (this.stops.length) {
      const from = Math.max(0, this.emitted - this.longestStop);
      let hit = -1;
      for (const s of this.stops) {
        const i = this.text.indexOf(s, from);
        if (i !== -1 && (hit === -1 || i < hit)) { hit = i; this.stoppedBy = s; }
      }
      if (hit !== -1) {
        this.stoppedAt = hit;
        const out = this.text.slice(this.emitted, hit);
        this.emitted = hit;
        return out;
      }
    }
    let end = this.text.length;
    if (!final) {
      // Hold back a tail that is the beginning of some stop string.
      for (let k = Math.min(this.longestStop - 1, end - this.emitted); k > 0; k--) {
        const tail = this.text.slice(end - k);
        if (this.stops.some((s) => s.startsWith(tail))) { end -= k; break; }
      }
    }
    const out = this.text.slice(this.emitted, end);
    this.emitted = end;
    return out;
  }
}
