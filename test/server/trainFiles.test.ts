import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { MAX_KEPT, QUIET_MIN, thinLines, TrainRuns } from '../../src/server/trainRuns.js';
import { lossSeries } from '../../src/train/plot.js';
import type { TrainerLogLine } from '../../src/train/trainerLog.js';
import { appendLog, lfLine, writeRunFolder } from '../helpers/trainLog.js';

/**
 * `serve --train-dir` over run folders a server must survive: FIFOs and devices where files should be, folders
 * that turn into files or symlink loops, a folder deleted while watched, a log of millions of lines or 2 GB of
 * zeros, and train.log's tracebacks from an earlier attempt.
 */

const root = mkdtempSync(join(tmpdir(), 'llama3-zh-train-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = () => join(root, `run${++n}`);
const view = (runs: TrainRuns) => runs.list().map((r) => [r.status, r.note ?? null, r.lines]);

/** The list in a child process, so a call that blocks (open() of a FIFO) fails the test instead of hanging it. */
function listApart(dirs: string[]): unknown {
  const mod = fileURLToPath(new URL('../../src/server/trainRuns.js', import.meta.url));
  const code = `import(${JSON.stringify(mod)}).then((m) => { const r = new m.TrainRuns(${JSON.stringify(dirs)}); r.list(); console.log(JSON.stringify(r.list().map((x) => [x.status, x.note ?? null]))); });`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], { timeout: 20_000, encoding: 'utf8' });
  assert.equal(out.error, undefined, `the server's list blocked: ${out.error?.message}`);
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout);
}

test('a FIFO as train.yaml, llama3-zh.json, train.log or trainer_log.jsonl, or /dev/zero as the log: notes, never a blocked server', () => {
  const dirs = [folder(), folder(), folder(), folder(), folder()];
  for (const d of dirs) writeRunFolder(d);
  rmSync(join(dirs[0], 'train.yaml'));
  execFileSync('mkfifo', [join(dirs[0], 'train.yaml')]);
  rmSync(join(dirs[1], 'llama3-zh.json'));
  execFileSync('mkfifo', [join(dirs[1], 'llama3-zh.json')]);
  execFileSync('mkfifo', [join(dirs[2], 'train.log')]);
  appendLog(join(dirs[2], 'output', 'trainer_log.jsonl'), lfLine(1, 10, { loss: 2 }));
  execFileSync('mkfifo', [join(dirs[3], 'output', 'trainer_log.jsonl')]);
  symlinkSync('/dev/zero', join(dirs[4], 'output', 'trainer_log.jsonl'));
  assert.deepEqual(listApart(dirs), [
    ['waiting', 'train.yaml cannot be read'],
    ['waiting', 'train.yaml cannot be read'],
    ['running', null],
    ['running', 'trainer_log.jsonl cannot be read (not a file)'],
    ['running', 'trainer_log.jsonl cannot be read (not a file)'],
  ]);
});

test('a run folder that becomes a file, a symlink loop, or is deleted while watched: notes; back when it is back', () => {
  const [a, b] = [folder(), folder()];
  const { log } = writeRunFolder(a);
  appendLog(log, lfLine(1, 10, { loss: 2 }) + lfLine(2, 10, { loss: 1.5 }));
  writeRunFolder(b);
  const runs = new TrainRuns([a, b]);
  assert.deepEqual(view(runs), [['running', null, 2], ['waiting', null, 0]]);
  rmSync(a, { recursive: true });
  writeFileSync(a, 'not a folder');
  rmSync(join(b, 'train.yaml'));
  symlinkSync('train.yaml', join(b, 'train.yaml'));
  assert.deepEqual(view(runs), [['waiting', 'train.yaml cannot be read', 2], ['waiting', 'no train.yaml yet', 0]]);
  rmSync(a);
  assert.deepEqual(view(runs)[0], ['waiting', 'no run folder yet', 2]);
  writeRunFolder(a);
  appendLog(log, lfLine(1, 20, { loss: 3 }));
  const back = runs.list()[0];
  assert.deepEqual([back.status, back.lines, back.last?.total_steps], ['running', 1, 20]);
});

test('a long log is kept to MAX_KEPT lines: thinned evenly by step, step 1, the spike and the newest lines kept; clients start over', () => {
  const d = folder();
  const { log } = writeRunFolder(d);
  const total = 60_000;
  let text = '';
  for (let s = 1; s <= total; s++) text += lfLine(s, total, { loss: s === 31_337 ? 9 : 3 - s / total, lr: 1e-4 });
  for (let s = 5000; s <= total; s += 5000) text += lfLine(s, total, { eval_loss: 2.5 - s / total });
  writeFileSync(log, text);
  const runs = new TrainRuns([d]);
  const tokens = new Set<string>();
  let r = runs.list()[0];
  for (let i = 0; i < 20 && r.reading; i++) { tokens.add(r.log); r = runs.list()[0]; }
  assert.equal(r.reading, false);
  assert.ok(r.lines <= MAX_KEPT, `${r.lines} lines kept`);
  assert.ok(tokens.size > 1, 'thinning gives the log a new token');
  const all = runs.get(r.id)!.all;
  const s = lossSeries(all);
  assert.equal(s.loss[0][0], 1);
  assert.equal(s.loss.at(-1)![0], total);
  assert.ok(s.loss.some(([step, v]) => step === 31_337 && v === 9), 'the spike is kept');
  assert.equal(s.eval.length, 12, 'every eval_loss kept');
  // Evenly: each tenth of the run holds a similar share of the older points (the newest 1000 aside).
  const shares = Array.from({ length: 8 }, (_, i) => s.loss.filter(([step]) => step > i * 6000 && step <= (i + 1) * 6000).length);
  assert.ok(Math.max(...shares) <= 2 * Math.min(...shares), `uneven: ${shares}`);
});

test('thinLines: hostile steps (all equal, huge, NaN) still end at the bound', () => {
  const mk = (step: number, loss: number): TrainerLogLine => ({ current_steps: step, total_steps: 1, loss, percentage: 0, elapsed_time: '', remaining_time: '' });
  for (const step of [(i: number) => 7, (i: number) => (i % 2 ? 1e300 : -1e300), (i: number) => (i % 3 ? Number.NaN : i * 1e20)]) {
    const lines = Array.from({ length: 30_000 }, (_, i) => mk(step(i), Math.sin(i)));
    assert.ok(thinLines(lines, 5000).length <= 5000);
  }
});

test('a 2 GB trainer_log.jsonl (a symlink to a sparse file) is read a few MiB per look: the server answers, memory stays flat', () => {
  const d = folder();
  writeRunFolder(d);
  const big = join(root, 'big.bin');
  writeFileSync(big, '');
  truncateSync(big, 2 ** 31);
  symlinkSync(big, join(d, 'output', 'trainer_log.jsonl'));
  const runs = new TrainRuns([d]);
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 5; i++) assert.deepEqual(runs.list().map((r) => [r.status, r.lines, r.reading]), [['running', 0, true]]);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20);
});

test('status: an earlier attempt\'s traceback does not mark a new run failed; a traceback followed by progress is not a failure', () => {
  const d = folder();
  const { log } = writeRunFolder(d);
  const trainLog = join(d, 'train.log');
  writeFileSync(trainLog, 'Traceback (most recent call last):\n  File "x.py"\ntorch.OutOfMemoryError: CUDA out of memory.\n');
  const runs = new TrainRuns([d]);
  assert.deepEqual(view(runs), [['failed', null, 0]]);
  // The user fixes the batch size and starts llamafactory-cli by hand: train.log is left as it was.
  const old = new Date(Date.now() - 60_000);
  utimesSync(trainLog, old, old);
  appendLog(log, lfLine(1, 10, { loss: 2 }));
  assert.deepEqual(view(runs), [['running', null, 1]]);
  // A library printed a traceback and training went on.
  writeFileSync(trainLog, 'Traceback (most recent call last):\n  File "wandb.py"\nConnectionError: offline\n 12%|█▏        | 12/100 [00:24<02:56,  2.00s/it]\n');
  assert.deepEqual(view(runs), [['running', null, 1]]);
  writeFileSync(trainLog, ' 12%|█▏        | 12/100 [00:24<02:56,  2.00s/it]\nTraceback (most recent call last):\n  File "x.py"\nRuntimeError: NCCL timeout\n');
  assert.deepEqual(view(runs), [['failed', null, 1]]);
});

test('a running run whose log went quiet (a trainer killed without a word) says for how long, once that is overdue', () => {
  const d = folder();
  const { log } = writeRunFolder(d);
  appendLog(log, lfLine(10, 100, { loss: 2 }) + lfLine(20, 100, { loss: 1.8 }));
  const written = Date.now() - 3 * 3600_000;
  utimesSync(log, new Date(written), new Date(written));
  let now = written + 60_000;
  const runs = new TrainRuns([d], () => now);
  const at = () => runs.list().map((r) => [r.status, r.quiet]);
  // Lines every 20 s (lfLine's 2 s per step, 10 steps): quiet counts from 15 minutes (more than 10 × 20 s).
  assert.deepEqual(at(), [['running', undefined]]);
  now = written + QUIET_MIN * 1000;
  assert.deepEqual(at(), [['running', undefined]]);
  now = written + 3 * 3600_000;
  assert.deepEqual(at(), [['running', 10_800]]);
  writeFileSync(join(d, 'output', 'train_results.json'), '{}');
  assert.deepEqual(at(), [['finished', undefined]]);
});

test('a llama3-zh.json of another shape (hand-edited, another version) is read for what it holds, never a 500', () => {
  const metas = ['{}', '{"model": null}', '{"model": {"given": 5, "repo": ["a"]}, "recipe": {"x": 1}, "template": 7}', '[1]', 'null', '"text"', '{"model": "org/name"}'];
  const dirs = metas.map((meta) => { const d = folder(); writeRunFolder(d); writeFileSync(join(d, 'llama3-zh.json'), meta); return d; });
  const runs = new TrainRuns(dirs);
  // The model then comes from train.yaml's model_name_or_path (a repo id, shown as it is).
  assert.deepEqual(runs.list().map((r) => [r.status, r.recipe ?? null, r.model, r.template]), metas.map(() => ['waiting', null, 'shenzhi-wang/Llama3-8B-Chinese-Chat', 'llama3']));
});

test('two LLaMA-Factory configs in one folder are two runs a person can tell apart', () => {
  const d = folder();
  writeRunFolder(d);
  writeFileSync(join(d, 'sft.yaml'), 'stage: sft\noutput_dir: out-sft\n');
  const runs = new TrainRuns([join(d, 'train.yaml'), join(d, 'sft.yaml'), d]);
  assert.deepEqual(runs.list().map((r) => [r.id, r.name]), [[`run${n}`, `run${n}`], [`run${n}-sft.yaml`, `run${n}/sft.yaml`]]);
});

test('status: a PPO run (its workflow saves trainer_state.json, no train_results.json) is finished when that comes after the log', () => {
  const d = folder();
  const { log, output } = writeRunFolder(d, { stage: 'ppo' });
  appendLog(log, lfLine(10, 10, { loss: 0.1, reward: 0.5 }));
  const runs = new TrainRuns([d]);
  mkdirSync(join(output, 'checkpoint-10'));
  writeFileSync(join(output, 'checkpoint-10', 'trainer_state.json'), '{}');
  assert.equal(runs.list()[0].status, 'running', 'a checkpoint\'s state is no end');
  writeFileSync(join(output, 'trainer_state.json'), '{}');
  assert.equal(runs.list()[0].status, 'finished');
});
