import { RawText } from '../text.js';
import { MAX_DEPTH } from './limits.js';

class Invalid extends Error {}

/**
 * Object keys repeat on every row ("conversation", "human", …): decode each distinct key once. Looked up
 * by a hash of its bytes and checked byte for byte.
 */
const keyCache = new Map<number, { bytes: Uint8Array; key: string }>();
function keyOf(buf: Buffer, s: number, e: number): string {
  let h = 0x811c9dc5;
  for (let k = s; k < e; k++) h = Math.imul(h ^ buf[k], 0x01000193);
  h = (h ^ (e - s)) >>> 0;
  const hit = keyCache.get(h);
  if (hit && hit.bytes.length === e - s) {
    let same = true;
    for (let k = 0; k < e - s; k++) if (hit.bytes[k] !== buf[s + k]) { same = false; break; }
    if (same) return hit.key;
  }
  const key = buf.toString('utf8', s, e);
  if (keyCache.size < 4096 && e - s <= 64) keyCache.set(h, { bytes: Uint8Array.prototype.slice.call(buf, s, e), key });
  return key;
}

// Parser state lives in module variables and hot loops copy it into locals: closures over a shared
// index made every byte a memory round trip.
let B: Buffer = Buffer.alloc(0);
let P = 0;
let E = 0;
const NUM = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function ws() {
  let i = P;
  const b = B;
  let c = b[i];
  while (i < E && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = b[++i];
  P = i;
}

/** A string from its opening quote at P; P moves past the closing quote. */
function scan(): RawText {
  const b = B, end = E;
  const s = P + 1;
  let i = s;
  let escaped = false;
  for (;;) {
    if (i >= end) throw new Invalid();
    const c = b[i];
    if (c === 0x22) break;
    if (c === 0x5c) {
      escaped = true;
      const e = b[i + 1];
      if (e === 0x75) {
        for (let k = 2; k < 6; k++) {
          const h = b[i + k];
          if (!((h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66))) throw new Invalid();
        }
        i += 6;
        continue;
      }
      if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) { i += 2; continue; }
      throw new Invalid();
    }
    if (c < 0x20) throw new Invalid();
    i++;
  }
  P = i + 1;
  return new RawText(b, s, i, escaped);
}

function value(depth: number): unknown {
  if (depth >= MAX_DEPTH) throw new Invalid();
  ws();
  const b = B;
  const c = b[P];
  if (c === 0x22) return scan();
  if (c === 0x7b) {
    P++;
    const o: Record<string, unknown> = {};
    ws();
    if (b[P] === 0x7d) { P++; return o; }
    for (;;) {
      ws();
      if (b[P] !== 0x22) throw new Invalid();
      const k = scan();
      const key = k.escaped ? k.toString() : keyOf(b, k.start, k.end);
      ws();
      if (b[P] !== 0x3a) throw new Invalid();
      P++;
      const v = value(depth + 1);
      if (key === '__proto__') Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
      else o[key] = v;
      ws();
      const d = b[P++];
      if (d === 0x2c) continue;
      if (d === 0x7d) return o;
      throw new Invalid();
    }
  }
  if (c === 0x5b) {
    P++;
    const a: unknown[] = [];
    ws();
    if (b[P] === 0x5d) { P++; return a; }
    for (;;) {
      a.push(value(depth + 1));
      ws();
      const d = b[P++];
      if (d === 0x2c) continue;
      if (d === 0x5d) return a;
      throw new Invalid();
    }
  }
  const i = P;
  if (c === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) { P += 4; return true; }
  if (c === 0x66 && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65) { P += 5; return false; }
  if (c === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) { P += 4; return null; }
  let j = i;
  while (j < E) { const d = b[j]; if ((d >= 0x30 && d <= 0x39) || d === 0x2d || d === 0x2b || d === 0x2e || d === 0x65 || d === 0x45) j++; else break; }
  const num = b.toString('latin1', i, j);
  if (!NUM.test(num)) throw new Invalid();
  P = j;
  return Number(num);
}

/**
 * Parse one JSON text from bytes without decoding its string values: each becomes a RawText over the
 * buffer. Object keys are decoded (they are short, and cached). Throws on anything JSON.parse would
 * reject except invalid UTF-8 inside strings, which is copied through as it is; callers fall back to
 * JSON.parse on the decoded line for the error message.
 */
export function parseJsonBytes(buf: Buffer, start: number, end: number): unknown {
  B = buf; P = start; E = end;
  try {
    const v = value(0);
    ws();
    if (P !== end) throw new Invalid();
    return v;
  } finally {
    B = EMPTY;
  }
}
const EMPTY = Buffer.alloc(0);

export function isInvalidJson(e: unknown): boolean {
  return e instanceof Invalid;
}

/**
 * A JSON value as bytes appended to `out`, copying RawText bytes as they are. Strings of our own go
 * through JSON.stringify (which writes non-ASCII as itself, like ensure_ascii=False).
 */
export class JsonBytesWriter {
  buf = Buffer.allocUnsafe(1 << 22);
  len = 0;

  private room(n: number) {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  ascii(s: string) {
    this.room(s.length);
    for (let k = 0; k < s.length; k++) this.buf[this.len++] = s.charCodeAt(k);
  }

  /** One ASCII byte. */
  byte(c: number) {
    this.room(1);
    this.buf[this.len++] = c;
  }

  /** Text as UTF-8, as it is (separators, brackets). */
  text(s: string) {
    this.room(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  private keys = new Map<string, Buffer>();

  /** `"key":` (with a comma before it unless first), encoded once per distinct key. */
  private key(k: string, first: boolean) {
    let b = this.keys.get(k);
    if (!b) { b = Buffer.from(`,${JSON.stringify(k)}:`); if (this.keys.size < 4096) this.keys.set(k, b); }
    const from = first ? 1 : 0;
    this.room(b.length);
    for (let j = from; j < b.length; j++) this.buf[this.len++] = b[j];
  }

  private str(s: string) {
    const j = JSON.stringify(s);
    this.room(j.length * 3);
    this.len += this.buf.write(j, this.len, 'utf8');
  }

  value(v: unknown): void {
    if (v instanceof RawText) {
      const n = v.end - v.start;
      this.room(n + 2);
      const out = this.buf;
      let o = this.len;
      out[o++] = 0x22;
      // Short texts byte by byte: Buffer.copy's argument checks cost more than the copy.
      if (n < 512) { const src = v.buf; for (let k = v.start; k < v.end; k++) out[o++] = src[k]; }
      else { out.set(v.buf.subarray(v.start, v.end), o); o += n; }
      out[o++] = 0x22;
      this.len = o;
    } else if (typeof v === 'string') {
      this.str(v);
    } else if (Array.isArray(v)) {
      this.byte(0x5b);
      for (let k = 0; k < v.length; k++) { if (k) this.byte(0x2c); this.value(v[k] === undefined ? null : v[k]); }
      this.byte(0x5d);
    } else if (v !== null && typeof v === 'object') {
      this.byte(0x7b);
      let first = true;
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined || typeof x === 'function') continue;
        this.key(k, first);
        first = false;
        this.value(x);
      }
      this.byte(0x7d);
    } else {
      this.ascii(JSON.stringify(v) ?? 'null');
    }
  }

  /** Hand the bytes written so far to `sink` and start over. */
  drain(sink: (b: Buffer) => void) {
    if (this.len) sink(this.buf.subarray(0, this.len));
    this.len = 0;
  }
}
