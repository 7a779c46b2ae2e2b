import { closeSync, constants, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_FILES, type Run } from './runDir.js';

export type RunStatus = 'waiting' | 'running' | 'finished' | 'failed';

/** What a Python process that died prints last (a traceback; torchrun's summary of a failed rank; CUDA OOM). */
const FAILURE = /Traceback \(most recent call last\)|torch\.distributed\.elastic\.multiprocessing\.errors\.ChildFailedError|CUDA out of memory|Killed\s*$/m;
const TAIL_BYTES = 16 * 1024;
/** What LLaMA-Factory's workflows write after the last log line (trainer.save_metrics("train"), save_state). */
const RESULT_FILES = ['train_results.json', 'all_results.json', 'trainer_state.json'];
/** Training still going after a printed traceback (a library's non-fatal one): tqdm's rate, or the Trainer's log dict. */
const PROGRESS = /(?:it\/s|s\/it)\]|\{'loss': /;

function mtime(path: string): number | undefined {
  try { return statSync(path).mtimeMs; } catch { return undefined; }
}

/** Whether train.log ends in a failure, remembered per size and mtime: pages poll every 2 s, logs change less often. */
const seen = new Map<string, { key: string; failed: boolean }>();
function endsInFailure(path: string): boolean {
  let st;
  try { st = statSync(path); } catch { return false; }
  const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const hit = seen.get(path);
  if (hit?.key === key) return hit.failed;
  const text = tail(path);
  // The last failure in the tail, with no training progress printed after it: the process died there.
  const all = [...text.matchAll(new RegExp(FAILURE.source, 'gm'))];
  const lastAt = all.at(-1)?.index;
  const failed = lastAt !== undefined && !PROGRESS.test(text.slice(lastAt));
  seen.set(path, { key, failed });
  return failed;
}

function tail(path: string, bytes = TAIL_BYTES): string {
  let fd: number | undefined;
  try {
    // O_NONBLOCK and regular files only: train.log is whatever is in the folder, and opening a FIFO blocks until a
    // writer comes (the server with it).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile()) return '';
    const size = st.size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A run's state from its files alone, so it works for a run started anywhere (another terminal, a cluster node):
 * - finished: LLaMA-Factory's workflow writes train_results.json (trainer.save_metrics; PPO only trainer_state.json) after the last log line,
 *   so results at least as new as trainer_log.jsonl mean this run ended; older ones are a previous run's.
 * - failed: the trainer's output (DIR/train.log, written by `train run`) ends in a traceback or torchrun's
 *   ChildFailedError with no progress printed after it, no results came after, and train.log is not older than
 *   trainer_log.jsonl (a failed attempt's train.log must not mark a new run, started by hand, as failed).
 * - running: a trainer_log.jsonl or a train.log exists; waiting: neither yet (or no run folder at all).
 */
export function runStatus(run: Run | undefined): RunStatus {
  if (!run) return 'waiting';
  const log = mtime(run.trainerLog);
  // PPO's workflow saves no metrics, only the state (ppo/workflow.py: save_model, save_state): trainer_state.json in
  // output_dir itself (checkpoints keep theirs in checkpoint-N/), written once, at the end, like the results.
  const ends = RESULT_FILES.map((f) => mtime(join(run.outputDir, f))).filter((t): t is number => t !== undefined);
  const results = ends.length ? Math.max(...ends) : undefined;
  if (results !== undefined && (log === undefined || results >= log)) return 'finished';
  const out = join(run.dir, RUN_FILES.log);
  const outTime = mtime(out);
  if (outTime !== undefined && (log === undefined || outTime >= log) && endsInFailure(out)) return 'failed';
  return log !== undefined || existsSync(out) ? 'running' : 'waiting';
}
