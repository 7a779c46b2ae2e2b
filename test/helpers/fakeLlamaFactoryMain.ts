/**
 * The stand-in `llamafactory-cli` itself (installed by fakeLlamaFactory.ts, which says what it mimics and which
 * knobs it has). It follows LLaMA-Factory's code paths where a caller can see them: launcher.py (torchrun or not,
 * its log lines), hparams/parser.py (read_args: the YAML merged with key=value overrides; HfArgumentParser.parse_dict
 * rejecting unknown keys; the output_dir rules), train/callbacks.py LogCallback (trainer_log.jsonl) and transformers'
 * Trainer (checkpoint-N at save_steps and at the last step, trainer_state.json, the final adapter, train_results.json).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LF_ARGS } from '../../src/train/args.js';
import { type FakeStart, fakeAccuracy, fakeLoss, fakeLr, LAUNCH_VARS, pyFloat, pyJson, type PyValue, pyTimedelta } from './fakeLlamaFactory.js';
import { writePeftCheckpoint } from './trainCheckpoint.js';

const env = process.env;
const enabled = (k: string) => ['true', 'y', '1'].includes((env[k] ?? '').toLowerCase()); // misc.py is_env_enabled
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stamp() {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** extras/logging.py's format. */
function log(level: 'INFO' | 'WARNING', name: string, line: number, msg: string) {
  process.stderr.write(`[${level}|${stamp()}] ${name}:${line} >> ${msg}\n`);
}

const FRAMES = `Traceback (most recent call last):
  File "/usr/local/bin/llamafactory-cli", line 8, in <module>
    sys.exit(main())
             ^^^^^^
  File "/usr/local/lib/python3.11/site-packages/llamafactory/cli.py", line 24, in main
    launcher.launch()
  File "/usr/local/lib/python3.11/site-packages/llamafactory/launcher.py", line 157, in launch
    run_exp()
  File "/usr/local/lib/python3.11/site-packages/llamafactory/train/tuner.py", line 132, in run_exp
    _training_function(config={"args": args, "callbacks": callbacks})
`;

/** Whether the launcher went through torchrun (launcher.py: FORCE_TORCHRUN, or several GPUs and not Ray). */
let torchrun = false;

/**
 * A Python exception ending the run. Under torchrun the worker's traceback comes prefixed with its rank, then
 * torchrun's ChildFailedError report, then the launcher's own CalledProcessError (subprocess.run(check=True)).
 */
function die(frames: string, error: string, code = 1): never {
  const tb = `${FRAMES}${frames}${error}\n`;
  if (!torchrun) process.stderr.write(tb);
  else {
    process.stderr.write(tb.replace(/^/gm, '[rank0]: ').replace(/\[rank0\]: $/, ''));
    process.stderr.write(`E1202 03:14:15.926000 4242 torch/distributed/elastic/multiprocessing/api.py:874] failed (exitcode: 1) local_rank: 0 (pid: ${process.pid}) of binary: /usr/bin/python3
Traceback (most recent call last):
  File "/usr/local/bin/torchrun", line 8, in <module>
    sys.exit(main())
torch.distributed.elastic.multiprocessing.errors.ChildFailedError: 
============================================================
/usr/local/lib/python3.11/site-packages/llamafactory/launcher.py FAILED
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  rank      : 0 (local_rank: 0)
  exitcode  : 1 (pid: ${process.pid})
============================================================
Traceback (most recent call last):
  File "/usr/local/bin/llamafactory-cli", line 8, in <module>
    sys.exit(main())
  File "/usr/local/lib/python3.11/subprocess.py", line 571, in run
    raise CalledProcessError(retcode, process.args,
subprocess.CalledProcessError: Command '['torchrun', '--nnodes', '1', '--node_rank', '0', '--nproc_per_node', '${env.NPROC_PER_NODE ?? 1}', '--master_addr', '127.0.0.1', '--master_port', '39157', '/usr/local/lib/python3.11/site-packages/llamafactory/launcher.py', '${process.argv.slice(3).join("', '")}']' returned non-zero exit status 1.
`);
  }
  stopWorkers();
  process.exit(code);
}

// ---- workers: like torchrun's, they live in the launcher's process group and outlive it if only it is killed

const workers: ChildProcess[] = [];

function worker() {
  if (enabled('FAKE_LF_STUCK_WORKERS')) {
    process.on('SIGINT', () => {}).on('SIGTERM', () => {});
  } else {
    process.on('SIGINT', () => {
      process.stderr.write('Traceback (most recent call last):\n  File "/usr/local/lib/python3.11/site-packages/llamafactory/launcher.py", line 185, in <module>\n    run_exp()\nKeyboardInterrupt\n');
      process.exit(130);
    });
  }
  setInterval(() => {}, 1 << 30);
}

function stopWorkers() {
  for (const w of workers) w.kill('SIGTERM');
}

// ---- read_args and the checks of get_train_args

function loadConfig(argv: string[]): Record<string, unknown> {
  const file = argv[0];
  if (!file || !/\.ya?ml$/.test(file)) die('', `ValueError: expected a .yaml config, got ${JSON.stringify(file ?? '')}`);
  let config: Record<string, unknown>;
  try {
    config = (parseYaml(readFileSync(resolve(file), 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (e) {
    die('', `FileNotFoundError: [Errno 2] No such file or directory: '${resolve(file)}' (${(e as Error).message.split('\n')[0]})`);
  }
  // OmegaConf.from_cli: each key=value, its value read as YAML, merged over the file's.
  for (const a of argv.slice(1)) {
    const eq = a.indexOf('=');
    if (eq <= 0) die('', `omegaconf.errors.GrammarParseError: mismatched input '${a}' expecting '='`);
    config[a.slice(0, eq)] = parseYaml(a.slice(eq + 1));
  }
  const unused = Object.keys(config).filter((k) => !(k in LF_ARGS)).sort();
  if (unused.length) {
    die(`  File "/usr/local/lib/python3.11/site-packages/transformers/hf_argparser.py", line 389, in parse_dict
    raise ValueError(f"Some keys are not used by the HfArgumentParser: {sorted(unused_keys)}")
`, `ValueError: Some keys are not used by the HfArgumentParser: [${unused.map((k) => `'${k}'`).join(', ')}]`);
  }
  return config;
}

/** transformers' get_last_checkpoint: the output_dir-relative path of the highest checkpoint-N folder. */
function lastCheckpoint(outputDir: string, shown: string): { path: string; step: number } | undefined {
  if (!existsSync(outputDir)) return undefined;
  const steps = readdirSync(outputDir).map((e) => /^checkpoint-(\d+)$/.exec(e)).filter((m): m is RegExpExecArray => !!m && statSync(join(outputDir, m[0])).isDirectory()).map((m) => Number(m[1]));
  if (!steps.length) return undefined;
  const step = Math.max(...steps);
  return { path: join(shown, `checkpoint-${step}`), step };
}

const CHECKPOINT_NAMES = ['adapter_model.safetensors', 'adapter_model.bin', 'model.safetensors.index.json', 'model.safetensors', 'pytorch_model.bin.index.json', 'pytorch_model.bin'];

// ---- the run

interface State { logHistory: Record<string, number>[]; step: number }

function writeTrainerState(dir: string, st: State, o: { total: number; epochs: number; loggingSteps: number; saveSteps: number; batch: number }) {
  const state = {
    best_global_step: null, best_metric: null, best_model_checkpoint: null, epoch: (o.epochs * st.step) / o.total, eval_steps: 500,
    global_step: st.step, is_hyper_param_search: false, is_local_process_zero: true, is_world_process_zero: true,
    log_history: st.logHistory, logging_steps: o.loggingSteps, max_steps: o.total, num_input_tokens_seen: 0, num_train_epochs: Math.ceil(o.epochs),
    save_steps: o.saveSteps, stateful_callbacks: {}, total_flos: 1234.0 * st.step, train_batch_size: o.batch, trial_name: null, trial_params: null,
  };
  writeFileSync(join(dir, 'trainer_state.json'), `${JSON.stringify(state, Object.keys(state).sort(), 2)}\n`);
}

async function train(argv: string[]) {
  const config = loadConfig(argv);
  const outShown = String(config.output_dir ?? '');
  if (!outShown) die('', 'ValueError: output_dir is required.');
  const outputDir = isAbsolute(outShown) ? outShown : resolve(outShown);
  const overwrite = config.overwrite_output_dir === true;
  let resumed: { path: string; step: number } | undefined;
  if (config.do_train === true && existsSync(outputDir) && statSync(outputDir).isDirectory() && !overwrite) {
    resumed = lastCheckpoint(outputDir, outShown);
    if (!resumed && CHECKPOINT_NAMES.some((n) => existsSync(join(outputDir, n)))) {
      die(`  File "/usr/local/lib/python3.11/site-packages/llamafactory/hparams/parser.py", line 623, in get_train_args
    raise ValueError("Output directory already exists and is not empty. Please set \`overwrite_output_dir\`.")
`, 'ValueError: Output directory already exists and is not empty. Please set `overwrite_output_dir`.');
    }
    if (resumed) {
      log('INFO', 'llamafactory.hparams.parser', 627, `Resuming training from ${resumed.path}.`);
      log('INFO', 'llamafactory.hparams.parser', 628, 'Change `output_dir` or use `overwrite_output_dir` to avoid.');
    }
  }
  log('INFO', 'llamafactory.hparams.parser', 485, `Process rank: 0, world size: ${env.NPROC_PER_NODE ?? 1}, device: cuda:0, distributed training: ${enabled('FORCE_TORCHRUN')}, compute dtype: torch.bfloat16`);
  mkdirSync(outputDir, { recursive: true });
  const trainerLog = join(outputDir, 'trainer_log.jsonl');
  if (overwrite && existsSync(trainerLog)) {
    log('WARNING', 'llamafactory.train.callbacks', 168, 'Previous trainer log in this folder will be deleted.');
    rmSync(trainerLog);
  }

  const maxSteps = typeof config.max_steps === 'number' && config.max_steps > 0 ? config.max_steps : undefined;
  const total = maxSteps ?? Number(env.FAKE_LF_STEPS ?? 10);
  const stepMs = Number(env.FAKE_LF_STEP_MS ?? 100);
  // logging_steps and save_steps below 1 are a fraction of the run (transformers' TrainingArguments).
  const every = (v: unknown, dflt: number) => { const n = typeof v === 'number' ? v : dflt; return n < 1 ? Math.ceil(total * n) : n; };
  const loggingSteps = every(config.logging_steps, 500);
  const saveSteps = every(config.save_steps, 500);
  const epochs = typeof config.num_train_epochs === 'number' ? config.num_train_epochs : 3.0;
  const lr0 = typeof config.learning_rate === 'number' ? config.learning_rate : 5e-5;
  const dpo = config.stage === 'dpo';
  const tokens = config.include_num_input_tokens_seen === true ? Number(env.FAKE_LF_TOKENS ?? 2048) : 0;
  const failAt = /^step:(\d+)$/.exec(env.FAKE_LF_FAIL ?? '')?.[1];
  const base = String(config.model_name_or_path ?? '');
  const adapter = (dir: string) => writePeftCheckpoint(dir, {
    base, rank: typeof config.lora_rank === 'number' ? config.lora_rank : 8, alpha: typeof config.lora_alpha === 'number' ? config.lora_alpha : 16,
    targets: typeof config.lora_target === 'string' ? config.lora_target : 'all',
    modulesToSave: typeof config.additional_target === 'string' ? config.additional_target.split(',').map((s) => s.trim()) : undefined,
  });

  const st: State = { logHistory: [], step: resumed?.step ?? 0 };
  if (resumed) {
    const p = join(outputDir, `checkpoint-${resumed.step}`, 'trainer_state.json');
    if (existsSync(p)) st.logHistory = (JSON.parse(readFileSync(p, 'utf8')) as { log_history: Record<string, number>[] }).log_history;
  }
  const stateOpts = { total, epochs, loggingSteps, saveSteps, batch: typeof config.per_device_train_batch_size === 'number' ? config.per_device_train_batch_size : 8 };
  const start = Date.now();
  // LogCallback._timing: averaged over the steps done, resumed ones included (it counts state.global_step).
  const timing = (cur: number) => {
    const elapsed = (Date.now() - start) / 1000;
    const avg = cur ? elapsed / cur : 0;
    return { elapsed_time: pyTimedelta(elapsed), remaining_time: pyTimedelta((total - cur) * avg) };
  };
  const writeLog = (entries: [string, PyValue][]) => appendFileSync(trainerLog, `${pyJson(entries)}\n`);
  process.stdout.write(`***** Running training *****\n  Num examples = ${total * 8}\n  Num Epochs = ${Math.ceil(epochs)}\n  Total optimization steps = ${total}\n`);

  for (let step = st.step + 1; step <= total; step++) {
    await sleep(stepMs);
    if (failAt && Number(failAt) === step) {
      die(`  File "/usr/local/lib/python3.11/site-packages/transformers/trainer.py", line 2674, in _inner_training_loop
    tr_loss_step = self.training_step(model, inputs, num_items_in_batch)
  File "/usr/local/lib/python3.11/site-packages/torch/autograd/graph.py", line 829, in _engine_run_backward
    return Variable._execution_engine.run_backward(  # Calls into the C++ engine to run the backward pass
`, 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.55 GiB of which 1.12 GiB is free. Including non-PyTorch memory, this process has 22.42 GiB memory in use. Of the allocated memory 21.80 GiB is allocated by PyTorch, and 198.51 MiB is reserved by PyTorch but unallocated.');
    }
    st.step = step;
    process.stderr.write(`\r${String(Math.round((step / total) * 100)).padStart(3)}%|${'█'.repeat(Math.round((step / total) * 10)).padEnd(10)}| ${step}/${total} [00:0${Math.min(9, step)}<00:00,  ${(1000 / stepMs).toFixed(2)}it/s]`);
    if (step % loggingSteps === 0) {
      const loss = fakeLoss(step);
      const lr = fakeLr(lr0, step, total);
      const epoch = (epochs * step) / total;
      const h: Record<string, number> = { loss, grad_norm: 0.5, learning_rate: lr, epoch, step };
      if (dpo) h['rewards/accuracies'] = fakeAccuracy(step);
      st.logHistory.push(h);
      process.stdout.write(`\n{'loss': ${pyFloat(loss)}, 'grad_norm': 0.5, 'learning_rate': ${pyFloat(lr)}, ${dpo ? `'rewards/accuracies': ${pyFloat(fakeAccuracy(step))}, ` : ''}'epoch': ${pyFloat(Math.round(epoch * 100) / 100)}}\n`);
      const t = timing(step);
      const entries: [string, PyValue][] = [['current_steps', { int: step }], ['total_steps', { int: total }], ['loss', { float: loss }]];
      if (dpo) entries.push(['accuracy', { float: fakeAccuracy(step) }]);
      entries.push(['lr', { float: lr }], ['epoch', { float: epoch }], ['percentage', { float: Math.round((step / total) * 100 * 100) / 100 }],
        ['elapsed_time', t.elapsed_time], ['remaining_time', t.remaining_time]);
      if (tokens) entries.push(['throughput', { float: Math.round((step * tokens / Math.max(0.001, (Date.now() - start) / 1000)) * 100) / 100 }], ['total_tokens', { int: step * tokens }]);
      writeLog(entries);
    }
    // DefaultFlowCallback: a checkpoint every save_steps, and one at the last step.
    if (step % saveSteps === 0 || step === total) {
      const dir = join(outputDir, `checkpoint-${step}`);
      const tmp = `${dir}.tmp`;
      adapter(tmp);
      writeTrainerState(tmp, st, stateOpts);
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    }
  }
  process.stderr.write('\n');
  // Trainer.log of the train metrics: on_log sees a history entry without loss/learning_rate, so LogCallback
  // writes a last line with the step counts, epoch and times only.
  const secs = (Date.now() - start) / 1000;
  const losses = st.logHistory.map((h) => h.loss).filter((x) => x !== undefined);
  const trainLoss = losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : 0;
  const t = timing(total);
  writeLog([['current_steps', { int: total }], ['total_steps', { int: total }], ['epoch', { float: epochs }], ['percentage', { float: 100.0 }], ['elapsed_time', t.elapsed_time], ['remaining_time', t.remaining_time]]);
  adapter(outputDir);
  writeTrainerState(outputDir, st, stateOpts);
  const metrics = { epoch: epochs, total_flos: 1234.0 * total, train_loss: trainLoss, train_runtime: secs, train_samples_per_second: (total * 8) / secs, train_steps_per_second: total / secs };
  writeFileSync(join(outputDir, 'train_results.json'), `${JSON.stringify(metrics, null, 4)}\n`);
  writeFileSync(join(outputDir, 'all_results.json'), `${JSON.stringify(metrics, null, 4)}\n`);
  process.stdout.write(`***** train metrics *****\n  epoch                    = ${pyFloat(epochs).padStart(10)}\n  train_loss               = ${trainLoss.toFixed(4).padStart(10)}\n  train_runtime            = ${pyTimedelta(secs).padStart(10)}\n`);
  log('INFO', 'llamafactory.train.tuner', 98, `Model saved to ${outShown}`);
  stopWorkers();
}

function launch(argv: string[]) {
  const command = argv[0];
  if (command === 'version') {
    // launcher.py's WELCOME
    const v = '0.9.6.dev0';
    process.stdout.write(`${'-'.repeat(58)}\n| Welcome to LLaMA Factory, version ${v}${' '.repeat(21 - v.length)}|\n|${' '.repeat(56)}|\n| Project page: https://github.com/hiyouga/LLaMA-Factory |\n${'-'.repeat(58)}\n`);
    return;
  }
  if (command !== 'train') {
    process.stdout.write(`Unknown command: ${command}.\n`);
    return;
  }
  const devices = env.CUDA_VISIBLE_DEVICES !== undefined ? env.CUDA_VISIBLE_DEVICES.split(',').filter(Boolean).length : Number(env.FAKE_LF_GPUS ?? 1);
  if (enabled('FORCE_TORCHRUN') || (devices > 1 && !enabled('USE_RAY'))) {
    torchrun = true;
    const nnodes = env.NNODES ?? '1';
    log('INFO', 'llamafactory.launcher', 62, `Initializing ${env.NPROC_PER_NODE ?? devices} distributed tasks at: ${env.MASTER_ADDR ?? '127.0.0.1'}:${env.MASTER_PORT ?? '39157'}`);
    if (Number(nnodes) > 1) log('INFO', 'llamafactory.launcher', 64, `Multi-node training enabled: num nodes: ${nnodes}, node rank: ${env.NODE_RANK ?? '0'}`);
  }
  for (let i = 0; i < Number(env.FAKE_LF_WORKERS ?? 0); i++) {
    const w = spawn(process.execPath, [process.argv[1], '--worker'], { stdio: 'ignore' });
    w.unref();
    workers.push(w);
  }
  if (env.FAKE_LF_RECORD) {
    const starts: FakeStart[] = existsSync(env.FAKE_LF_RECORD) ? JSON.parse(readFileSync(env.FAKE_LF_RECORD, 'utf8')) : [];
    const launchEnv: Record<string, string> = {};
    for (const k of LAUNCH_VARS) if (env[k] !== undefined) launchEnv[k] = env[k]!;
    starts.push({ argv, cwd: process.cwd(), env: launchEnv, pid: process.pid, workers: workers.map((w) => w.pid!) });
    writeFileSync(env.FAKE_LF_RECORD, JSON.stringify(starts, null, 2));
  }
  // Python's KeyboardInterrupt: a traceback, then death by SIGINT (CPython re-raises it for the exit status). Its
  // workers are left to the signal the terminal sends the whole group.
  process.on('SIGINT', () => {
    process.stderr.write(`\n${FRAMES}  File "/usr/local/lib/python3.11/site-packages/transformers/trainer.py", line 2674, in _inner_training_loop\n    tr_loss_step = self.training_step(model, inputs, num_items_in_batch)\nKeyboardInterrupt\n`);
    process.removeAllListeners('SIGINT');
    process.kill(process.pid, 'SIGINT');
  });
  train(argv.slice(1)).then(() => process.exit(0), (e) => die('', `RuntimeError: ${(e as Error).message}`));
}

if (process.argv[2] === '--worker') worker();
else launch(process.argv.slice(2));
