import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertFinalError, assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { errorLines } from '../../src/train/logTail.js';
import { fakeAccuracy, fakeLoss, fakeStarts, installFakeLlamaFactory, pyFloat, pyJson } from '../helpers/fakeLlamaFactory.js';
import { ROOT } from '../helpers/models.js';
import { scriptedBase } from '../helpers/trainCheckpoint.js';
import { inTerminal } from '../helpers/tty.js';

/** The stand-in writes its checkpoints' adapters over this base's real shapes. */
const BASE = await scriptedBase();
const root = realpathSync(mkdtempSync(join(tmpdir(), 'train-run-')));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A run folder written by hand (not by `train init`): train.yaml with paths relative to the folder. */
function runFolder(extra: Record<string, string | number | boolean> = {}): string {
  const dir = join(root, `run${n++}`);
  const config: Record<string, string | number | boolean> = {
    model_name_or_path: BASE, stage: 'sft', do_train: true, finetuning_type: 'lora', lora_target: 'all',
    dataset: 'zh_sft', dataset_dir: 'data', template: 'llama3', cutoff_len: 1024, output_dir: 'output', logging_steps: 1, save_steps: 5,
    per_device_train_batch_size: 1, gradient_accumulation_steps: 8, learning_rate: '1.0e-04', num_train_epochs: '2.0', bf16: true, ...extra,
  };
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'train.yaml'), Object.entries(config).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  return dir;
}

/** Every stand-in of this file: a test that fails half-way must not leave a trainer (a process group) running. */
const records: string[] = [];
after(() => {
  const ours = new Set(records.flatMap((r) => fakeStarts(r).flatMap((s) => [s.pid, ...s.workers])));
  // Only processes that are still the stand-in (a pid can be reused once its process is gone).
  for (const pid of ours) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fakeLlamaFactoryMain')) process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});

/** The stand-in on PATH and a short run. */
function setup(steps = 6) {
  const fake = installFakeLlamaFactory();
  records.push(fake.recordPath);
  const env: Record<string, string> = { ...fake.env, FAKE_LF_STEPS: String(steps), FAKE_LF_STEP_MS: '20' };
  return { fake, env };
}

/** The progress line `train run` prints for a step, written out here from the format (not from follow.ts). */
function expectedLine(step: number, total: number, o: { lr0?: number; epochs?: number; dpo?: boolean } = {}): RegExp {
  const frac = step / total;
  const filled = Math.round(frac * 24);
  const lr = ((o.lr0 ?? 1e-4) * (total - step)) / total;
  const [m, e] = lr.toExponential(2).split('e');
  const lrText = `${m}e${Number(e) < 0 ? '-' : '+'}${String(Math.abs(Number(e))).padStart(2, '0')}`;
  const text = `step ${step}/${total} [${'#'.repeat(filled)}${'.'.repeat(24 - filled)}] ${String(Math.round(frac * 100)).padStart(3)}% loss ${fakeLoss(step)}` +
    (o.dpo ? ` reward acc ${fakeAccuracy(step).toFixed(3)}` : '') + ` lr ${lrText} epoch ${(((o.epochs ?? 2) * step) / total).toFixed(2)}`;
  const esc = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc}${step < total ? ' ETA \\d+:\\d\\d:\\d\\d' : ''}$`);
}

const progressLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('step '));

test('one GPU: llamafactory-cli train train.yaml in the folder, nothing added to the environment; progress, summary, adapter, train.log', async () => {
  const { fake, env } = setup();
  const dir = runFolder();
  const r = await runCli(['train', 'run', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  const starts = fakeStarts(fake.recordPath);
  assert.equal(starts.length, 1);
  assert.deepEqual(starts[0].argv, ['train', 'train.yaml']);
  assert.equal(starts[0].cwd, dir);
  assert.deepEqual(starts[0].env, {});
  // A line per logged step with the exact values the trainer logged, then nothing for the closing metrics entry.
  const lines = progressLines(r.stderr);
  assert.equal(lines.length, 6, r.stderr);
  for (let s = 1; s <= 6; s++) assert.match(lines[s - 1], expectedLine(s, 6));
  assert.match(r.stdout, new RegExp(`^trained: 6/6 steps, final loss ${fakeLoss(6)}, \\d+:\\d\\d:\\d\\d of training; the adapter is in ${dir}/output\nnext: llama3-zh train export ${dir} --name NAME\n$`));
  assert.deepEqual(readdirSync(join(dir, 'output')).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'all_results.json', 'checkpoint-5', 'checkpoint-6', 'train_results.json', 'trainer_log.jsonl', 'trainer_state.json']);
  const adapter = JSON.parse(readFileSync(join(dir, 'output', 'adapter_config.json'), 'utf8'));
  assert.equal(adapter.base_model_name_or_path, BASE);
  assert.equal(adapter.peft_type, 'LORA');
  const log = readFileSync(join(dir, 'train.log'), 'utf8').split('\n');
  assert.match(log[0], /^==== llama3-zh train run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z: /);
  assert.equal(log[0].replace(/ \S+Z: /, ' T: '), `==== llama3-zh train run T: cd ${dir} && llamafactory-cli train train.yaml ====`);
  assert.ok(log.some((l) => l.includes('***** train metrics *****')), 'the trainer\'s output is in train.log');
  assert.ok(!r.stderr.includes('***** train metrics'), 'and not on screen without --verbose');
});

test('--verbose shows the trainer\'s own output too (train.log as it grows, on stderr)', async () => {
  const { env } = setup(2);
  const r = await runCli(['train', 'run', runFolder(), '--verbose'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\*\*\*\*\* train metrics \*\*\*\*\*/);
  assert.match(r.stderr, /llamafactory\.hparams\.parser:485 >> Process rank: 0/);
});

test('--gpus 0: one device named; --gpus 0,1,2,3: torchrun with four processes', async () => {
  const { fake, env } = setup(2);
  const one = await runCli(['train', 'run', runFolder(), '--gpus', '0'], { env });
  assert.equal(one.code, 0, one.stderr);
  const dir = runFolder();
  const four = await runCli(['train', 'run', dir, '--gpus', '0,1,2,3'], { env });
  assert.equal(four.code, 0, four.stderr);
  const starts = fakeStarts(fake.recordPath);
  assert.deepEqual(starts.map((s) => s.env), [
    { CUDA_VISIBLE_DEVICES: '0', NPROC_PER_NODE: '1' },
    { FORCE_TORCHRUN: '1', NPROC_PER_NODE: '4', CUDA_VISIBLE_DEVICES: '0,1,2,3' },
  ]);
  assert.match(readFileSync(join(dir, 'train.log'), 'utf8'), /llamafactory\.launcher:62 >> Initializing 4 distributed tasks at: 127\.0\.0\.1:\d+\n/);
});

test('two nodes: the same rendezvous on both, each its own rank; rank 1 says progress is logged on node 0', async () => {
  const { fake, env } = setup(2);
  const flags = ['--gpus', '0,1', '--nnodes', '2', '--master-addr', '10.0.0.1', '--master-port', '29501'];
  const r0 = await runCli(['train', 'run', runFolder(), ...flags, '--node-rank', '0'], { env });
  assert.equal(r0.code, 0, r0.stderr);
  const r1 = await runCli(['train', 'run', runFolder(), ...flags, '--node-rank', '1'], { env });
  assert.equal(r1.code, 0, r1.stderr);
  const common = { CUDA_VISIBLE_DEVICES: '0,1', FORCE_TORCHRUN: '1', NPROC_PER_NODE: '2', NNODES: '2', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29501' };
  assert.deepEqual(fakeStarts(fake.recordPath).map((s) => s.env), [{ ...common, NODE_RANK: '0' }, { ...common, NODE_RANK: '1' }]);
  assert.equal(progressLines(r0.stderr).length, 2);
  assert.equal(progressLines(r1.stderr).length, 0);
  assert.match(r1.stderr, /^started LLaMA-Factory on node rank 1; progress is logged on node 0 \(or: llama3-zh train watch .* on a shared disk\)/m);
  // Without --node-rank a multi-node run cannot start.
  assertOneLineError(await runCli(['train', 'run', runFolder(), '--nnodes', '2', '--master-addr', '10.0.0.1'], { env }), /^llama3-zh train: a run on 2 nodes needs --node-rank R on each/);
});

test('--ray: USE_RAY=1 and nothing else', async () => {
  const { fake, env } = setup(2);
  const r = await runCli(['train', 'run', runFolder(), '--ray'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fakeStarts(fake.recordPath).map((s) => s.env), [{ USE_RAY: '1' }]);
});

test('--dry-run prints the command, folder and environment and starts nothing (no llamafactory-cli needed)', async () => {
  const dir = runFolder({ deepspeed: 'ds_z3_config.json' });
  const r = await runCli(['train', 'run', dir, '--gpus', '0,1,2,3', '--dry-run'], { env: { PATH: '/nonexistent' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    `cwd: ${dir}`,
    'env: CUDA_VISIBLE_DEVICES=0,1,2,3 FORCE_TORCHRUN=1 NPROC_PER_NODE=4',
    'command: llamafactory-cli train train.yaml',
    `run it yourself: cd ${dir} && CUDA_VISIBLE_DEVICES=0,1,2,3 FORCE_TORCHRUN=1 NPROC_PER_NODE=4 llamafactory-cli train train.yaml`,
    '',
  ].join('\n'));
  assert.ok(!existsSync(join(dir, 'train.log')));
  const one = await runCli(['train', 'run', dir, '--dry-run', '--fresh'], { env: { PATH: '/nonexistent' } });
  assert.match(one.stdout, /^env: FORCE_TORCHRUN=1$/m, 'DeepSpeed needs torchrun even on one GPU');
  assert.match(one.stdout, /^command: llamafactory-cli train train\.yaml overwrite_output_dir=true$/m);
  // Any LLaMA-Factory config in the folder, by its own name; a folder made for two nodes says what it is started as.
  writeFileSync(join(dir, 'other.yaml'), readFileSync(join(dir, 'train.yaml')));
  writeFileSync(join(dir, 'llama3-zh.json'), JSON.stringify({ version: 1, recipe: 'dpo-zh', gpus: 8, nnodes: 2 }));
  const other = await runCli(['train', 'run', join(dir, 'other.yaml'), '--dry-run'], { env: { PATH: '/nonexistent' } });
  assert.match(other.stdout, /^command: llamafactory-cli train other\.yaml$/m);
  const meta = await runCli(['train', 'run', dir, '--dry-run'], { env: { PATH: '/nonexistent' } });
  assert.equal(meta.stderr, `note: ${dir} was made for 2 nodes; this starts it on this node alone (the command for each node is in ${dir}/run.sh)\n`);
});

test('llamafactory-cli not on PATH: one line with the install command, exit 1', async () => {
  const r = await runCli(['train', 'run', runFolder()], { env: { PATH: '/nonexistent' } });
  assertOneLineError(r, /^llama3-zh train: llamafactory-cli is not on PATH: install LLaMA-Factory with pip install -U llamafactory \(and for DeepSpeed runs: pip install "deepspeed>=0\.10\.0,<=0\.18\.4"\), or activate the environment it is in$/);
  assert.equal(r.code, 1);
});

test('a run that runs out of GPU memory exits 1 with the traceback\'s error line and where the full log is', async () => {
  const { env } = setup();
  const dir = runFolder();
  const r = await runCli(['train', 'run', dir], { env: { ...env, FAKE_LF_FAIL: 'step:3' } });
  assert.equal(r.code, 1);
  assertFinalError(r, new RegExp(`^llama3-zh train: LLaMA-Factory failed at step 2/6 \\(exit status 1\\); its full output is in ${dir}/train\\.log$`));
  const lines = r.stderr.trim().split('\n');
  assert.match(lines.at(-2)!, /^ {2}torch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate 2\.00 GiB\. GPU 0 has a total capacity of 23\.55 GiB/);
  assert.equal(progressLines(r.stderr).length, 2);

  // Under torchrun: the worker's error (its "[rank0]: " prefix dropped) and the launcher's, not torchrun's report.
  const multi = await runCli(['train', 'run', runFolder(), '--gpus', '0,1'], { env: { ...env, FAKE_LF_FAIL: 'step:3' } });
  assert.equal(multi.code, 1);
  const shown = multi.stderr.trim().split('\n').slice(-3);
  assert.match(shown[0], /^ {2}torch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate 2\.00 GiB\./);
  assert.match(shown[1], /^ {2}subprocess\.CalledProcessError: Command '\['torchrun', .*'train\.yaml'\]' returned non-zero exit status 1\.$/);
  assert.match(shown[2], /^llama3-zh train: LLaMA-Factory failed at step 2\/6 \(exit status 1\)/);
});

test('a key LLaMA-Factory does not have: its own ValueError, shown', async () => {
  const { env } = setup();
  const r = await runCli(['train', 'run', runFolder({ lora_rnak: 8 })], { env });
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.at(-2), "  ValueError: Some keys are not used by the HfArgumentParser: ['lora_rnak']");
  assert.match(lines.at(-1)!, /^llama3-zh train: LLaMA-Factory failed \(exit status 1\); its full output is in /);
});

test('a stopped run resumes from its last checkpoint, and says so', async () => {
  const { fake, env } = setup();
  const dir = runFolder({ save_steps: 2 });
  const failed = await runCli(['train', 'run', dir], { env: { ...env, FAKE_LF_FAIL: 'step:4' } });
  assert.equal(failed.code, 1);
  const r = await runCli(['train', 'run', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^resuming from checkpoint-2 in output \(LLaMA-Factory continues from the last checkpoint; --fresh starts over\)$/m);
  assert.match(readFileSync(join(dir, 'train.log'), 'utf8'), /llamafactory\.hparams\.parser:627 >> Resuming training from output\/checkpoint-2\.\n/);
  // Steps 3…6 this time (LLaMA-Factory appends to the first start's trainer_log.jsonl; only the new entries are shown).
  assert.deepEqual(progressLines(r.stderr).map((l) => l.split(' ')[1]), ['3/6', '4/6', '5/6', '6/6']);
  assert.deepEqual(readFileSync(join(dir, 'output', 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).current_steps), [1, 2, 3, 3, 4, 5, 6, 6]);
  assert.deepEqual(fakeStarts(fake.recordPath).map((s) => s.argv), [['train', 'train.yaml'], ['train', 'train.yaml']]);
  assert.equal(readFileSync(join(dir, 'train.log'), 'utf8').split('\n').filter((l) => l.startsWith('==== llama3-zh train run ')).length, 2);
});

test('a finished run: refused without a checkpoint to resume, --fresh starts over with overwrite_output_dir=true', async () => {
  const { fake, env } = setup(3);
  const dir = runFolder({ stage: 'dpo', pref_beta: 0.5, learning_rate: '5.0e-06' });
  const first = await runCli(['train', 'run', dir], { env });
  assert.equal(first.code, 0, first.stderr);
  for (let s = 1; s <= 3; s++) assert.match(progressLines(first.stderr)[s - 1], expectedLine(s, 3, { lr0: 5e-6, dpo: true }));
  rmSync(join(dir, 'output', 'checkpoint-3'), { recursive: true });
  assertOneLineError(await runCli(['train', 'run', dir], { env }), /^llama3-zh train: .*output already holds a trained model \(adapter_model\.safetensors\) and no checkpoint to resume: export it \(llama3-zh train export .* --name NAME\), or start over with --fresh$/);
  const r = await runCli(['train', 'run', dir, '--fresh'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fakeStarts(fake.recordPath).at(-1)!.argv, ['train', 'train.yaml', 'overwrite_output_dir=true']);
  // The finished run's output moved aside first (its trainer log with it: LLaMA-Factory has none to delete).
  assert.match(r.stderr, /^moved the previous run's output to output\.before-fresh-\S+ \(--fresh\)$/m);
  assert.doesNotMatch(readFileSync(join(dir, 'train.log'), 'utf8'), /Previous trainer log in this folder will be deleted\./);
  assert.equal(readFileSync(join(dir, 'output', 'trainer_log.jsonl'), 'utf8').trim().split('\n').length, 4, 'three steps and the closing entry, once');
});

/** Alive and not a zombie (an orphan's zombie stays where PID 1 does not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2)[0]);
  } catch {
    return false;
  }
}

/** `train run` started as a user would, stopped with `sig` once the trainer has logged a step and started its workers. */
async function interrupt(sig: NodeJS.Signals, extra: Record<string, string>) {
  const { fake, env } = setup(100000);
  const dir = runFolder({ save_steps: 2 });
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'run', dir],
    { env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome(), ...env, FAKE_LF_WORKERS: '2', FAKE_LF_STEP_MS: '50', ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', r));
  for (let i = 0; i < 600 && !progressLines(stderr).some((l) => l.startsWith('step 3/')); i++) await new Promise((r) => setTimeout(r, 50));
  const start = fakeStarts(fake.recordPath)[0];
  assert.equal(start.workers.length, 2);
  assert.ok([start.pid, ...start.workers].every(alive), 'the trainer and its workers run');
  child.kill(sig);
  const code = await exited;
  return { code, stderr, start, dir };
}

test('Ctrl-C stops the whole tree: no worker left, exit 130, the checkpoint kept', async () => {
  const { code, stderr, start } = await interrupt('SIGINT', {});
  assert.equal(code, 130, stderr);
  assert.deepEqual([start.pid, ...start.workers].filter(alive), [], 'no process of the run is left');
  assert.match(stderr.trim().split('\n').at(-1)!, /^llama3-zh train: interrupted at step \d+\/100000; checkpoint-\d+ is kept: run the same command to resume from it \(log: .*train\.log\)$/);
});

test('SIGTERM, with workers that ignore signals (stuck in a collective): killed after the grace period, exit 143', async () => {
  const { code, stderr, start } = await interrupt('SIGTERM', { FAKE_LF_STUCK_WORKERS: '1', LLAMA3ZH_STOP_GRACE_S: '1' });
  assert.equal(code, 143, stderr);
  assert.deepEqual([start.pid, ...start.workers].filter(alive), [], 'no process of the run is left');
});

test('the trainer writes train.log itself: killing llama3-zh does not stop it, and train watch follows it to the end', async () => {
  const { env } = setup(8);
  const dir = runFolder();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'run', dir],
    { env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome(), ...env, FAKE_LF_STEP_MS: '100' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.on('close', r));
  for (let i = 0; i < 600 && !stderr.includes('step 2/8 '); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await exited;
  const w = await runCli(['train', 'watch', dir], { env });
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout.trim().split('\n').at(-1), `finished: 8/8 steps, final loss ${fakeLoss(8)}, ${JSON.parse(readFileSync(join(dir, 'output', 'trainer_log.jsonl'), 'utf8').trim().split('\n').at(-1)!).elapsed_time} of training`);
  assert.match(readFileSync(join(dir, 'train.log'), 'utf8'), /\*\*\*\*\* train metrics \*\*\*\*\*/);
});

test('on a terminal: one progress line redrawn in place', async () => {
  const { env } = setup(3);
  const dir = runFolder();
  const out = await inTerminal([], process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'run', dir], { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome(), ...env, FAKE_LF_STEP_MS: '300' });
  assert.match(out, /\nEXIT 0\n$/);
  // Each update goes back to the line's start and clears what is left of the last one.
  assert.match(out, new RegExp(`\\rstep 3/3 \\[#{24}\\] 100% loss ${fakeLoss(3)} lr 0\\.00e\\+00 epoch 2\\.00\\x1b\\[K`));
  assert.ok(!/\r?\nstep \d\/3 /.test(out), 'no progress line of its own');
});

test('the stand-in writes trainer_log.jsonl as Python does: floats by repr, json.dumps separators', () => {
  // Python 3's repr of the same doubles.
  const xs = [1e-5, 4.5e-5, 1e-4, 2, 100, 16.67, 1e16, 123456789012345, 0.1 + 0.2, -3.5e-7, (1e-4 * 5) / 6, 2 / 3];
  assert.deepEqual(xs.map(pyFloat), ['1e-05', '4.5e-05', '0.0001', '2.0', '100.0', '16.67', '1e+16', '123456789012345.0', '0.30000000000000004', '-3.5e-07', '8.333333333333333e-05', '0.6666666666666666']);
  assert.equal(pyJson([['current_steps', { int: 1 }], ['loss', { float: 2 }], ['lr', { float: 5e-6 }], ['elapsed_time', '0:00:01']]),
    '{"current_steps": 1, "loss": 2.0, "lr": 5e-06, "elapsed_time": "0:00:01"}');
});

test('the error lines of a failed run: the exceptions of its tracebacks, rank prefixes dropped, repeats once', () => {
  const log = [
    '[rank1]: Traceback (most recent call last):', '[rank1]:   File "launcher.py", line 23, in <module>',
    '[rank1]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.',
    '[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.',
    ' 30%|███       | 3/10 [00:03<00:07,  1.00it/s]\r 40%|████      | 4/10',
    'torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ', '====',
    "subprocess.CalledProcessError: Command '['torchrun']' returned non-zero exit status 1.", '',
  ].join('\n');
  assert.deepEqual(errorLines(log), ['torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.', "subprocess.CalledProcessError: Command '['torchrun']' returned non-zero exit status 1."]);
  assert.deepEqual(errorLines('loading…\nSegmentation fault (core dumped)\n'), ['loading…', 'Segmentation fault (core dumped)']);
});

test('Ctrl-C typed on a terminal: the run (in its own session, out of the terminal\'s reach) is stopped by train run', async () => {
  const { fake, env } = setup(100000);
  const dir = runFolder({ save_steps: 2 });
  const out = await inTerminal([['% loss ', '\x03']], process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'run', dir],
    { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome(), ...env, FAKE_LF_WORKERS: '1', FAKE_LF_STEP_MS: '50' });
  assert.match(out, /\nEXIT 130\n$/);
  assert.match(out, /stopping the run \(Ctrl-C again to kill it at once\)…/);
  const start = fakeStarts(fake.recordPath)[0];
  assert.deepEqual([start.pid, ...start.workers].filter(alive), []);
});

test('bad input: one line each, nothing started', async () => {
  const { fake, env } = setup();
  assertOneLineError(await runCli(['train', 'run', join(root, 'nope')], { env }), /^llama3-zh train: .*nope does not exist: give the folder `llama3-zh train init` wrote/);
  assertOneLineError(await runCli(['train', 'run', runFolder(), '--gpus', '0,x'], { env }), /^llama3-zh train: --gpus takes CUDA device numbers separated by commas, e\.g\. 0,1,2,3 \(got "0,x"\)$/);
  assertOneLineError(await runCli(['train', 'run', runFolder(), '--gpus', '1,1'], { env }), /^llama3-zh train: --gpus names a device twice/);
  assertOneLineError(await runCli(['train', 'run', runFolder(), '--master-port', '70000'], { env }), /^llama3-zh train: --master-port must be a whole number from 1 to 65535 \(got "70000"\)$/);
  assertOneLineError(await runCli(['train', 'run', runFolder(), '--ray', '--nnodes', '2', '--node-rank', '0', '--master-addr', 'h'], { env }), /^llama3-zh train: --ray and --nnodes do not go together/);
  assertOneLineError(await runCli(['train', 'run'], { env }), /^llama3-zh train: usage: llama3-zh train run DIR/);
  assert.deepEqual(fakeStarts(fake.recordPath), []);
});

test('what the shell already exports for the launcher is what the run is planned with: a node rank, a rendezvous port, FORCE_TORCHRUN', async () => {
  const dir = runFolder();
  const dry = (args: string[], env: Record<string, string>) => runCli(['train', 'run', dir, ...args, '--dry-run'], { env: { PATH: '/nonexistent', ...env } });
  const envLine = (r: { stdout: string; stderr: string }) => r.stdout.split('\n').find((l) => l.startsWith('env: ')) ?? r.stderr;
  // A cluster job that exports the rendezvous (NNODES, NODE_RANK, MASTER_ADDR) and no port: LLaMA-Factory would take
  // a random free port on each node (find_available_port), which never meet; and this node is a worker, not rank 0.
  assert.equal(envLine(await dry(['--gpus', '0,1'], { NNODES: '2', NODE_RANK: '1', MASTER_ADDR: '10.0.0.1' })),
    'env: CUDA_VISIBLE_DEVICES=0,1 FORCE_TORCHRUN=1 NPROC_PER_NODE=2 NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500');
  // An exported MASTER_PORT (29500 taken on this cluster) is kept, not replaced by the default.
  assert.equal(envLine(await dry(['--nnodes', '2', '--node-rank', '0', '--master-addr', 'h'], { MASTER_PORT: '29600' })),
    'env: FORCE_TORCHRUN=1 NNODES=2 NODE_RANK=0 MASTER_ADDR=h MASTER_PORT=29600');
  // --nnodes 1 said on the command line wins over an exported NNODES=2 (which would wait for a second node for good).
  assert.equal(envLine(await dry(['--nnodes', '1'], { NNODES: '2', NODE_RANK: '0', MASTER_ADDR: 'h' })), 'env: NNODES=1 NODE_RANK=0');
  // --ray with FORCE_TORCHRUN=1 exported: the launcher checks FORCE_TORCHRUN first and would start torchrun.
  assert.equal(envLine(await dry(['--ray'], { FORCE_TORCHRUN: '1' })), 'env: USE_RAY=1 FORCE_TORCHRUN=0');
  // An exported value that is wrong says where it came from.
  assertOneLineError(await dry([], { NNODES: '2', NODE_RANK: '5', MASTER_ADDR: 'h' }), /^llama3-zh train: --node-rank must be 0…1 for 2 nodes, not 5 \(NODE_RANK=5 is exported in this shell\)$/);
});

test('a rerun that fails before its first step does not report the step the run before it reached', async () => {
  const { env } = setup();
  const dir = runFolder({ save_steps: 2 });
  const failed = await runCli(['train', 'run', dir], { env: { ...env, FAKE_LF_FAIL: 'step:4' } });
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /LLaMA-Factory failed at step 3\/6 /);
  writeFileSync(join(dir, 'train.yaml'), readFileSync(join(dir, 'train.yaml'), 'utf8') + 'lora_rnak: 8\n');
  const r = await runCli(['train', 'run', dir], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /^llama3-zh train: LLaMA-Factory failed \(exit status 1\); its full output is in /);
});

test('--fresh moves the previous run\'s output aside: its checkpoints would otherwise be what the next resume picks up', async () => {
  const { env } = setup(3);
  const dir = runFolder({ save_steps: 3 });
  const first = await runCli(['train', 'run', dir], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.ok(existsSync(join(dir, 'output', 'checkpoint-3')));
  // Started over, and stopped (here: failed) before a checkpoint of its own.
  const fresh = await runCli(['train', 'run', dir, '--fresh'], { env: { ...env, FAKE_LF_FAIL: 'step:2' } });
  assert.equal(fresh.code, 1);
  const aside = readdirSync(dir).filter((e) => e.startsWith('output.before-fresh-'));
  assert.equal(aside.length, 1);
  assert.match(fresh.stderr, new RegExp(`^moved the previous run's output to ${aside[0]} \\(--fresh\\)$`, 'm'));
  assert.ok(existsSync(join(dir, aside[0], 'checkpoint-3', 'adapter_model.safetensors')));
  assert.deepEqual(readdirSync(join(dir, 'output')).filter((e) => e.startsWith('checkpoint-')), []);
  // The next plain run starts from the beginning, not from the old run's checkpoint-3.
  const again = await runCli(['train', 'run', dir, '--dry-run'], { env });
  assert.doesNotMatch(again.stdout, /resume/);
});

test('a reward-model or PPO run with full or freeze tuning: LLaMA-Factory never resumes it (parser.py), so neither said nor refused', async () => {
  const dir = runFolder({ stage: 'rm', finetuning_type: 'full' });
  mkdirSync(join(dir, 'output', 'checkpoint-4'), { recursive: true });
  const withCk = await runCli(['train', 'run', dir, '--dry-run'], { env: { PATH: '/nonexistent' } });
  assert.equal(withCk.code, 0, withCk.stderr);
  assert.doesNotMatch(withCk.stdout, /resume/);
  // A final model and no checkpoint: LLaMA-Factory skips its output_dir check for these stages and trains over it.
  rmSync(join(dir, 'output', 'checkpoint-4'), { recursive: true });
  writeFileSync(join(dir, 'output', 'model.safetensors'), '');
  const done = await runCli(['train', 'run', dir, '--dry-run'], { env: { PATH: '/nonexistent' } });
  assert.equal(done.code, 0, done.stderr);
});
