import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { readTrainerLog } from '../../src/train/trainerLog.js';
import { svgLossChart, terminalLossChart } from '../../src/train/plot.js';
import { assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { pyJson, type PyValue } from '../helpers/fakeLlamaFactory.js';
import { ROOT } from '../helpers/models.js';
import { inTerminal } from '../helpers/tty.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'train-watch-')));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;

function runFolder(): string {
  const dir = join(root, `run${n++}`);
  mkdirSync(join(dir, 'output'), { recursive: true });
  writeFileSync(join(dir, 'train.yaml'), 'model_name_or_path: /models/base\nstage: dpo\ndo_train: true\nfinetuning_type: lora\noutput_dir: output\n');
  return dir;
}

/** A trainer_log.jsonl line as LLaMA-Factory writes it (DPO: with accuracy). */
function entry(step: number, total: number, loss?: number): string {
  const e: [string, PyValue][] = [['current_steps', { int: step }], ['total_steps', { int: total }]];
  if (loss !== undefined) e.push(['loss', { float: loss }], ['accuracy', { float: 0.5 + step / 20 }], ['lr', { float: 5e-6 * (total - step) / total }]);
  e.push(['epoch', { float: step / total }], ['percentage', { float: Math.round((step / total) * 10000) / 100 }], ['elapsed_time', `0:00:0${step}`], ['remaining_time', `0:00:0${total - step}`]);
  return `${pyJson(e)}\n`;
}

const LOSSES = [0.6931, 0.6512, 0.5208, 0.4377];

/** The SVG's title, as watch names the run: relative to its working directory (the test's). */
const title = (dir: string) => `${relative(process.cwd(), dir)}: training loss`;

/** Watchers still running when a test fails, stopped so that nothing is left behind. */
const watchers = new Set<ReturnType<typeof spawn>>();
after(() => { for (const c of watchers) c.kill('SIGKILL'); });

test('--once on a finished log: where it ended, the chart, the summary; --plot writes an SVG', async () => {
  const dir = runFolder();
  const log = join(dir, 'output', 'trainer_log.jsonl');
  writeFileSync(log, LOSSES.map((l, i) => entry(i + 1, 4, l)).join('') + entry(4, 4));
  const svg = join(dir, 'loss.svg');
  // The last step logged, the model not saved yet (save_model comes after trainer.train() returns: minutes for a
  // full model under ZeRO-3, and where a run still fails): not finished.
  const saving = await runCli(['train', 'watch', dir, '--once']);
  assert.equal(saving.stdout.trim().split('\n').at(-1), 'saving the model: 4/4 steps, final loss 0.4377, 0:00:04 of training');
  writeFileSync(join(dir, 'output', 'adapter_model.safetensors'), '');
  const r = await runCli(['train', 'watch', dir, '--once', '--plot', svg]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  // The closing entry has no loss: the last logged loss, lr and accuracy are shown with it.
  assert.equal(lines[0], 'step 4/4 [########################] 100% loss 0.4377 reward acc 0.700 lr 0.00e+00 epoch 1.00');
  const chart = terminalLossChart(readTrainerLog(log), { width: 80, height: 10 });
  assert.deepEqual(lines.slice(1, 1 + chart.length), chart);
  assert.equal(lines[1 + chart.length], 'finished: 4/4 steps, final loss 0.4377, 0:00:04 of training');
  assert.equal(lines.length, chart.length + 3);
  assert.equal(readFileSync(svg, 'utf8'), svgLossChart(readTrainerLog(log), { title: title(dir) }));
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'written atomically, no temp left');
});

test('--once before anything is logged says so', async () => {
  const dir = runFolder();
  const r = await runCli(['train', 'watch', '.', '--once'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'no step logged yet: output/trainer_log.jsonl has no entries\n');
});

/** `train watch` as a process, and a way to wait for what it has printed. */
function watch(dir: string, args: string[] = []) {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'watch', dir, ...args],
    { env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  watchers.add(child);
  const exited = new Promise<number | null>((r) => child.on('close', (code) => { watchers.delete(child); r(code); }));
  const waitFor = async (s: string) => {
    for (let i = 0; i < 600 && !stdout.includes(s); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(stdout.includes(s), `waited for ${JSON.stringify(s)}; got:\n${stdout}${stderr}`);
  };
  return { child, exited, waitFor, out: () => stdout, err: () => stderr };
}

test('following a log being written: a line per entry as it comes, the SVG updated, the end when the model is saved after the last step', async () => {
  const dir = runFolder();
  const log = join(dir, 'output', 'trainer_log.jsonl');
  const svg = join(dir, 'plots', 'loss.svg');
  mkdirSync(join(dir, 'plots'));
  const w = watch(dir, ['--plot', svg]);
  await w.waitFor('waiting for ');
  for (let i = 0; i < 3; i++) {
    appendFileSync(log, entry(i + 1, 4, LOSSES[i]));
    await w.waitFor(`step ${i + 1}/4 `);
  }
  assert.equal(readFileSync(svg, 'utf8'), svgLossChart(readTrainerLog(log), { title: title(dir) }), 'the plot follows the log');
  // A line torn mid-write waits for its end.
  const last = entry(4, 4, LOSSES[3]);
  appendFileSync(log, last.slice(0, 20));
  appendFileSync(log, last.slice(20) + entry(4, 4));
  // Every step logged: the watch goes on until the model is saved.
  await w.waitFor('the last step is logged; waiting for LLaMA-Factory to save the model');
  writeFileSync(join(dir, 'output', 'adapter_model.safetensors'), '');
  assert.equal(await w.exited, 0, w.err());
  const lines = w.out().trim().split('\n');
  assert.match(lines[0], /^waiting for .*output\/trainer_log\.jsonl…$/);
  assert.deepEqual(lines.slice(1, 5).map((l) => l.replace(/ lr .*/, '')), [
    'step 1/4 [######..................]  25% loss 0.6931 reward acc 0.550',
    'step 2/4 [############............]  50% loss 0.6512 reward acc 0.600',
    'step 3/4 [##################......]  75% loss 0.5208 reward acc 0.650',
    'step 4/4 [########################] 100% loss 0.4377 reward acc 0.700',
  ]);
  assert.equal(lines[1], 'step 1/4 [######..................]  25% loss 0.6931 reward acc 0.550 lr 3.75e-06 epoch 0.25 ETA 0:00:03');
  assert.equal(lines.at(-1), `finished: 4/4 steps, final loss 0.4377, 0:00:04 of training; loss plot: ${svg}`);
  assert.match(lines[5], /^the last step is logged; waiting for LLaMA-Factory to save the model in .*output…$/);
  assert.deepEqual(lines.slice(6, -1), terminalLossChart(readTrainerLog(log), { width: 80, height: 10 }));
  assert.equal(readFileSync(svg, 'utf8'), svgLossChart(readTrainerLog(log), { title: title(dir) }));
  assert.match(readFileSync(svg, 'utf8'), /^<svg[^>]* xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
});

test('the final adapter appearing ends the watch (not an older one); Ctrl-C ends it with status 0 (the run goes on)', async () => {
  const dir = runFolder();
  const log = join(dir, 'output', 'trainer_log.jsonl');
  writeFileSync(log, entry(1, 100, 1.5));
  const a = watch(dir);
  await a.waitFor('step 1/100 ');
  writeFileSync(join(dir, 'output', 'adapter_model.safetensors'), '');
  assert.equal(await a.exited, 0, a.err());
  assert.equal(a.out().trim().split('\n').at(-1), 'finished: 1/100 steps, final loss 1.5, 0:00:01 of training');

  // A model older than the log is a previous run's (one started over with overwrite_output_dir): not the end.
  utimesSync(join(dir, 'output', 'adapter_model.safetensors'), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
  const b = watch(dir);
  await b.waitFor('step 1/100 ');
  b.child.kill('SIGINT');
  assert.equal(await b.exited, 0, b.err());
  assert.equal(b.out().trim().split('\n').at(-1), 'stopped watching: 1/100 steps, final loss 1.5, 0:00:01 of training');
  assert.ok(existsSync(log));
});

test('on a terminal: the progress line and the chart redrawn in place', async () => {
  const dir = runFolder();
  const log = join(dir, 'output', 'trainer_log.jsonl');
  writeFileSync(log, entry(1, 3, LOSSES[0]));
  const term = inTerminal([], process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'watch', dir], { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome() });
  for (let i = 1; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 1200));
    appendFileSync(log, entry(i + 1, 3, LOSSES[i]));
  }
  // The model saved after the last step ends the watch.
  await new Promise((r) => setTimeout(r, 1200));
  writeFileSync(join(dir, 'output', 'adapter_model.safetensors'), '');
  const out = await term;
  assert.match(out, /\nEXIT 0\n$/);
  const height = 1 + terminalLossChart(readTrainerLog(log), { width: 100, height: 10 }).length;
  // Back up over the block drawn before, then write it again, each line cleared.
  assert.ok(out.includes(`\x1b[${height}Fstep 2/3 `) || out.includes(`\x1b[${height}Fstep 3/3 `), JSON.stringify(out));
  assert.match(out, /step 3\/3 \[#{24}\] 100% loss 0\.5208 reward acc 0\.650 lr 0\.00e\+00 epoch 1\.00\x1b\[K\r?\n/);
});

test('bad input: a folder that is not a run, a --plot that cannot be written — one line each, before any watching', async () => {
  assertOneLineError(await runCli(['train', 'watch', join(root, 'nope')]), /^llama3-zh train: .*nope does not exist: give the folder `llama3-zh train init` wrote, or a LLaMA-Factory \.yaml$/);
  const dir = runFolder();
  const r = await runCli(['train', 'watch', dir, '--plot', join(dir, 'no', 'such', 'loss.svg')]);
  assertOneLineError(r, /^llama3-zh train: cannot write .*loss\.svg: its folder does not exist$/);
  assert.equal(r.stdout, '');
});
