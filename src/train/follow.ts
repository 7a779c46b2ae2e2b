import { statSync } from 'node:fs';
import { join } from 'node:path';
import { finalModel } from './outputDir.js';
import { parseTimedelta, type TrainerLogLine, TrainerLogReader } from './trainerLog.js';

/**
 * Progress of a run, read from LLaMA-Factory's output_dir/trainer_log.jsonl — the one record every rank-0
 * process writes whatever the launcher (python, torchrun, Ray) and wherever it runs, so `train run` and `train
 * watch` (another terminal, another node on a shared disk) show the same thing. Its own ETA (remaining_time) is
 * shown as it is: LLaMA-Factory averages over the whole run, which is steadier than a rate of the last seconds.
 */

/** A float as Python's "%.2e" writes it (4.50e-05): the way LLaMA-Factory and transformers print learning rates. */
export function sciPy(x: number, digits = 2): string {
  const [m, e] = x.toExponential(digits).split('e');
  const n = Number(e);
  return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
}

const BAR = 24;

/**
 * One line of progress for one log entry: the step bar, then the numbers LLaMA-Factory logged. The loss is shown
 * as it was logged (transformers rounds it to 4 places), so the line can be compared with the log.
 */
export function progressText(l: TrainerLogLine): string {
  const frac = l.total_steps > 0 ? Math.min(1, l.current_steps / l.total_steps) : 1;
  const filled = Math.round(frac * BAR);
  const parts = [
    `step ${l.current_steps}/${l.total_steps}`,
    `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}]`,
    `${(frac * 100).toFixed(0).padStart(3)}%`,
  ];
  if (l.loss !== undefined) parts.push(`loss ${l.loss}`);
  if (l.eval_loss !== undefined) parts.push(`eval_loss ${l.eval_loss}`);
  if (l.accuracy !== undefined) parts.push(`reward acc ${l.accuracy.toFixed(3)}`);
  if (l.reward !== undefined) parts.push(`reward ${l.reward.toFixed(3)}`);
  if (l.lr !== undefined) parts.push(`lr ${sciPy(l.lr)}`);
  if (l.epoch !== undefined) parts.push(`epoch ${l.epoch.toFixed(2)}`);
  if (l.current_steps < l.total_steps && parseTimedelta(l.remaining_time) !== undefined) parts.push(`ETA ${l.remaining_time}`);
  return parts.join(' ');
}

/** The last entry that logged a training loss (evaluation entries carry eval_loss only). */
export function lastLoss(lines: TrainerLogLine[]): number | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].loss !== undefined) return lines[i].loss;
  return undefined;
}

/**
 * The newest state of the run for display: the last entry, with the loss, lr and reward accuracy of the last
 * entry that logged them — the entry transformers' train metrics leave at the end has only steps and times.
 */
export function latest(lines: TrainerLogLine[]): TrainerLogLine | undefined {
  const last = lines.at(-1);
  if (!last || last.loss !== undefined) return last;
  for (let i = lines.length - 2; i >= 0; i--) {
    const l = lines[i];
    if (l.loss !== undefined) return { ...last, loss: l.loss, lr: l.lr, accuracy: l.accuracy, reward: l.reward };
  }
  return last;
}

/** Whether an entry is worth a line of its own: it moved on, or logged a loss (not the closing metrics entry). */
export function newsworthy(l: TrainerLogLine, prev: TrainerLogLine | undefined): boolean {
  return !prev || l.current_steps !== prev.current_steps || l.loss !== undefined || l.eval_loss !== undefined;
}

/** How a finished (or stopped) run went, in one line: steps, final loss, time. */
export function summaryText(lines: TrainerLogLine[]): string {
  const last = lines.at(-1);
  if (!last) return 'no step was logged';
  const loss = lastLoss(lines);
  return `${last.current_steps}/${last.total_steps} steps` + (loss !== undefined ? `, final loss ${loss}` : '') + `, ${last.elapsed_time} of training`;
}

/**
 * Follows one run: every entry so far (for the chart), the newest, and whether the run is over — its last entry
 * reached total_steps, or the final model is in output_dir (a run stopped early by max_steps or an early-stopping
 * callback logs fewer steps than it planned, but still saves).
 */
export class RunFollower {
  readonly lines: TrainerLogLine[] = [];
  /** Where the attempt now being logged begins in `lines` (0 unless the log holds an earlier, resumed-from one). */
  attemptStart = 0;
  private readonly reader: TrainerLogReader;
  constructor(readonly trainerLog: string, readonly outputDir: string) {
    this.reader = new TrainerLogReader(trainerLog);
  }

  /** The entries added since the last poll; `reset` when the log was started over (a run with overwrite_output_dir). */
  poll(): { added: TrainerLogLine[]; reset: boolean } {
    const { lines, reset } = this.reader.read();
    if (reset) {
      this.lines.length = 0;
      this.attemptStart = 0;
    }
    const added = lines.map((l) => this.timed(l));
    return { added, reset };
  }

  /**
   * Adds one entry, its ETA its own attempt's. A resumed run appends to the log of the attempt before, and
   * LLaMA-Factory's remaining_time is wrong for it: LogCallback._timing divides the time since this attempt began
   * by state.global_step, which counts the resumed steps too (an ETA of minutes for hours of work). A new attempt
   * shows as its clock starting again (or its steps going back); its ETA is then the rate between its own first
   * entry and this one (none on its first entry).
   */
  private timed(l: TrainerLogLine): TrainerLogLine {
    const prev = this.lines.at(-1);
    const secs = parseTimedelta(l.elapsed_time);
    if (prev && (l.current_steps < prev.current_steps || (secs ?? 0) < (parseTimedelta(prev.elapsed_time) ?? 0))) this.attemptStart = this.lines.length;
    let line = l;
    if (this.attemptStart > 0) {
      const first = this.lines[this.attemptStart] ?? l;
      const t0 = parseTimedelta(first.elapsed_time);
      const steps = l.current_steps - first.current_steps;
      const rate = secs !== undefined && t0 !== undefined && steps > 0 ? (secs - t0) / steps : undefined;
      line = { ...l, remaining_time: rate === undefined ? '' : timedeltaText(Math.max(0, l.total_steps - l.current_steps) * rate) };
    }
    this.lines.push(line);
    return line;
  }

  get last(): TrainerLogLine | undefined {
    return this.lines.at(-1);
  }

  /** Every step logged (the model may still be being saved). */
  trained(): boolean {
    const l = this.last;
    return l !== undefined && l.total_steps > 0 && l.current_steps >= l.total_steps;
  }

  /**
   * Over: the final model is in output_dir. The last step logged is not the end: LLaMA-Factory's workflows save
   * the model after trainer.train() returns (sft/workflow.py: save_model, then save_state, the loss plot, a
   * final evaluate) — minutes for a full model gathered from ZeRO-3, and a run can still fail there.
   */
  finished(): boolean {
    const model = finalModel(this.outputDir);
    if (!model) return false;
    // With every step logged, the model is this run's (the final evaluate may log after it is saved).
    if (this.trained()) return true;
    // Saved after the last log entry (a run stopped early by max_steps or early stopping). One older than the
    // log is a finished run's, left in output_dir by a run started over with overwrite_output_dir.
    const logTime = mtime(this.trainerLog);
    return logTime === undefined || mtime(join(this.outputDir, model))! >= logTime;
  }
}

/** Seconds as Python's str(timedelta(seconds=int(x))) writes them: "0:01:05", "1 day, 2:03:04". */
export function timedeltaText(seconds: number): string {
  const t = Math.floor(seconds);
  const days = Math.floor(t / 86400);
  const r = t % 86400;
  const hms = `${Math.floor(r / 3600)}:${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}:${String(r % 60).padStart(2, '0')}`;
  return days ? `${days} day${days === 1 ? '' : 's'}, ${hms}` : hms;
}

function mtime(p: string): number | undefined {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}
