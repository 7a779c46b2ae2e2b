import { closeSync, existsSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { join, relative } from 'node:path';
import { UserError } from '../../errors.js';
import { parseFlags } from '../flags.js';
import { latest, newsworthy, RunFollower, progressText, summaryText } from '../../train/follow.js';
import { launchPlan, type LaunchOptions, type LaunchPlan } from '../../train/launch.js';
import { errorLines, readBytes, readFrom } from '../../train/logTail.js';
import { finalModel, lastCheckpoint } from '../../train/outputDir.js';
import { groupAlive, sleep, spawnGroup, stopGroup, which } from '../../train/process.js';
import { openRun, type Run, RUN_FILES } from '../../train/runDir.js';

const HELP = `llama3-zh train run DIR [--gpus LIST] [--nnodes N --node-rank R --master-addr HOST [--master-port P]] [--ray]
                      [--fresh] [--verbose] [--dry-run]

Starts \`llamafactory-cli train train.yaml\` in DIR (the folder \`train init\` wrote, or any folder with a
LLaMA-Factory train.yaml whose paths are relative to it), with the environment LLaMA-Factory's launcher reads.
Shows a progress bar from DIR's trainer_log.jsonl; the trainer's own output goes to DIR/train.log.

  --gpus LIST          the CUDA devices of this node, e.g. 0,1,2,3 (CUDA_VISIBLE_DEVICES, NPROC_PER_NODE);
                       more than one runs torchrun
  --nnodes N           nodes in the run; each node runs the same command with its own --node-rank
  --node-rank R        this node's rank: 0 on the master, 1…N-1 on the others
  --master-addr HOST   the master node's address, as the other nodes reach it
  --master-port P      the rendezvous port (default 29500; the same on every node)
  --ray                hand the run to a Ray cluster (USE_RAY=1; ray_num_workers in train.yaml)
  --fresh              start over (overwrite_output_dir=true) instead of resuming from the last checkpoint;
                       the previous run's output folder is moved aside to OUTPUT.before-fresh-TIME first
  --verbose            show the trainer's output too, not only the progress
  --dry-run            print the command, folder and environment, and start nothing

Ctrl-C stops the whole run (every torchrun worker); the checkpoints saved so far stay, and the same command
resumes from the last one. LLAMA3ZH_STOP_GRACE_S (default 15) is how long the trainer gets to stop cleanly
before it is killed.`;

/** The install line for a machine without LLaMA-Factory (its README; DeepSpeed's bounds from requirements/deepspeed.txt). */
export const INSTALL = 'pip install -U llamafactory (and for DeepSpeed runs: pip install "deepspeed>=0.10.0,<=0.18.4")';

export async function runCommand(args: string[]): Promise<void> {
  const { values: v, positionals } = parseFlags('train run', args, {
    gpus: { type: 'string' }, nnodes: { type: 'string' }, 'node-rank': { type: 'string' }, 'master-addr': { type: 'string' },
    'master-port': { type: 'string' }, ray: { type: 'boolean' }, fresh: { type: 'boolean' }, verbose: { type: 'boolean' }, 'dry-run': { type: 'boolean' },
  }, true);
  if (v.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length !== 1) throw new UserError('usage: llama3-zh train run DIR [--gpus LIST] [--dry-run] (llama3-zh train run --help)', 2);
  const arg = positionals[0];
  const run = openRun(arg);
  const { opts, inherited } = launchOptions(v, process.env);
  const plan = planWith(run, opts, inherited, process.env);
  // The config by its name in the folder (DIR/other.yaml works too). Relative, as are train.yaml's own paths:
  // LLaMA-Factory's launcher joins its argv with spaces and splits it again for torchrun, so an absolute path
  // with a space in it would break a multi-GPU run; a folder's own name never reaches that argv.
  plan.command[2] = relative(run.dir, run.configPath);
  // read_args merges key=value arguments over the YAML (OmegaConf.from_cli).
  if (v.fresh) plan.command.push('overwrite_output_dir=true');
  const resume = resumeFrom(arg, run, !!v.fresh);
  const planned = run.meta?.nnodes ?? 1;
  if (planned > 1 && (opts.nnodes ?? 1) === 1 && !opts.ray) {
    console.error(`note: ${arg} was made for ${planned} nodes; this starts it on this node alone (the command for each node is in ${join(arg, RUN_FILES.script)})`);
  }

  if (v['dry-run']) {
    console.log(`cwd: ${plan.cwd}`);
    console.log(`env: ${Object.entries(plan.env).map(([k, x]) => `${k}=${shq(x)}`).join(' ') || '(nothing added)'}`);
    console.log(`command: ${plan.command.map(shq).join(' ')}`);
    console.log(`run it yourself: ${shellLine(plan)}`);
    if (resume !== undefined) console.log(`it would resume from checkpoint-${resume} (--fresh starts over)`);
    if (v.fresh && previousRun(run)) console.log(`it would move the previous run's output to ${asideName(run)} (--fresh)`);
    return;
  }
  const exe = which(plan.command[0]);
  if (!exe) throw new UserError(`llamafactory-cli is not on PATH: install LLaMA-Factory with ${INSTALL}, or activate the environment it is in`);
  if (v.fresh && (plan.env.NODE_RANK ?? '0') === '0') moveAside(run);
  if (resume !== undefined) console.error(`resuming from checkpoint-${resume} in ${relative(run.dir, run.outputDir) || run.outputDir} (LLaMA-Factory continues from the last checkpoint; --fresh starts over)`);
  await launch(arg, run, plan, exe, { verbose: !!v.verbose, rank: plan.env.NODE_RANK });
}

/** Whether LLaMA-Factory's is_env_enabled (extras/misc.py) reads a variable as on: "true", "y" or "1". */
const enabled = (x: string | undefined) => ['true', 'y', '1'].includes((x ?? '').toLowerCase());

/**
 * The flags, with what the shell already exports for the launcher as their defaults: LLaMA-Factory reads NNODES,
 * NODE_RANK, MASTER_ADDR, MASTER_PORT and USE_RAY from the environment it inherits, and a cluster job often
 * exports them; planning without them would show (and check) a run other than the one that starts — a worker
 * node taken for rank 0, or a multi-node run given a random port per node. A flag wins over the export.
 */
function launchOptions(v: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): { opts: LaunchOptions; inherited: Map<string, string> } {
  const inherited = new Map<string, string>();
  const ray = !!v.ray || (v.nnodes === undefined && enabled(env.USE_RAY));
  const from = (flag: string, name: string, use = true) => {
    const s = v[flag] as string | undefined;
    if (s !== undefined || !use || !env[name]) return s;
    inherited.set(flag, `${name}=${env[name]}`);
    return env[name];
  };
  const int = (flag: string, s: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (s === undefined) return undefined;
    const where = inherited.has(flag) ? ` (${inherited.get(flag)} is exported in this shell)` : '';
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) throw new UserError(`--${flag} must be a whole number from ${min} to ${max} (got "${s}")${where}`, 2);
    return Number(s);
  };
  const nnodes = int('nnodes', from('nnodes', 'NNODES', !ray), 1);
  const multi = (nnodes ?? 1) > 1;
  let gpus: number[] | undefined;
  if (typeof v.gpus === 'string') {
    const ids = v.gpus.split(',').map((s) => s.trim());
    if (!ids.every((s) => /^\d+$/.test(s))) throw new UserError(`--gpus takes CUDA device numbers separated by commas, e.g. 0,1,2,3 (got "${v.gpus}")`, 2);
    gpus = ids.map(Number);
    if (new Set(gpus).size !== gpus.length) throw new UserError(`--gpus names a device twice (got "${v.gpus}")`, 2);
  }
  const opts: LaunchOptions = {
    gpus, nnodes, nodeRank: int('node-rank', from('node-rank', 'NODE_RANK', multi), 0), masterAddr: from('master-addr', 'MASTER_ADDR', multi),
    masterPort: int('master-port', from('master-port', 'MASTER_PORT', multi), 1, 65535), ray,
  };
  return { opts, inherited };
}

/**
 * The plan, with the exports it must contradict set against them: a single-node run under an exported NNODES
 * would wait for nodes that never come; --ray under FORCE_TORCHRUN=1 would start torchrun (the launcher looks at
 * FORCE_TORCHRUN first).
 */
function planWith(run: Run, opts: LaunchOptions, inherited: Map<string, string>, env: NodeJS.ProcessEnv): LaunchPlan {
  let plan: LaunchPlan;
  try {
    plan = launchPlan(run.dir, run.config, opts);
  } catch (e) {
    const flag = e instanceof UserError ? /^--([\w-]+)/.exec(e.message)?.[1] : undefined;
    if (flag && inherited.has(flag)) throw new UserError(`${e instanceof Error ? e.message : e} (${inherited.get(flag)} is exported in this shell)`, (e as UserError).exitCode);
    throw e;
  }
  if (opts.ray) {
    if (enabled(env.FORCE_TORCHRUN)) plan.env.FORCE_TORCHRUN = '0';
  } else if ((opts.nnodes ?? 1) === 1 && env.NNODES !== undefined && env.NNODES !== '1') {
    plan.env.NNODES = '1';
    plan.env.NODE_RANK = '0';
  }
  return plan;
}

/**
 * The checkpoint LLaMA-Factory will resume from — it does so silently (hparams/parser.py), so we say it. A
 * finished run (the final adapter, no checkpoint) would make it refuse to start after loading everything; we say
 * so before.
 */
function resumeFrom(arg: string, run: Run, fresh: boolean): number | undefined {
  // resume_from_checkpoint in train.yaml is LLaMA-Factory's to follow; it then looks for no other checkpoint.
  if (fresh || run.config.overwrite_output_dir === true || run.config.do_train !== true || run.config.resume_from_checkpoint != null) return undefined;
  // parser.py: stages rm and ppo with finetuning_type full or freeze cannot resume; it skips the whole check.
  const stage = run.config.stage ?? 'sft';
  const type = run.config.finetuning_type ?? 'lora';
  if ((stage === 'rm' || stage === 'ppo') && (type === 'full' || type === 'freeze')) return undefined;
  const ck = lastCheckpoint(run.outputDir);
  if (ck !== undefined) return ck;
  const done = finalModel(run.outputDir);
  if (done) throw new UserError(`${relative(process.cwd(), run.outputDir) || run.outputDir} already holds a trained model (${done}) and no checkpoint to resume: export it (llama3-zh train export ${shq(arg)} --name NAME), or start over with --fresh`);
  return undefined;
}

/** Whether output_dir holds a run's checkpoints or its final model. */
function previousRun(run: Run): boolean {
  return existsSync(run.outputDir) && (lastCheckpoint(run.outputDir) !== undefined || finalModel(run.outputDir) !== undefined);
}

function asidePath(run: Run): string {
  return `${run.outputDir}.before-fresh-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

function shown(run: Run, p: string): string {
  const r = relative(run.dir, p);
  return r.startsWith('..') ? p : r;
}

function asideName(run: Run): string {
  return shown(run, asidePath(run));
}

/**
 * --fresh: the previous run's output_dir is moved aside, not left for overwrite_output_dir. That flag only
 * makes LLaMA-Factory skip its resume check and delete trainer_log.jsonl (LogCallback.on_init_end); the old
 * checkpoint-N folders stay, and the next plain start of the folder (after a stop or a crash of the new run)
 * would resume from the old run's highest checkpoint (get_last_checkpoint), not the new run's — and
 * save_total_limit would rotate the two runs' checkpoints together. Moved, not deleted: it may be the only copy
 * of a finished model. On several nodes only rank 0 moves it (the others share the disk or have nothing there).
 */
function moveAside(run: Run): void {
  if (!previousRun(run)) return;
  const to = asidePath(run);
  renameSync(run.outputDir, to);
  console.error(`moved the previous run's output to ${shown(run, to)} (--fresh)`);
}

/** A word as a POSIX shell reads it back. */
function shq(s: string): string {
  return /^[\w./,:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function shellLine(plan: LaunchPlan): string {
  const env = Object.entries(plan.env).map(([k, x]) => `${k}=${shq(x)} `).join('');
  return `cd ${shq(plan.cwd)} && ${env}${plan.command.map(shq).join(' ')}`;
}

const signalCode = (sig: NodeJS.Signals) => 128 + (constants.signals[sig] ?? 0);

/** The stop grace, for a trainer that needs long to shut DeepSpeed down (or a test that cannot wait). */
function graceMs(): number {
  const s = Number(process.env.LLAMA3ZH_STOP_GRACE_S ?? 15);
  return (Number.isFinite(s) && s >= 0 ? s : 15) * 1000;
}

/**
 * Start the trainer and see it through. Its stdout and stderr go straight to DIR/train.log (as `> train.log 2>&1`
 * would), not through us: a trainer writing to a pipe dies of a broken pipe on its next line when this process
 * goes (a closed terminal, a killed shell), while one writing to the file runs on, and `train watch` can follow
 * it. --verbose shows the file as it grows.
 */
async function launch(arg: string, run: Run, plan: LaunchPlan, exe: string, o: { verbose: boolean; rank?: string }) {
  const logPath = join(run.dir, RUN_FILES.log);
  const fd = openSync(logPath, 'a');
  writeSync(fd, `==== llama3-zh train run ${new Date().toISOString()}: ${shellLine(plan)} ====\n`);
  const from = statSync(logPath).size;
  const follower = new RunFollower(run.trainerLog, run.outputDir);
  // A resumed run appends to the log of the start before; show only what this start adds, and name only its steps.
  follower.poll();
  let before = follower.lines.length;
  let child;
  try {
    child = spawnGroup(exe, plan.command.slice(1), { cwd: plan.cwd, env: { ...process.env, ...plan.env }, stdio: fd });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((r) => {
    child.on('exit', (code, signal) => r({ code, signal }));
    child.on('error', (error) => r({ code: null, signal: null, error }));
  });
  if (child.pid === undefined) {
    const { error } = await exited;
    throw new UserError(`cannot start ${exe}: ${error?.message ?? 'unknown error'}`);
  }
  const pgid = child.pid;

  // Ctrl-C and SIGTERM stop the whole tree; a second Ctrl-C kills it at once.
  let stopping: NodeJS.Signals | undefined;
  let stopped: Promise<void> | undefined;
  let killNow = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      killNow = true;
      return;
    }
    stopping = sig;
    process.stderr.write(`\nstopping the run (${sig === 'SIGINT' ? 'Ctrl-C again to kill it at once' : sig})…\n`);
    stopped = stopGroup(pgid, sig, graceMs(), { now: () => killNow });
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  const tty = !!process.stderr.isTTY && !o.verbose;
  let drawn = false;
  let echoed = from;
  const show = () => {
    if (o.verbose) {
      const bytes = readBytes(logPath, echoed, Number.MAX_SAFE_INTEGER);
      echoed += bytes.length;
      process.stderr.write(bytes);
    }
    const { added, reset } = follower.poll();
    if (reset) before = 0;
    if (reset) process.stderr.write(`${tty && drawn ? '\n' : ''}the trainer log was started over (overwrite_output_dir)\n`);
    if (!added.length) return;
    if (tty) {
      process.stderr.write(`\r${progressText(latest(follower.lines)!)}\x1b[K`);
      drawn = true;
    } else {
      const all = follower.lines;
      for (let i = all.length - added.length; i < all.length; i++) if (newsworthy(all[i], all[i - 1])) process.stderr.write(`${progressText(all[i])}\n`);
    }
  };
  // On a worker node (rank > 0) nothing is logged: only the world's rank 0 writes trainer_log.jsonl.
  const remote = o.rank !== undefined && o.rank !== '0';
  process.stderr.write(remote
    ? `started LLaMA-Factory on node rank ${o.rank}; progress is logged on node 0 (or: llama3-zh train watch ${arg} on a shared disk); output: ${logPath}\n`
    : `started LLaMA-Factory (pid ${pgid}); its output: ${logPath}\n`);
  const timer = setInterval(() => (remote && !o.verbose ? undefined : show()), o.verbose ? 200 : 500);
  let result: { code: number | null; signal: NodeJS.Signals | null };
  try {
    result = await exited;
    // The launcher is gone; a worker it left (killed, or crashed without taking them down) must not hold the GPUs.
    if (!stopping && groupAlive(pgid)) await stopGroup(pgid, 'SIGTERM', graceMs());
    if (stopped) await stopped;
    while (groupAlive(pgid)) await sleep(50);
  } finally {
    clearInterval(timer);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  if (!remote || o.verbose) show();
  if (drawn) process.stderr.write('\n');

  const last = follower.lines.length > before ? follower.last : undefined;
  const at = last ? ` at step ${last.current_steps}/${last.total_steps}` : '';
  if (stopping) {
    const ck = lastCheckpoint(run.outputDir);
    throw new UserError(`interrupted${at}; ${ck !== undefined ? `checkpoint-${ck} is kept: run the same command to resume from it` : 'no checkpoint was saved yet'} (log: ${logPath})`, signalCode(stopping));
  }
  const code = result.code ?? (result.signal ? signalCode(result.signal) : 1);
  if (code !== 0) {
    for (const l of errorLines(readFrom(logPath, from))) process.stderr.write(`  ${l}\n`);
    throw new UserError(`LLaMA-Factory failed${at} (exit status ${code}); its full output is in ${logPath}`, code);
  }
  const model = finalModel(run.outputDir);
  if (!model) {
    console.log(`LLaMA-Factory finished, but ${run.outputDir} holds no trained model (is do_train: true in ${RUN_FILES.config}?); its output is in ${logPath}`);
    return;
  }
  console.log(`trained: ${summaryText(follower.lines)}; the ${model.startsWith('adapter') ? 'adapter' : 'model'} is in ${run.outputDir}`);
  console.log(`next: llama3-zh train export ${shq(arg)} --name NAME`);
}
