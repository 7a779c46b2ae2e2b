import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MAX_LINE, READ_BUDGET, readTrainerLog, TrainerLogReader } from '../../src/train/trainerLog.js';
import { lfLine } from '../helpers/trainLog.js';

/** TrainerLogReader on logs a server must survive: NaN losses, huge files, endless lines, FIFOs and devices. */

const dir = mkdtempSync(join(tmpdir(), 'llama3-zh-trainlog-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `log-${++n}.jsonl`);

test('a loss that went NaN or inf (Python json.dumps writes the bare words) keeps its line; the words inside strings stay words', () => {
  const path = file();
  writeFileSync(path, [
    '{"current_steps": 10, "total_steps": 30, "loss": 2.5, "lr": 5e-06, "epoch": 0.33, "percentage": 33.33, "elapsed_time": "0:00:10", "remaining_time": "0:00:20"}',
    '{"current_steps": 20, "total_steps": 30, "loss": NaN, "lr": 4e-06, "epoch": 0.67, "percentage": 66.67, "elapsed_time": "0:00:20", "remaining_time": "0:00:10"}',
    '{"current_steps": 30, "total_steps": 30, "loss": Infinity, "eval_loss": -Infinity, "percentage": 100.0, "elapsed_time": "NaN", "remaining_time": "0:00:00"}',
    '',
  ].join('\n'));
  const { lines } = new TrainerLogReader(path).read();
  assert.deepEqual(lines.map((l) => [l.current_steps, l.loss, l.eval_loss, l.elapsed_time]), [
    [10, 2.5, undefined, '0:00:10'], [20, Number.NaN, undefined, '0:00:20'], [30, Infinity, -Infinity, 'NaN'],
  ]);
});

test('only LLaMA-Factory\'s keys, each of its type, come through; a line whose counts are not numbers is no entry', () => {
  const path = file();
  writeFileSync(path, '{"current_steps": 1, "total_steps": 2, "loss": "0.5", "lr": 1e-05, "__proto__": {"x": 1}, "note": "<script>", "elapsed_time": {"a": 1}, "remaining_time": "0:00:01"}\n'
    + '{"current_steps": "1", "total_steps": 2}\n[1, 2]\nnull\n');
  assert.deepEqual(new TrainerLogReader(path).read().lines, [{ current_steps: 1, total_steps: 2, lr: 1e-5, remaining_time: '0:00:01' }]);
});

test('a log larger than READ_BUDGET comes a budget at a time (behind until the end), every line exactly once', () => {
  const path = file();
  const one = lfLine(1, 100_000, { loss: 1.5, lr: 1e-4, epoch: 0.01 });
  const count = Math.ceil((READ_BUDGET * 2.5) / one.length);
  let text = '';
  for (let s = 1; s <= count; s++) text += lfLine(s, count, { loss: 1.5, lr: 1e-4, epoch: 0.01 });
  writeFileSync(path, text);
  const r = new TrainerLogReader(path);
  const sizes: number[] = [];
  const steps: number[] = [];
  const behind: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    const got = r.read().lines;
    sizes.push(got.length);
    for (const l of got) steps.push(l.current_steps);
    behind.push(r.behind);
  }
  assert.deepEqual(behind, [true, true, false, false]);
  assert.equal(sizes[3], 0);
  assert.deepEqual(steps, Array.from({ length: count }, (_, i) => i + 1));
  // readTrainerLog (train watch --plot, export) still gets every line in one call.
  assert.deepEqual(readTrainerLog(path).map((l) => l.current_steps), steps);
});

test('a 2 GB file (sparse: all zero bytes, no newline) is read a budget at a time, holds nothing back, and a line after it arrives', () => {
  const path = file();
  writeFileSync(path, '');
  truncateSync(path, 2 ** 31);
  const r = new TrainerLogReader(path);
  assert.deepEqual(r.read(), { lines: [], reset: false });
  assert.equal(r.behind, true);
  const heap = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 3; i++) r.read();
  assert.ok(process.memoryUsage().arrayBuffers - heap < 4 * READ_BUDGET, 'no more than a budget or so is held');
});

test('an endless line (longer than MAX_LINE) is dropped as it comes, the lines after it are read', () => {
  const path = file();
  writeFileSync(path, lfLine(1, 3, { loss: 2 }));
  const r = new TrainerLogReader(path);
  assert.equal(r.read().lines.length, 1);
  appendFileSync(path, 'x'.repeat(MAX_LINE + 10));
  assert.deepEqual(r.read().lines, []);
  appendFileSync(path, 'y'.repeat(MAX_LINE));
  assert.deepEqual(r.read().lines, []);
  appendFileSync(path, 'z\n' + lfLine(2, 3, { loss: 1.5 }) + lfLine(3, 3, { loss: 1 }).slice(0, 10));
  assert.deepEqual(r.read().lines.map((l) => l.loss), [1.5]);
});

test('a FIFO or /dev/zero in the log\'s place is refused (code EFTYPE) at once, without blocking', () => {
  const fifo = join(dir, 'fifo.jsonl');
  execFileSync('mkfifo', [fifo]);
  const zero = join(dir, 'zero.jsonl');
  symlinkSync('/dev/zero', zero);
  for (const p of [fifo, zero]) {
    assert.throws(() => new TrainerLogReader(p).read(), (e: NodeJS.ErrnoException) => e.code === 'EFTYPE', p);
  }
});
