import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { progressText, RunFollower } from '../../src/train/follow.js';
import { errorLines } from '../../src/train/logTail.js';
import { readTrainerLog } from '../../src/train/trainerLog.js';

const root = mkdtempSync(join(tmpdir(), 'train-follow-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

test('a NaN or infinite loss (Python json.dumps writes NaN, Infinity: not JSON) is read and shown, not skipped', () => {
  const p = join(root, 'nan.jsonl');
  writeFileSync(p, [
    '{"current_steps": 1, "total_steps": 4, "loss": 2.5, "lr": 0.0001, "epoch": 0.25, "percentage": 25.0, "elapsed_time": "0:00:10", "remaining_time": "0:00:30"}',
    '{"current_steps": 2, "total_steps": 4, "loss": NaN, "lr": 7.5e-05, "epoch": 0.5, "percentage": 50.0, "elapsed_time": "0:00:20", "remaining_time": "0:00:20"}',
    '{"current_steps": 3, "total_steps": 4, "loss": Infinity, "eval_loss": -Infinity, "percentage": 75.0, "elapsed_time": "0:00:30", "remaining_time": "0:00:10"}',
    '{"current_steps": 3, "total_steps": 4, "percentage": 75.0, "elapsed_time": "0:00:30", "remaining_time": "NaN inside a string"}',
  ].join('\n') + '\n');
  const lines = readTrainerLog(p);
  assert.equal(lines.length, 4);
  assert.ok(Number.isNaN(lines[1].loss));
  assert.equal(lines[2].loss, Infinity);
  assert.equal(lines[2].eval_loss, -Infinity);
  assert.equal(lines[3].remaining_time, 'NaN inside a string');
  assert.equal(progressText(lines[1]), 'step 2/4 [############............]  50% loss NaN lr 7.50e-05 epoch 0.50 ETA 0:00:20');
});

test('the error lines of a NCCL timeout under torchrun: the watchdog\'s error and the signal, not only the launcher\'s CalledProcessError', () => {
  const log = [
    "[rank1]:[E1202 10:00:00.123456 1235 torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:616] [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1204, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000) ran for 1800085 milliseconds before timing out.",
    "[rank1]:[E1202 10:00:00.123500 1235 torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1785] [PG ID 0 PG GUID 0(default_pg) Rank 1] Exception (either an error before or timeout detected by watchdog): [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1204, OpType=ALLREDUCE) ran for 1800085 milliseconds before timing out.",
    "terminate called after throwing an instance of 'c10::DistBackendError'",
    "  what():  [PG ID 0 PG GUID 0(default_pg) Rank 1] Process group watchdog thread terminated with exception: [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1204, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000) ran for 1800085 milliseconds before timing out.",
    'W1202 10:00:05.000000 1200 torch/distributed/elastic/multiprocessing/api.py:897] Sending process 1234 closing signal SIGTERM',
    'E1202 10:00:06.000000 1200 torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: -6) local_rank: 1 (pid: 1235) of binary: /usr/bin/python3',
    'Traceback (most recent call last):', '  File "/usr/local/bin/torchrun", line 8, in <module>',
    'torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ',
    '============================================================', '/usr/lib/python3/site-packages/llamafactory/launcher.py FAILED',
    'Root Cause (first observed failure):', '[0]:', '  exitcode  : -6 (pid: 1235)', '  traceback : Signal 6 (SIGABRT) received by PID 1235',
    '============================================================', 'Traceback (most recent call last):', '  File "/usr/local/bin/llamafactory-cli", line 8, in <module>',
    "subprocess.CalledProcessError: Command '['torchrun', '--nnodes', '1']' returned non-zero exit status 1.", '',
  ].join('\n');
  assert.deepEqual(errorLines(log), [
    'c10::DistBackendError: [PG ID 0 PG GUID 0(default_pg) Rank 1] Process group watchdog thread terminated with exception: [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1204, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000) ran for 1800085 milliseconds before timing out.',
    'Signal 6 (SIGABRT) received by PID 1235',
    "subprocess.CalledProcessError: Command '['torchrun', '--nnodes', '1']' returned non-zero exit status 1.",
  ]);
});

const entry = (step: number, total: number, elapsed: string, remaining: string) =>
  JSON.stringify({ current_steps: step, total_steps: total, loss: 1.5, lr: 1e-4, epoch: step / total, percentage: Math.round((step / total) * 1e4) / 100, elapsed_time: elapsed, remaining_time: remaining });

test('a resumed run\'s ETA comes from its own steps (LLaMA-Factory averages its time over the resumed steps too)', () => {
  const dir = join(root, 'resumed');
  const p = join(dir, 'trainer_log.jsonl');
  mkdirSync(dir, { recursive: true });
  // The first attempt: 10 s a step, killed after step 520; checkpoint-500 kept.
  const first = [entry(510, 1000, '1:25:00', '1:21:40'), entry(520, 1000, '1:26:40', '1:20:00')];
  // The second, from checkpoint-500, also 10 s a step: LLaMA-Factory's _timing divides 100 s by 510 steps.
  const second = [entry(510, 1000, '0:01:40', '0:01:36'), entry(520, 1000, '0:03:20', '0:03:04'), entry(530, 1000, '0:05:00', '0:04:26')];
  writeFileSync(p, [...first, ...second].join('\n') + '\n');
  const f = new RunFollower(p, dir);
  f.poll();
  assert.deepEqual(f.lines.map((l) => l.remaining_time), ['1:21:40', '1:20:00', '', '1:20:00', '1:18:20']);
  assert.match(progressText(f.lines[4]), / ETA 1:18:20$/);
  assert.doesNotMatch(progressText(f.lines[2]), /ETA/);
  // The attempt now running starts at the third line.
  assert.equal(f.attemptStart, 2);
});

test('a log replaced by a copy that goes on (rsync to a shared disk writes a new file each time) is not a start over', () => {
  const dir = join(root, 'synced');
  mkdirSync(dir, { recursive: true });
  const p = join(dir, 'trainer_log.jsonl');
  const e = (s: number) => entry(s, 10, `0:00:${String(s * 5).padStart(2, '0')}`, '0:00:40');
  writeFileSync(p, `${e(1)}\n${e(2)}\n`);
  const f = new RunFollower(p, dir);
  assert.equal(f.poll().added.length, 2);
  // rsync: a temp file, renamed over the old one; the same lines and one more.
  writeFileSync(`${p}.tmp`, `${e(1)}\n${e(2)}\n${e(3)}\n`);
  renameSync(`${p}.tmp`, p);
  const { added, reset } = f.poll();
  assert.equal(reset, false);
  assert.deepEqual(added.map((l) => l.current_steps), [3]);
  assert.deepEqual(f.lines.map((l) => l.current_steps), [1, 2, 3]);
  // A log really started over (overwrite_output_dir: deleted, written anew) still is one.
  writeFileSync(`${p}.tmp`, `${entry(1, 20, '0:00:07', '0:02:13')}\n`);
  renameSync(`${p}.tmp`, p);
  const again = f.poll();
  assert.equal(again.reset, true);
  assert.deepEqual(f.lines.map((l) => [l.current_steps, l.total_steps]), [[1, 20]]);
});
