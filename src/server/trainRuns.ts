import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { openRun, RUN_FILES, type Run } from '../train/runDir.js';
import { runStatus, type RunStatus } from '../train/runStatus.js';
import { parseTimedelta, TrainerLogReader, type TrainerLogLine } from '../train/trainerLog.js';

/**
 * Lines kept per run. A 3-day run logging every step writes ~260k lines (and a log can be anything): past
 * MAX_KEPT the older lines are thinned (thinLines), the newest RECENT kept as they are, so memory stays bounded
 * and the curve keeps its shape from step 0.
 */
export const MAX_KEPT = 10_000;
const RECENT = 1000;
/** A log quiet for longer than this (and than 10 logging intervals) is reported (`quiet`): 15 minutes. */
export const QUIET_MIN = 15 * 60;
/** train.yaml and llama3-zh.json are a few KiB; anything bigger (or not a file: a FIFO blocks a read) is not one. */
const MAX_CONFIG = 1024 * 1024;

/** The newest value of each number the page shows: the last line may be an eval line without a loss. */
const LATEST_KEYS = ['loss', 'eval_loss', 'accuracy', 'reward', 'lr', 'epoch', 'throughput'] as const;

interface Watched {
  id: string;
  /** The path as given to --train-dir; never shown to clients (only its last part, `name`). */
  arg: string;
  name: string;
  run?: Run;
  /** train.yaml's mtime when it was opened: a rewritten one (`train init --force`) is opened again. */
  configMtime?: number;
  reader?: TrainerLogReader;
  lines: TrainerLogLine[];
  /** Bumped whenever the log starts over (replaced, shrunk, a new output_dir): clients then read it again from 0. */
  generation: number;
  status: RunStatus;
  note?: string;
  /** The log has more unread than one look takes (TrainerLogReader's budget): a page may ask again at once. */
  reading: boolean;
}

export interface RunSummary {
  id: string;
  name: string;
  recipe?: string;
  model?: string;
  stage?: string;
  finetuningType?: string;
  template?: string;
  status: RunStatus;
  /** Why a run is waiting, in a few words (no paths). */
  note?: string;
  lines: number;
  /**
   * Seconds since trainer_log.jsonl last grew, only for a running run that is overdue (longer than QUIET_MIN and
   * than 10 of its own logging intervals): a trainer killed without a word (a cluster's time limit, a lost node)
   * leaves no traceback, and a 3-day run must not say "running" with a time left for ever.
   */
  quiet?: number;
  /** Part of the log is still unread (a long one is read a few MiB per request): ask again without waiting. */
  reading: boolean;
  /** The log's identity; a page that holds lines of another one must drop them. */
  log: string;
  last: TrainerLogLine | null;
  latest: Partial<Record<(typeof LATEST_KEYS)[number], number>>;
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** Ids a URL can carry: the folder's name in [a-z0-9._-], made unique with -2, -3… */
function ids(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const base = n.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return k === 1 ? base : `${base}-${k}`;
  });
}

/**
 * The run folders `serve --train-dir` watches, looked at when a client asks (no timers, nothing to stop). The
 * list is fixed when the server starts: a client names a run by its id, never by a path.
 */
export class TrainRuns {
  private runs: Watched[];
  /** Part of each log token, so a page that outlived a server restart sees another log, not the same numbers. */
  private boot = randomBytes(4).toString('hex');

  /** `now`: the clock the quiet time is measured by (tests give their own). */
  constructor(dirs: string[], private now: () => number = Date.now) {
    // DIR and DIR/train.yaml are one run; another .yaml in DIR is a config of its own.
    const unique = [...new Set(dirs.map((d) => resolve(d)).map((d) => (basename(d) === RUN_FILES.config ? dirname(d) : d)))];
    // A config other than DIR/train.yaml is named with its file too: two configs of one folder are two runs.
    const names = unique.map((d) => (/\.ya?ml$/i.test(d) ? `${basename(dirname(d))}/${basename(d)}` : basename(d)));
    this.runs = ids(names).map((id, i) => ({ id, arg: unique[i], name: names[i], lines: [], generation: 0, status: 'waiting', reading: false }));
  }

  list(): RunSummary[] {
    return this.runs.map((w) => this.summary(this.refresh(w)));
  }

  get(id: string): (RunSummary & { all: readonly TrainerLogLine[] }) | undefined {
    const w = this.runs.find((r) => r.id === id);
    return w && { ...this.summary(this.refresh(w)), all: w.lines };
  }

  private token(w: Watched): string {
    return `${this.boot}.${w.generation}`;
  }

  private summary(w: Watched): RunSummary {
    const c = w.run?.config ?? {};
    // llama3-zh.json as written by some version of `train init`, or by hand: each field only if it is what it should be.
    const meta: unknown = w.run?.meta;
    const m = meta && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
    const given = m.model && typeof m.model === 'object' ? (m.model as Record<string, unknown>) : {};
    const repo = str(given.repo), modelGiven = str(given.given);
    const latest: RunSummary['latest'] = {};
    for (let i = w.lines.length - 1; i >= 0 && Object.keys(latest).length < LATEST_KEYS.length; i--) {
      for (const k of LATEST_KEYS) {
        const v = w.lines[i][k];
        if (latest[k] === undefined && typeof v === 'number') latest[k] = v;
      }
    }
    const modelPath = str(c.model_name_or_path);
    return {
      id: w.id, name: w.name,
      recipe: str(m.recipe),
      // A repo id as it is; a local path by its last part only (the server's folders are not the client's business).
      model: repo ?? (modelGiven && !modelGiven.includes('/') ? modelGiven : undefined) ?? (modelPath && /^[\w.-]+\/[\w.-]+$/.test(modelPath) ? modelPath : modelPath && basename(modelPath)),
      stage: str(c.stage), finetuningType: str(c.finetuning_type), template: str(m.template) ?? str(c.template),
      status: w.status, note: w.note, quiet: this.quiet(w),
      lines: w.lines.length, reading: w.reading, log: this.token(w), last: w.lines.at(-1) ?? null, latest,
    };
  }

  private quiet(w: Watched): number | undefined {
    if (w.status !== 'running' || !w.run) return undefined;
    let mtime: number;
    try { mtime = statSync(w.run.trainerLog).mtimeMs; } catch { return undefined; }
    const quiet = Math.floor((this.now() - mtime) / 1000);
    // The run's own pace: the time between its last two lines (LLaMA-Factory's elapsed_time), at least a second.
    const [a, b] = [w.lines.at(-2), w.lines.at(-1)].map((l) => parseTimedelta(l?.elapsed_time));
    const interval = a !== undefined && b !== undefined ? Math.max(1, b - a) : 0;
    return quiet > Math.max(QUIET_MIN, 10 * interval) ? quiet : undefined;
  }

  private restart(w: Watched) {
    w.lines = [];
    w.generation++;
  }

  /**
   * Look at the folder again: a few stat calls, and a read only of what was appended (TrainerLogReader), so many
   * tabs polling every 2 s cost next to nothing.
   */
  private refresh(w: Watched): Watched {
    w.note = undefined;
    w.reading = false;
    try {
      // Gone (the folder deleted while watched): undefined, and openRun below says what is missing.
      let mtime: number | undefined;
      try { mtime = w.run ? statSync(w.run.configPath).mtimeMs : undefined; } catch { mtime = undefined; }
      if (!w.run || mtime !== w.configMtime) {
        checkFiles(w.arg);
        const run = openRun(w.arg);
        w.configMtime = statSync(run.configPath).mtimeMs;
        if (run.trainerLog !== w.run?.trainerLog) {
          w.reader = new TrainerLogReader(run.trainerLog);
          if (w.lines.length) this.restart(w);
        }
        w.run = run;
      }
    } catch (e) {
      // Not there yet (a run folder a cluster job will create), half-written, or not a folder we can read (ENOTDIR,
      // EACCES, a symlink loop): wait and look again, and keep serving the others.
      w.run = undefined;
      const code = (e as NodeJS.ErrnoException).code;
      w.note = e instanceof UserError && /does not exist/.test(e.message) ? 'no run folder yet'
        : e instanceof UserError && /has no train\.yaml/.test(e.message) ? 'no train.yaml yet'
        : e instanceof UserError || code === 'ENOENT' || code === 'EFTYPE' ? 'train.yaml cannot be read'
        : `run folder cannot be read (${typeof code === 'string' ? code : 'error'})`;
    }
    if (w.run && w.reader) {
      try {
        const got = w.reader.read();
        if (got.reset && w.lines.length) this.restart(w);
        for (const l of got.lines) w.lines.push(l);
        if (w.lines.length > MAX_KEPT) {
          // Thinned lines are other lines: clients read the log again from 0 (a new token), once per MAX_KEPT/2 lines.
          w.lines = thinLines(w.lines, MAX_KEPT / 2);
          w.generation++;
        }
        w.reading = w.reader.behind;
      } catch (e) {
        // A log we may not read, or a folder or FIFO in its place: say so and keep serving the others.
        const code = (e as NodeJS.ErrnoException).code;
        w.note = `trainer_log.jsonl cannot be read (${code === 'EFTYPE' ? 'not a file' : code ?? 'error'})`;
      }
    }
    w.status = runStatus(w.run);
    return w;
  }
}

/** The files openRun reads must be regular files of a sane size: a FIFO would block the server, a huge one fill it. */
function checkFiles(arg: string) {
  let p = resolve(arg);
  let st;
  try { st = statSync(p); } catch { return; } // openRun says what is missing
  const files: string[] = [];
  if (st.isDirectory()) files.push(join(p, RUN_FILES.config), join(p, RUN_FILES.meta));
  else files.push(p);
  for (p of files) {
    let f;
    try { f = statSync(p); } catch { continue; }
    if (!f.isFile() || f.size > MAX_CONFIG) throw Object.assign(new Error(`${p} is not a config file`), { code: 'EFTYPE' });
  }
}

/**
 * At most about `max` lines of a long log, in order: the newest RECENT as they are; the older ones grouped by
 * step into buckets of 2^k steps (k as small as fits), each keeping its lowest and highest loss and eval_loss —
 * the chart's own thinning (plot.ts `thin`), so a spike still shows and step 0's fall is kept. Buckets are
 * aligned to steps, so thinning again merges neighbours evenly instead of eating the start of the run.
 */
export function thinLines(lines: TrainerLogLine[], max: number): TrainerLogLine[] {
  const recent = Math.min(RECENT, Math.floor(max / 2));
  const cut = lines.length - recent;
  if (cut <= 0) return lines;
  const old = lines.slice(0, cut);
  const room = max - recent;
  let kept = old;
  for (let stride = 1; kept.length > room && stride < 2 ** 60; stride *= 2) kept = byBucket(old, stride);
  // A hostile log whose steps do not group (not numbers we can bucket): every n-th line.
  if (kept.length > room) { const n = Math.ceil(kept.length / room); kept = kept.filter((_, i) => i % n === 0); }
  return [...kept, ...lines.slice(cut)];
}

function byBucket(lines: TrainerLogLine[], stride: number): TrainerLogLine[] {
  const buckets = new Map<number, number[]>();
  lines.forEach((l, i) => {
    const key = Number.isFinite(l.current_steps) ? Math.floor(l.current_steps / stride) : Number.NaN;
    const b = buckets.get(key);
    if (b) b.push(i); else buckets.set(key, [i]);
  });
  const keep = new Set<number>();
  for (const idx of buckets.values()) {
    for (const key of ['loss', 'eval_loss'] as const) {
      let lo = -1, hi = -1;
      for (const i of idx) {
        const v = lines[i][key];
        if (typeof v !== 'number' || Number.isNaN(v)) continue;
        if (lo < 0 || v < (lines[lo][key] as number)) lo = i;
        if (hi < 0 || v > (lines[hi][key] as number)) hi = i;
      }
      if (lo >= 0) keep.add(lo);
      if (hi >= 0) keep.add(hi);
    }
    // A bucket of progress lines only (a prediction run, or NaN losses): its last line, so the steps still show.
    if (!idx.some((i) => keep.has(i))) keep.add(idx[idx.length - 1]);
  }
  return [...keep].sort((a, b) => a - b).map((i) => lines[i]);
}
