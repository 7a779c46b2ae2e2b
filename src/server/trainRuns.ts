import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { openRun, RUN_FILES, type Run } from '../train/runDir.js';
import { runStatus, type RunStatus } from '../train/runStatus.js';
import { TrainerLogReader, type TrainerLogLine } from '../train/trainerLog.js';

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

  constructor(dirs: string[]) {
    // DIR and DIR/train.yaml are one run; another .yaml in DIR is a config of its own.
    const unique = [...new Set(dirs.map((d) => resolve(d)).map((d) => (basename(d) === RUN_FILES.config ? dirname(d) : d)))];
    const names = unique.map((d) => basename(/\.ya?ml$/i.test(d) ? resolve(d, '..') : d));
    this.runs = ids(names).map((id, i) => ({ id, arg: unique[i], name: names[i], lines: [], generation: 0, status: 'waiting' }));
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
    const m = w.run?.meta;
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
      recipe: m?.recipe,
      // A repo id as it is; a local path by its last part only (the server's folders are not the client's business).
      model: m?.model.repo ?? (m?.model.given && !m.model.given.includes('/') ? m.model.given : undefined) ?? (modelPath && /^[\w.-]+\/[\w.-]+$/.test(modelPath) ? modelPath : modelPath && basename(modelPath)),
      stage: str(c.stage), finetuningType: str(c.finetuning_type), template: m?.template ?? str(c.template),
      status: w.status, note: w.note,
      lines: w.lines.length, log: this.token(w), last: w.lines.at(-1) ?? null, latest,
    };
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
    try {
      const mtime = w.run ? statSync(w.run.configPath).mtimeMs : undefined;
      if (!w.run || mtime !== w.configMtime) {
        const run = openRun(w.arg);
        w.configMtime = statSync(run.configPath).mtimeMs;
        if (run.trainerLog !== w.run?.trainerLog) {
          w.reader = new TrainerLogReader(run.trainerLog);
          if (w.lines.length) this.restart(w);
        }
        w.run = run;
      }
    } catch (e) {
      // Not there yet (a run folder a cluster job will create), or half-written: wait and look again.
      if (!(e instanceof UserError) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      w.run = undefined;
      w.note = /does not exist/.test((e as Error).message) ? 'no run folder yet' : /has no train\.yaml/.test((e as Error).message) ? 'no train.yaml yet' : 'train.yaml cannot be read';
    }
    if (w.run && w.reader) {
      try {
        const got = w.reader.read();
        if (got.reset && w.lines.length) this.restart(w);
        for (const l of got.lines) w.lines.push(l);
      } catch (e) {
        // A log we may not read, or a folder in its place: say so and keep serving the others.
        w.note = `trainer_log.jsonl cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
      }
    }
    w.status = runStatus(w.run);
    return w;
  }
}
