import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../errors.js';
import type { TrainConfig } from './args.js';

/**
 * A run folder, as `train init` writes it. Paths inside train.yaml are relative to the folder (run.sh and `train
 * run` start LLaMA-Factory with the folder as its working directory), so the folder can be copied to a cluster's
 * shared disk and run from any mount point.
 *
 *   DIR/train.yaml          the config for `llamafactory-cli train`
 *   DIR/data/               the datasets and dataset_info.json (dataset_dir: data)
 *   DIR/ds_z2_config.json   DeepSpeed ZeRO config, when the run uses one (deepspeed: ds_z…_config.json)
 *   DIR/run.sh              the exact command for each node
 *   DIR/llama3-zh.json      what llama3-zh knows about the run (RunMeta)
 *   DIR/train.log           the trainer's output, written by `train run`
 *   DIR/output/             LLaMA-Factory's output_dir: trainer_log.jsonl, checkpoint-N/, the final adapter
 */
export const RUN_FILES = {
  config: 'train.yaml',
  data: 'data',
  script: 'run.sh',
  meta: 'llama3-zh.json',
  log: 'train.log',
  output: 'output',
} as const;

/** LLaMA-Factory's own file names (extras/constants.py). */
export const TRAINER_LOG = 'trainer_log.jsonl';
export const RUNNING_LOG = 'running_log.txt';

export interface RunMeta {
  version: 1;
  recipe: string;
  /** The MODEL argument as given, and what it resolved to: a local Hugging Face folder and/or a hub repo id. */
  model: { given: string; path?: string; repo?: string };
  /** LLaMA-Factory's template (train.yaml `template`) and the llama3-zh chat template that matches it. */
  template: string;
  chatTemplate: string;
  /** The datasets' names in dataset_info.json and their kind. */
  datasets: { name: string; kind: 'conversation' | 'pair' | 'document'; rows: number }[];
  gpus: number;
  nnodes: number;
  createdAt: string;
  /** llama3-zh's version that wrote it. */
  tool: string;
}

export interface Run {
  dir: string;
  configPath: string;
  config: TrainConfig;
  /** Absent for a folder llama3-zh did not write (a hand-made LLaMA-Factory config): what can be, is inferred. */
  meta?: RunMeta;
  /** output_dir, resolved against the run folder. */
  outputDir: string;
  trainerLog: string;
}

/**
 * Opens DIR (a run folder) or DIR/FILE.yaml (any LLaMA-Factory config: runs made by hand work too). Errors are
 * one line saying what is missing.
 */
export function openRun(arg: string): Run {
  const p = resolve(arg);
  if (!existsSync(p)) throw new UserError(`${arg} does not exist: give the folder \`llama3-zh train init\` wrote, or a LLaMA-Factory .yaml`);
  const isDir = statSync(p).isDirectory();
  const dir = isDir ? p : resolve(p, '..');
  const configPath = isDir ? join(p, RUN_FILES.config) : p;
  if (!existsSync(configPath)) throw new UserError(`${arg} has no ${RUN_FILES.config}: make one with \`llama3-zh train init --recipe NAME --model MODEL --data FILE --out ${arg}\``);
  let config: TrainConfig;
  try {
    const parsed: unknown = parseYaml(readFileSync(configPath, 'utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a mapping of keys to values');
    config = parsed as TrainConfig;
  } catch (e) {
    throw new UserError(`${configPath} is not a LLaMA-Factory config: ${(e as Error).message.split('\n')[0]}`);
  }
  let meta: RunMeta | undefined;
  const metaPath = join(dir, RUN_FILES.meta);
  if (isDir && existsSync(metaPath)) {
    try {
      meta = JSON.parse(readFileSync(metaPath, 'utf8')) as RunMeta;
    } catch (e) {
      throw new UserError(`${metaPath} is damaged (${(e as Error).message}); it is written by \`train init\`: run it again with --force`);
    }
  }
  const out = typeof config.output_dir === 'string' && config.output_dir ? config.output_dir : undefined;
  if (!out) throw new UserError(`${configPath} has no output_dir: LLaMA-Factory needs one (add output_dir: output)`);
  const outputDir = isAbsolute(out) ? out : resolve(dir, out);
  return { dir, configPath, config, meta, outputDir, trainerLog: join(outputDir, TRAINER_LOG) };
}
