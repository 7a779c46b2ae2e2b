import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

/**
 * One line of LLaMA-Factory's output_dir/trainer_log.jsonl, as its LogCallback.on_log writes it
 * (train/callbacks.py): keys whose value is None are left out, times are str(timedelta) ("0:01:05",
 * "1 day, 2:03:04"). `accuracy` is TRL's rewards/accuracies (DPO, ORPO); `reward` is the reward model's.
 * During a prediction-only run, lines carry just the step counts and times.
 */
export interface TrainerLogLine {
  current_steps: number;
  total_steps: number;
  loss?: number;
  eval_loss?: number;
  predict_loss?: number;
  reward?: number;
  accuracy?: number;
  lr?: number;
  epoch?: number;
  percentage: number;
  elapsed_time: string;
  remaining_time: string;
  throughput?: number;
  total_tokens?: number;
  vram_allocated?: number;
  vram_reserved?: number;
}

/** Seconds in a Python str(timedelta): "H:MM:SS" or "N day(s), H:MM:SS"; undefined when it is not one. */
export function parseTimedelta(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(?:(\d+) days?, )?(\d+):(\d\d):(\d\d)(?:\.\d+)?$/.exec(s.trim());
  if (!m) return undefined;
  return (Number(m[1] ?? 0) * 24 + Number(m[2])) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

function isLine(v: unknown): v is TrainerLogLine {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return typeof o.current_steps === 'number' && typeof o.total_steps === 'number';
}

/**
 * Follows a trainer_log.jsonl that another process appends to: each `read()` returns the complete lines added
 * since the last one. A line still being written (no newline yet) waits for the next read; a line that is not a
 * log entry is skipped. When the file shrinks or is replaced (LLaMA-Factory deletes it when a run starts over
 * with overwrite_output_dir), reading starts again from the top and `reset` is true.
 */
export class TrainerLogReader {
  private offset = 0;
  private pending = '';
  private ino = -1;
  /** A hash of the bytes read so far, to tell a replaced file that goes on from one that started over. */
  private seen = createHash('sha1');
  constructor(readonly path: string) {}

  /**
   * Whether a replaced file begins with everything read so far. A log copied to a shared disk (rsync writes a
   * temp file and renames it; some network file systems show a new inode after a reconnect) is replaced on every
   * copy, with the same lines and more: reading it again from the top would show a start over each time.
   */
  private continues(size: number): boolean {
    if (this.ino === -1 || size < this.offset) return false;
    const h = createHash('sha1');
    const fd = openSync(this.path, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (let at = 0; at < this.offset;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, this.offset - at), at);
        if (n <= 0) return false;
        h.update(buf.subarray(0, n));
        at += n;
      }
    } finally {
      closeSync(fd);
    }
    return h.digest('hex') === this.seen.copy().digest('hex');
  }

  read(): { lines: TrainerLogLine[]; reset: boolean } {
    if (!existsSync(this.path)) {
      const reset = this.offset > 0;
      this.offset = 0;
      this.pending = '';
      this.ino = -1; // the file that comes next is read from its top, as a start over already reported
      this.seen = createHash('sha1');
      return { lines: [], reset };
    }
    const st = statSync(this.path);
    let reset = false;
    if (st.size < this.offset || (st.ino !== this.ino && !this.continues(st.size))) {
      reset = this.ino !== -1;
      this.offset = 0;
      this.pending = '';
      this.seen = createHash('sha1');
    }
    this.ino = st.ino;
    if (st.size === this.offset) return { lines: [], reset };
    const fd = openSync(this.path, 'r');
    const chunks: Buffer[] = [];
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
        this.seen.update(buf.subarray(0, n));
        this.offset += n;
      }
    } finally {
      closeSync(fd);
    }
    const text = this.pending + Buffer.concat(chunks).toString('utf8');
    const parts = text.split('\n');
    this.pending = parts.pop() ?? '';
    const lines: TrainerLogLine[] = [];
    for (const p of parts) {
      if (!p.trim()) continue;
      const v = parsePyJson(p);
      if (isLine(v)) lines.push(v);
    }
    return { lines, reset };
  }
}

const PY_SPECIAL: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
const MARK = '\u0000py:';

/**
 * One line of Python's json.dumps, which writes a float nan or inf as the bare words NaN, Infinity, -Infinity
 * (allow_nan=True, its default) — not JSON, so JSON.parse refuses the line. A run whose loss diverged logs
 * exactly those lines (transformers logs the NaN loss as it is), and they are the ones the user must see. The
 * words are read as numbers where they stand outside a string. undefined: a torn or foreign line (LLaMA-Factory
 * writes whole lines, so this is not one of its entries).
 */
export function parsePyJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // below: the same line with Python's special floats
  }
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    const word = /^(?:-?Infinity|NaN)/.exec(text.slice(i, i + 9))?.[0];
    if (word) {
      out += JSON.stringify(MARK + word);
      i += word.length - 1;
      continue;
    }
    out += c;
  }
  try {
    return JSON.parse(out, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(MARK) ? PY_SPECIAL[v.slice(MARK.length)] : v));
  } catch {
    return undefined;
  }
}

/** Every complete entry of a trainer_log.jsonl (none when it does not exist yet). */
export function readTrainerLog(path: string): TrainerLogLine[] {
  return new TrainerLogReader(path).read().lines;
}
