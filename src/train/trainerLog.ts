import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs';

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

/** What one read() takes in at most: a 2 GB log (or one that never ends) is read a few MiB per look, never at once. */
export const READ_BUDGET = 4 * 1024 * 1024;
const CHUNK = 256 * 1024;
/** LLaMA-Factory's lines are a few hundred bytes: a longer "line" is not one of its entries, and is not kept in memory. */
export const MAX_LINE = 64 * 1024;
const HEAD_BYTES = 64 * 1024;

const NUMBER_KEYS = ['current_steps', 'total_steps', 'loss', 'eval_loss', 'predict_loss', 'reward', 'accuracy', 'lr', 'epoch', 'percentage',
  'throughput', 'total_tokens', 'vram_allocated', 'vram_reserved'] as const;
const TIME_KEYS = ['elapsed_time', 'remaining_time'] as const;

/**
 * Python's json.dumps writes float('nan') and float('inf') as the bare words NaN, Infinity and -Infinity, which
 * JSON.parse refuses: a run whose loss went NaN (fp16 overflow) would otherwise lose every line from then on, its
 * progress included. The words outside strings become numbers again.
 */
const PY_SPECIAL = /"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g;
const SPECIAL: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };
const MARK = '\u0000py:';

function parseLine(text: string): TrainerLogLine | undefined {
  let v: unknown;
  try {
    const json = /NaN|Infinity/.test(text) ? text.replace(PY_SPECIAL, (m) => (m[0] === '"' ? m : `"\\u0000py:${m}"`)) : text;
    v = JSON.parse(json, (_k, x) => (typeof x === 'string' && x.startsWith(MARK) ? SPECIAL[x.slice(MARK.length)] : x));
  } catch {
    // a torn or foreign line: LLaMA-Factory writes whole lines, so this is not one of its entries
    return undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.current_steps !== 'number' || typeof o.total_steps !== 'number') return undefined;
  // Only LLaMA-Factory's keys, each of its type: whoever reads a line (a chart, a page) gets what the type says.
  const line: Record<string, unknown> = {};
  for (const k of NUMBER_KEYS) if (typeof o[k] === 'number') line[k] = o[k];
  for (const k of TIME_KEYS) if (typeof o[k] === 'string' && (o[k] as string).length <= 64) line[k] = o[k];
  return line as unknown as TrainerLogLine;
}

/**
 * Follows a trainer_log.jsonl that another process appends to: each `read()` returns the complete lines added
 * since the last one. A line still being written (no newline yet) waits for the next read; a line that is not a
 * log entry is skipped. When the file shrinks or is replaced (LLaMA-Factory deletes it when a run starts over
 * with overwrite_output_dir), reading starts again from the top and `reset` is true.
 *
 * Bounded, because the path is whatever the run's output_dir holds: one read takes in at most READ_BUDGET bytes
 * (`behind` says more is waiting), a line longer than MAX_LINE is dropped unread, and only a regular file is read
 * — a FIFO would block the process on open, /dev/zero never ends (both throw, with code EFTYPE).
 */
export class TrainerLogReader {
  private offset = 0;
  /** The bytes of the line still being written (no newline yet); never more than MAX_LINE. */
  private pending: Buffer = Buffer.alloc(0);
  /** The unfinished line grew past MAX_LINE: drop everything up to its newline. */
  private skipping = false;
  private ino = -1;
  private size = 0;
  /** The file's first bytes as read (at most HEAD_BYTES), to tell a replaced file that goes on from one that starts over. */
  private head: Buffer = Buffer.alloc(0);
  constructor(readonly path: string) {}

  /** Whether the last read stopped at READ_BUDGET with more of the file unread. */
  get behind(): boolean {
    return this.offset < this.size;
  }

  read(): { lines: TrainerLogLine[]; reset: boolean } {
    if (!existsSync(this.path)) {
      const reset = this.offset > 0;
      this.start(-1, 0);
      return { lines: [], reset };
    }
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, and the whole process with it.
    const fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    let data: Buffer;
    let reset = false;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) {
        const e = new Error(`${this.path} is not a regular file`) as NodeJS.ErrnoException;
        e.code = st.isDirectory() ? 'EISDIR' : 'EFTYPE';
        throw e;
      }
      if (st.size < this.offset || (st.ino !== this.ino && !this.continues(fd))) {
        reset = this.ino !== -1;
        this.start(st.ino, st.size);
      }
      this.ino = st.ino;
      this.size = st.size;
      const want = Math.min(st.size - this.offset, READ_BUDGET);
      if (want <= 0) return { lines: [], reset };
      data = Buffer.alloc(this.pending.length + want);
      this.pending.copy(data);
      let got = this.pending.length;
      while (got < data.length) {
        const n = readSync(fd, data, got, Math.min(CHUNK, data.length - got), this.offset);
        if (n <= 0) break;
        if (this.head.length < HEAD_BYTES) {
          this.head = Buffer.concat([this.head, data.subarray(got, got + Math.min(n, HEAD_BYTES - this.head.length))]);
        }
        got += n;
        this.offset += n;
      }
      data = data.subarray(0, got);
    } finally {
      closeSync(fd);
    }
    return { lines: this.take(data), reset };
  }

  /**
   * Whether a replaced file begins as the one read so far did. A log copied to a shared disk (rsync writes a temp
   * file and renames it; some network file systems show a new inode after a reconnect) is replaced on every copy,
   * with the same lines and more: reading it again from the top would show a start over each time. The first
   * HEAD_BYTES are compared (bounded: a 2 GB log is not re-read); a new attempt writes a different first line
   * (its own elapsed_time, from step 1), so it is told apart.
   */
  private continues(fd: number): boolean {
    if (this.ino === -1 || this.head.length === 0) return false;
    const b = Buffer.alloc(this.head.length);
    let got = 0;
    while (got < b.length) {
      const n = readSync(fd, b, got, b.length - got, got);
      if (n <= 0) return false;
      got += n;
    }
    return b.equals(this.head);
  }

  private start(ino: number, size: number) {
    this.head = Buffer.alloc(0);
    this.ino = ino;
    this.size = size;
    this.offset = 0;
    this.pending = Buffer.alloc(0);
    this.skipping = false;
  }

  /** The complete lines of `data` (a newline byte is never inside a UTF-8 character); the rest waits. */
  private take(data: Buffer): TrainerLogLine[] {
    const nl = data.lastIndexOf(0x0a);
    if (this.skipping && nl < 0) return [];
    const rest = nl < 0 ? data : data.subarray(nl + 1);
    const lines: TrainerLogLine[] = [];
    if (nl >= 0) {
      const parts = data.subarray(0, nl).toString('utf8').split('\n');
      if (this.skipping) { parts.shift(); this.skipping = false; }
      for (const p of parts) {
        if (p.length > MAX_LINE || !p.trim()) continue;
        const line = parseLine(p);
        if (line) lines.push(line);
      }
    }
    if (rest.length > MAX_LINE) {
      this.skipping = true;
      this.pending = Buffer.alloc(0);
    } else {
      this.pending = Buffer.from(rest);
    }
    return lines;
  }
}

/** Every complete entry of a trainer_log.jsonl (none when it does not exist yet), however many budgets that takes. */
export function readTrainerLog(path: string): TrainerLogLine[] {
  const r = new TrainerLogReader(path);
  const lines = r.read().lines;
  while (r.behind) for (const l of r.read().lines) lines.push(l);
  return lines;
}
