/**
 * A stand-in `llamafactory-cli` for the train tests: LLaMA-Factory needs Python, torch and a GPU, none of which
 * exist here. It speaks LLaMA-Factory's real protocol (fakeLlamaFactoryMain.ts): `train X.yaml [key=value…]`, keys
 * checked against the argument table read from LLaMA-Factory's source (src/train/llamafactoryArgs.json:
 * LLaMA-Factory 0.9.6.dev0 at ff6d4d1, transformers 4.57.6), output_dir rules of hparams/parser.py, the launcher's
 * environment, trainer_log.jsonl as train/callbacks.py writes it, checkpoint-N folders with a real PEFT adapter.
 *
 * Knobs (environment): FAKE_LF_RECORD (JSON file: one entry per start, argv/cwd/launch env/worker pids),
 * FAKE_LF_STEPS (total steps, default 10), FAKE_LF_STEP_MS (time per step, default 100), FAKE_LF_FAIL=step:N
 * (a CUDA OOM at step N), FAKE_LF_WORKERS=N (child "workers", like torchrun's), FAKE_LF_STUCK_WORKERS=1 (workers
 * that ignore SIGINT/SIGTERM, as one stuck in a NCCL call does), FAKE_LF_TOKENS (tokens per step, for throughput).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './models.js';

/** The variables LLaMA-Factory's launcher.py (and misc.py use_ray) reads. */
export const LAUNCH_VARS = ['FORCE_TORCHRUN', 'NNODES', 'NODE_RANK', 'NPROC_PER_NODE', 'MASTER_ADDR', 'MASTER_PORT', 'CUDA_VISIBLE_DEVICES', 'USE_RAY'] as const;

export interface FakeStart {
  argv: string[];
  cwd: string;
  /** Only the LAUNCH_VARS that were set. */
  env: Record<string, string>;
  pid: number;
  workers: number[];
}

const dirs: string[] = [];
process.on('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A bin folder holding `llamafactory-cli`, and the environment that puts it first on PATH and records to recordPath. */
export function installFakeLlamaFactory(): { binDir: string; recordPath: string; env: Record<string, string> } {
  const binDir = mkdtempSync(join(tmpdir(), 'fake-lf-'));
  dirs.push(binDir);
  const main = join(ROOT, 'dist', 'test', 'helpers', 'fakeLlamaFactoryMain.js');
  const cli = join(binDir, 'llamafactory-cli');
  // exec: the shell is replaced, so the pid our CLI spawned is the program's own, as with the real console script.
  writeFileSync(cli, `#!/bin/sh\nexec '${process.execPath}' '${main}' "$@"\n`);
  chmodSync(cli, 0o755);
  const recordPath = join(binDir, 'record.json');
  return { binDir, recordPath, env: { PATH: `${binDir}:${process.env.PATH ?? ''}`, FAKE_LF_RECORD: recordPath } };
}

/** Every start the stand-in recorded, oldest first. */
export function fakeStarts(recordPath: string): FakeStart[] {
  return existsSync(recordPath) ? (JSON.parse(readFileSync(recordPath, 'utf8')) as FakeStart[]) : [];
}

// The curve the stand-in trains along, so tests can name the exact values it logged.

/** The training loss logged at `step` (transformers rounds the logged loss to 4 places). */
export function fakeLoss(step: number): number {
  return Math.round((0.6 + 1.8 * Math.exp(-step / 4)) * 1e4) / 1e4;
}

/** TRL's rewards/accuracies at `step` of a DPO run. */
export function fakeAccuracy(step: number): number {
  return Math.min(1, 0.5 + 0.05 * step);
}

/** The learning rate after `step` of `total`: transformers' linear schedule without warmup. */
export function fakeLr(lr0: number, step: number, total: number): number {
  return (lr0 * (total - step)) / total;
}

/** A float as Python's repr writes it (json.dumps uses it): 2.0, 0.0001, 1e-05, 4.5e-05, 1e+16. */
export function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [m, ex] = x.toExponential().split('e'); // the shortest digits that read back as x, as repr's
  const e = Number(ex);
  const neg = m.startsWith('-');
  const digits = m.replace('-', '').replace('.', '');
  if (e < -4 || e >= 16) return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  let s: string;
  if (e < 0) s = `0.${'0'.repeat(-e - 1)}${digits}`;
  else {
    const int = digits.slice(0, e + 1).padEnd(e + 1, '0');
    const frac = digits.slice(e + 1);
    s = `${int}.${frac || '0'}`;
  }
  return neg ? `-${s}` : s;
}

/** str(datetime.timedelta(seconds=n)): "0:01:05", "1 day, 2:03:04". */
export function pyTimedelta(secs: number): string {
  const s = Math.floor(secs);
  const days = Math.floor(s / 86400);
  const r = s % 86400;
  const hms = `${Math.floor(r / 3600)}:${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}:${String(r % 60).padStart(2, '0')}`;
  return days ? `${days} day${days === 1 ? '' : 's'}, ${hms}` : hms;
}

/** A Python value for pyJson: ints and floats are different types there (json.dumps writes 2 and 2.0). */
export type PyValue = { int: number } | { float: number } | string | boolean | null;

/** json.dumps(dict) with Python's default separators (", " and ": ") and ensure_ascii. */
export function pyJson(entries: [string, PyValue][]): string {
  const v = (x: PyValue): string => {
    if (x === null) return 'null';
    if (typeof x === 'boolean') return x ? 'true' : 'false';
    if (typeof x === 'string') return JSON.stringify(x).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    return 'int' in x ? String(Math.trunc(x.int)) : pyFloat(x.float);
  };
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${v(x)}`).join(', ')}}`;
}
