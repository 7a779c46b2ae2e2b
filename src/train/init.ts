import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { datasetName, exportLlamaFactory, type ExportedDataset } from '../data/export.js';
import type { DataRecord } from '../data/record.js';
import { NATIVE_TEMPLATES } from '../chat/templates.js';
import { UserError } from '../errors.js';
import { gib } from '../estimate/terms.js';
import { checkConfig, parseOverride, type TrainConfig, type TrainValue } from './args.js';
import { checkCombination, checkRanges, checkTemplate, chooseZero, estimateRun, gpuMemory, type MemoryPlan, perGpuBytes, suggestCutoff, trainingMethod, usesDefaultToolPrompt } from './checks.js';
import type { ModelShape } from '../estimate/shape.js';
import { DS_CONFIG, DS_FILE, type ZeroStage } from './deepspeed.js';
import { tokenLengths, type LengthStats } from './lengths.js';
import { resolveTrainModel, type TrainModel } from './model.js';
import { findRecipe, type Recipe } from './recipes.js';
import { RUN_FILES, type RunMeta } from './runDir.js';
import { runScript } from './runScript.js';
import { writeTrainYaml } from './yaml.js';

export interface InitOptions {
  recipe: string;
  model?: string;
  data: string[];
  out: string;
  gpus?: number;
  nnodes?: number;
  /** GiB per GPU; undefined: nvidia-smi's, or no fit check. */
  gpuMem?: number;
  force?: boolean;
  overrides?: string[];
  /** Summary lines (stdout) and warnings (stderr). */
  say?: (line: string) => void;
  warn?: (line: string) => void;
}

export interface InitResult {
  dir: string;
  config: TrainConfig;
  model: TrainModel;
  datasets: ExportedDataset[];
  lengths: LengthStats;
  memory?: MemoryPlan;
  zero?: ZeroStage;
  files: string[];
}

/** Keys init fills in from its own flags: an override would silently disagree with the data or model it checked. */
const OWN_KEYS: Record<string, string> = {
  model_name_or_path: '--model', dataset: '--data', dataset_dir: '--data',
};

/**
 * One dataset name per --data file, from its name: `data export` asks for --name when two files share one
 * (a/zh.jsonl, b/zh.jsonl), which init has not got, so the second is zh_2; a name left empty (".jsonl") is "data".
 */
function uniqueNames(base: string[]): string[] {
  const seen = new Set<string>();
  return base.map((b) => {
    const stem = b || 'data';
    let nm = stem;
    for (let i = 2; seen.has(nm); i++) nm = `${stem}_${i}`;
    seen.add(nm);
    return nm;
  });
}

/** What a stage reads (LLaMA-Factory loader.py: a ranking dataset in any stage but rm/dpo is "not applicable"). */
function neededKind(stage: TrainValue): DataRecord['kind'] {
  return stage === 'dpo' || stage === 'rm' || stage === 'kto' ? 'pair' : stage === 'pt' ? 'text' : 'chat';
}
const KIND_WORDS: Record<DataRecord['kind'], string> = { chat: 'conversations', pair: 'preference pairs (prompt, chosen, rejected)', text: 'plain text documents' };
const META_KIND: Record<DataRecord['kind'], RunMeta['datasets'][number]['kind']> = { chat: 'conversation', pair: 'pair', text: 'document' };

/** LLaMA-Factory template → the llama3-zh chat template that renders the same turns (for `train export`, `chat`). */
export function chatTemplateFor(t: string): string {
  return t === 'default' ? 'lf-default' : t;
}

/** The LLaMA-Factory templates llama3-zh can chat in after `train export` (lf-default is LLaMA-Factory's default). */
const CHATTABLE = new Set([...Object.keys(NATIVE_TEMPLATES), 'lf-default']);

/**
 * Everything before a byte is written: recipe and overrides, every key against LLaMA-Factory's arguments, the
 * model, the template, the output folder, memory. Then the run folder is built under a temp name beside DIR (data
 * exported and measured there) and renamed into place: a failure or Ctrl-C leaves nothing.
 */
export async function initRun(o: InitOptions): Promise<InitResult> {
  const say = o.say ?? (() => {});
  const warn = o.warn ?? (() => {});
  const recipe = findRecipe(o.recipe);
  const gpus = o.gpus ?? 1;
  const nnodes = o.nnodes ?? 1;
  const world = gpus * nnodes;
  if (!o.data.length) throw new UserError('give the training data with --data FILE[,FILE…]', 2);
  const names = uniqueNames(o.data.map(datasetName));

  const overrides = (o.overrides ?? []).map(parseOverride);
  for (const [k] of overrides) if (OWN_KEYS[k]) throw new UserError(`${k} is set by ${OWN_KEYS[k]}; give it there instead of ${k}=…`, 2);
  const model = resolveTrainModel(o.model ?? recipe.defaultModel);
  const config: TrainConfig = { ...recipe.config, model_name_or_path: model.nameOrPath, dataset: names.join(',') };
  for (const [k, v] of overrides) config[k] = v;
  const problems = checkConfig(config);
  if (problems.length) throw new UserError(problems[0] + (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''), 2);
  const range = checkRanges(config);
  if (range) throw new UserError(range, 2);
  const warnings = checkTemplate(config, model, recipe.name, overrides.some(([k]) => k === 'template'));
  // template=alpaca, vicuna, … train fine, but llama3-zh has no chat template that renders them: chat, serve and
  // eval of the exported model would talk to it in a format it was not trained in.
  if (typeof config.template === 'string' && !CHATTABLE.has(chatTemplateFor(config.template))) {
    warnings.push(`warning: template ${config.template} has no llama3-zh chat template (${[...CHATTABLE].join(', ')}): chat with the exported model will not use the format it was trained in; template=default or llama3 can be chatted with`);
  }
  const userDs = overrides.some(([k]) => k === 'deepspeed');
  const userZero = userDs ? userDeepspeed(config) : undefined;
  absolutePaths(config, overrides.map(([k]) => k));

  const dir = resolve(o.out);
  checkOutDir(o.out, dir, !!o.force, [...(model.path ? [{ flag: '--model', given: model.given, path: model.path }] : []), ...o.data.map((f) => ({ flag: '--data', given: f, path: resolve(f) }))]);
  checkOtherOutput(config, dir);

  // DeepSpeed and memory, from the config as it now stands.
  const gpu = gpuMemory(o.gpuMem);
  const zero: ZeroStage | undefined = userDs ? userZero : chooseZero(config, model.shape, world, gpu.bytes);
  if (!userDs && zero) config.deepspeed = DS_FILE[zero];
  const combo = checkCombination(config, zero);
  if (combo) throw new UserError(combo, 2);
  // eval_dataset names datasets in data/dataset_info.json, which holds only the --data files.
  const unknownEval = typeof config.eval_dataset === 'string' ? config.eval_dataset.split(',').map((x) => x.trim()).filter((x) => !names.includes(x)) : [];
  if (unknownEval.length) {
    throw new UserError(`eval_dataset ${unknownEval[0]} is not in the run's ${RUN_FILES.data}/dataset_info.json (its datasets: ${names.join(', ')}, from --data); LLaMA-Factory: "Undefined dataset ${unknownEval[0]} in dataset_info.json."; hold out part of the data with val_size=0.05 instead`, 2);
  }
  // Past max_position_embeddings the positions were never trained, and LLaMA-Factory scales RoPE only when told
  // (rope_scaling). Only a folder's config.json says the context: a name's shape (8B) does not tell 3 from 3.1.
  const ctx = model.path ? model.shape?.contextLength : undefined;
  if (ctx && typeof config.cutoff_len === 'number' && config.cutoff_len > ctx && config.rope_scaling == null) {
    warnings.push(`warning: cutoff_len ${config.cutoff_len} is beyond the model's context (${ctx} tokens, max_position_embeddings): positions past it were never trained; cutoff_len=${ctx}, or rope_scaling=linear|dynamic|yarn to stretch it`);
  }
  let memory: MemoryPlan | undefined;
  if (model.shape) {
    const estimate = estimateRun(config, model.shape);
    memory = { estimate, perGpu: perGpuBytes(estimate, zero, world), zero, gpuMem: gpu.bytes, gpuMemFrom: gpu.from };
    if (gpu.bytes !== undefined && memory.perGpu > gpu.bytes && !o.force) throw new UserError(tooBig(memory, config, model.shape, world, gpu.bytes));
  }

  // The folder, under a temp name: the data is exported (and checked) into it.
  const tmp = join(dirname(dir), `.${basename(dir)}.init-${process.pid}.tmp`);
  // --out a/b/run with a/ new: a failure removes the parent folders it made too (only while they are empty).
  let madeParents: string | undefined;
  let placed = false;
  const clean = () => {
    try { rmSync(tmp, { recursive: true, force: true }); } catch { /* nothing was made there */ }
    if (placed || !madeParents) return;
    for (let p = dirname(dir); p.length >= madeParents.length; p = dirname(p)) { try { rmdirSync(p); } catch { break; } }
  };
  const onSignal = () => { clean(); process.exit(130); };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal).on('exit', clean);
  try {
    madeParents = mkdirSync(dirname(dir), { recursive: true });
    mkdirSync(tmp);
    const datasets = await exportLlamaFactory(o.data, join(tmp, RUN_FILES.data), { names });
    const need = neededKind(config.stage);
    for (const ds of datasets) if (ds.kind !== need) throw new UserError(wrongKind(ds, need, config, recipe));
    // Template default (a base model's) writes tools with LLaMA-Factory's default tool prompt, which stops the run
    // with a KeyError or TypeError on some tool lists the llama3 template takes: refused here, not hours later.
    const template = String(config.template ?? '');
    for (const ds of datasets) {
      const p = ds.defaultToolPrompt;
      if (p && usesDefaultToolPrompt(template)) {
        throw new UserError(`${ds.input}:${p.line}: ${p.reason}; LLaMA-Factory's default tool prompt (template ${template}) stops the run on it${p.rows > 1 ? ` (${p.rows} rows like it)` : ''}: fix the tools, or train an Instruct model with template llama3`);
      }
    }
    for (const ds of datasets) {
        if (ds.rejected.count) warnings.push(`warning: ${ds.input}: ${ds.rejected.count} of ${ds.rows} rows are broken and were left out (llama3-zh data check ${ds.input} lists them)`);
      // ShareGPT holds no text beside a tool call and no call ids: export keeps the row and says what it left out.
      for (const [what, k] of ds.lost.counts) warnings.push(`warning: ${ds.input}: ${k} of ${ds.rows} rows kept with a loss: ${what}`);
      if (ds.otherKind.total) warnings.push(`warning: ${ds.input}: ${ds.otherKind.total} rows of another kind were left out (${[...ds.otherKind.counts.keys()].join('; ')})`);
    }
    const cutoff = typeof config.cutoff_len === 'number' ? config.cutoff_len : 2048;
    const lengths = await tokenLengths(datasets.map((d) => ({ path: join(tmp, RUN_FILES.data, d.file), kind: d.kind })), cutoff);
    // Stage pt packs the documents into cutoff_len blocks (packing defaults to true there): nothing is cut away.
    if (config.stage !== 'pt' && lengths.over / lengths.rows > 0.01) {
      warnings.push(`warning: ${pct(lengths.over, lengths.rows)} of the rows are longer than cutoff_len ${cutoff} and will be cut; cutoff_len=${suggestCutoff(lengths.p99)} keeps 99% whole`);
    }

    const files: string[] = [RUN_FILES.config, `${RUN_FILES.data}/`];
    writeFileSync(join(tmp, RUN_FILES.config), writeTrainYaml(config, { header: yamlHeader(recipe), comments: recipe.comments }));
    if (zero && config.deepspeed === DS_FILE[zero]) {
      writeFileSync(join(tmp, DS_FILE[zero]), DS_CONFIG[zero]);
      files.push(DS_FILE[zero]);
    }
    writeFileSync(join(tmp, RUN_FILES.script), runScript(config, { recipe: recipe.name, gpus, nnodes }));
    chmodSync(join(tmp, RUN_FILES.script), 0o755);
    files.push(RUN_FILES.script);
    const meta: RunMeta = {
      version: 1, recipe: recipe.name,
      model: { given: model.given, ...(model.path ? { path: model.path } : {}), ...(model.repo ? { repo: model.repo } : {}) },
      template: String(config.template), chatTemplate: chatTemplateFor(String(config.template)),
      datasets: datasets.map((d) => ({ name: d.name, kind: META_KIND[d.kind], rows: d.written })),
      gpus, nnodes, createdAt: new Date().toISOString(), tool: toolVersion(),
    };
    writeFileSync(join(tmp, RUN_FILES.meta), JSON.stringify(meta, null, 2) + '\n');
    files.push(RUN_FILES.meta);

    for (const w of warnings) warn(w);
    summary(say, { recipe, model, datasets, lengths, cutoff, memory, config, world, dir: o.out, files, nnodes });
    place(tmp, dir);
    placed = true;
    return { dir, config, model, datasets, lengths, memory, zero, files };
  } finally {
    clean();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal).off('exit', clean);
  }
}

/**
 * DIR must be new, empty, or given with --force. A folder with train.yaml is a run; one whose output/ holds
 * checkpoint-N is worse: LLaMA-Factory (overwrite_output_dir false) would resume from the last checkpoint without
 * a word, training the new config on top of the old run. --force replaces a run folder only: a folder that is not
 * a run (`--out . --force`, a typo for a project folder), or one holding the working folder, the model or the data
 * init reads, would be deleted whole.
 */
function checkOutDir(given: string, dir: string, force: boolean, inputs: { flag: string; given: string; path: string }[]) {
  if (!existsSync(dir)) {
    // The folder is made under its nearest existing parent, which must be a folder.
    let p = dirname(dir);
    while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
    if (!statSync(p).isDirectory()) throw new UserError(`--out ${given}: ${p} is a file, not a folder; give a folder for the run`);
    return;
  }
  if (!statSync(dir).isDirectory()) throw new UserError(`--out ${given} is a file; give a folder for the run`);
  const entries = readdirSync(dir);
  if (!entries.length) return;
  const isRun = existsSync(join(dir, RUN_FILES.config)) || existsSync(join(dir, RUN_FILES.meta));
  if (force) {
    const real = realish(dir);
    const inside = (p: string) => { const r = relative(real, p); return r === '' || (!r.startsWith('..') && !isAbsolute(r)); };
    if (inside(realish(process.cwd()))) throw new UserError(`${given} is the working folder (or holds it); --force would delete it: give another --out`);
    for (const i of inputs) if (inside(realish(i.path))) throw new UserError(`${given} holds ${i.given} (${i.flag}); --force would delete it with the folder: give another --out`);
    if (!isRun) throw new UserError(`${given} is not empty and is not a run folder (no ${RUN_FILES.config} or ${RUN_FILES.meta}): --force replaces only a run; give a new or empty folder`);
    return;
  }
  const out = join(dir, RUN_FILES.output);
  const ckpts = existsSync(out) && statSync(out).isDirectory() ? readdirSync(out).filter((n) => /^checkpoint-\d+$/.test(n)) : [];
  if (ckpts.length) {
    throw new UserError(`${given} already holds a run with ${ckpts.length} checkpoint${ckpts.length > 1 ? 's' : ''} in ${RUN_FILES.output}/: LLaMA-Factory would silently resume from the last one; give a new --out, or --force to replace the folder (checkpoints included)`);
  }
  if (isRun) throw new UserError(`${given} already holds a run (${existsSync(join(dir, RUN_FILES.config)) ? RUN_FILES.config : RUN_FILES.meta}); give a new --out, or --force to replace it`);
  throw new UserError(`${given} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); give a new or empty folder`);
}

/** A path with its symlinks resolved where it exists, so `inside` compares like with like. */
function realish(p: string): string {
  try { return realpathSync(p); } catch { return resolve(p); }
}

/**
 * The finished folder into place. An empty DIR is filled in place, entry by entry with train.yaml last (the
 * file that makes it a run): swapping it for the new folder would leave a shell standing in it (--out .) in a
 * deleted folder. A run DIR (--force) is moved aside first and removed only once the new one is in place.
 */
function place(tmp: string, dir: string) {
  if (!existsSync(dir)) { renameSync(tmp, dir); return; }
  if (!readdirSync(dir).length) {
    const names = readdirSync(tmp).sort((a, b) => Number(a === RUN_FILES.config) - Number(b === RUN_FILES.config));
    const moved: string[] = [];
    try {
      for (const n of names) { renameSync(join(tmp, n), join(dir, n)); moved.push(n); }
    } catch (e) {
      for (const n of moved) rmSync(join(dir, n), { recursive: true, force: true });
      throw e;
    }
    return;
  }
  const old = `${tmp}.old`;
  renameSync(dir, old);
  try { renameSync(tmp, dir); } catch (e) { renameSync(old, dir); throw e; }
  rmSync(old, { recursive: true, force: true });
}

/**
 * A deepspeed=FILE override: our own file names are written into the folder; any other file is the user's, named
 * relative to where they are, while LLaMA-Factory runs in the run folder (and on other nodes): it must exist, and
 * is made absolute. Its ZeRO stage, for the memory estimate and LLaMA-Factory's ZeRO-3 checks.
 */
function userDeepspeed(config: TrainConfig): ZeroStage | undefined {
  const v = config.deepspeed;
  if (v === DS_FILE[3]) return 3;
  if (v === DS_FILE[2]) return 2;
  if (typeof v !== 'string') return undefined;
  const p = resolve(v);
  if (!existsSync(p) || !statSync(p).isFile()) {
    throw new UserError(`deepspeed=${v}: no such file; give a DeepSpeed config file (or leave deepspeed out: train init writes ${DS_FILE[2]} or ${DS_FILE[3]} where the run needs one)`, 2);
  }
  let stage: unknown;
  try { stage = (JSON.parse(readFileSync(p, 'utf8')) as { zero_optimization?: { stage?: unknown } })?.zero_optimization?.stage; } catch (e) {
    throw new UserError(`deepspeed=${v} is not valid JSON (${(e as Error).message}); DeepSpeed reads a JSON config`, 2);
  }
  config.deepspeed = p;
  return stage === 3 ? 3 : stage === 2 ? 2 : undefined;
}

/** Overrides naming a local model or checkpoint: relative to the user's folder, not the run folder LLaMA-Factory runs in. */
const PATH_KEYS = ['adapter_name_or_path', 'ref_model', 'reward_model', 'resume_from_checkpoint'];
function absolutePaths(config: TrainConfig, given: string[]) {
  for (const k of PATH_KEYS) {
    const v = config[k];
    if (given.includes(k) && typeof v === 'string' && !isAbsolute(v) && existsSync(v)) config[k] = resolve(v);
  }
}

/** output_dir=… elsewhere than DIR/output: LLaMA-Factory resumes from its checkpoints as silently as from ours. */
function checkOtherOutput(config: TrainConfig, dir: string) {
  const v = config.output_dir;
  if (typeof v !== 'string' || v === RUN_FILES.output || config.overwrite_output_dir === true) return;
  const out = resolve(dir, v);
  const n = existsSync(out) && statSync(out).isDirectory() ? readdirSync(out).filter((x) => /^checkpoint-\d+$/.test(x)).length : 0;
  if (n) throw new UserError(`output_dir ${v} already holds ${n} checkpoint${n > 1 ? 's' : ''}: LLaMA-Factory would silently resume from the last one; give a new output_dir, or overwrite_output_dir=true`);
}

/**
 * What helps, each checked against the same estimate. QLoRA is given as the overrides that make this recipe's run
 * QLoRA (another recipe would change the stage, the data it takes or the template), and only when it fits.
 */
function tooBig(m: MemoryPlan, config: TrainConfig, shape: ModelShape, world: number, have: number): string {
  const fixes: string[] = [];
  const method = trainingMethod(config);
  if (method === 'lora' || method === 'full-amp' || method === 'full-16') {
    const q: TrainConfig = { ...config, quantization_bit: 4, ...(method === 'lora' ? {} : { finetuning_type: 'lora' }) };
    delete q.deepspeed;
    const need = perGpuBytes(estimateRun(q, shape), undefined, world);
    if (need <= have) fixes.push(`QLoRA (${method === 'lora' ? '' : 'finetuning_type=lora '}quantization_bit=4: about ${gib(need)})`);
  }
  // QLoRA runs without DeepSpeed here (bitsandbytes 4-bit under ZeRO-3 is a special case), so ZeRO-3 is no fix for it.
  for (let w = world + 1; w <= 1024 && !method.startsWith('qlora'); w++) {
    if (perGpuBytes(m.estimate, 3, w) <= have) { fixes.push(`ZeRO-3 over ${w} or more GPUs (--gpus N, --nnodes N)`); break; }
  }
  if (typeof config.cutoff_len === 'number' && config.cutoff_len > 1024) fixes.push('a shorter cutoff_len');
  const on = world > 1 ? ` on each of ${world} GPUs${m.zero ? ` (ZeRO-${m.zero})` : ''}` : '';
  return `the run needs about ${gib(m.perGpu)}${on} and the GPU has ${gib(have)} (${m.gpuMemFrom}); try ${fixes.join(', or ') || 'a smaller model'}; --force writes it anyway`;
}

function wrongKind(ds: ExportedDataset, need: DataRecord['kind'], config: TrainConfig, recipe: Recipe): string {
  // When stage= was overridden, the fix is to drop it: naming another recipe (or this one) would not help.
  const own = recipe.config.stage;
  const fix = (other: string) => config.stage !== own && neededKind(own) === ds.kind ? `drop stage=${config.stage} (recipe ${recipe.name} is stage ${own})` : other;
  const why = need === 'chat' && ds.kind === 'pair'
    ? ` (LLaMA-Factory refuses a ranking dataset in an SFT stage: "The dataset is not applicable in the current training stage"; for pairs ${fix('use --recipe dpo-zh or orpo-zh')})`
    : need === 'pair' ? ` (a conversation has no rejected answer to prefer against; for conversations ${fix('use --recipe sft-instruct-zh')})` : '';
  return `${ds.input} holds ${KIND_WORDS[ds.kind]}; recipe ${recipe.name} (stage ${config.stage}) needs ${KIND_WORDS[need]}${why}`;
}

/** A path as a shell word, for commands the user copies. */
const shq = (p: string) => /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
/** A folder as an argument: one starting with '-' would be read as an option (by llama3-zh, and by bash from run.sh's #!). */
const argPath = (p: string) => shq(p.startsWith('-') ? `./${p}` : p);
/** A script as a command: without a '/' the shell looks it up on PATH instead (--out . gives plain "run.sh"). */
const cmdPath = (p: string) => shq(p.startsWith('-') || !p.includes('/') ? `./${p}` : p);

const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(1)}%`;

function yamlHeader(r: Recipe): string[] {
  return [`llama3-zh train init --recipe ${r.name}: ${r.title}`, 'Start it with ./run.sh or llama3-zh train run DIR; paths are relative to this folder.'];
}

function toolVersion(): string {
  return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
}

function summary(say: (l: string) => void, s: {
  recipe: Recipe; model: TrainModel; datasets: ExportedDataset[]; lengths: LengthStats; cutoff: number; memory?: MemoryPlan;
  config: TrainConfig; world: number; dir: string; files: string[]; nnodes: number;
}) {
  say(`recipe   ${s.recipe.name}: ${s.recipe.title}`);
  say(`model    ${s.model.path ?? `${s.model.repo} (LLaMA-Factory downloads it)`}`);
  for (const d of s.datasets) say(`data     ${d.input}: ${d.written} ${d.kind === 'pair' ? 'preference pairs' : d.kind === 'chat' ? 'conversations' : 'documents'} → ${RUN_FILES.data}/${d.file}${d.rows > d.written ? ` (${d.rows - d.written} left out)` : ''}`);
  const L = s.lengths;
  say(`tokens   p50 ${L.p50}, p99 ${L.p99}, max ${L.max} (Llama-3 tokenizer); ${L.over} of ${L.rows} rows (${pct(L.over, L.rows)}) over cutoff_len ${s.cutoff}`);
  const m = s.memory;
  if (!m) say(`memory   not checked: ${s.model.shapeFrom}`);
  else {
    const rank = s.config.lora_rank ?? 8;
    const how = { 'full-amp': 'full fine-tuning, fp32 master weights under bf16', 'full-16': 'full fine-tuning in pure bf16', lora: `LoRA rank ${rank}`, 'qlora-8': `QLoRA 8-bit, rank ${rank}`, 'qlora-4': `QLoRA 4-bit, rank ${rank}` }[m.estimate.method];
    const seqs = `batch ${s.config.per_device_train_batch_size} × ${s.cutoff} tokens${s.config.stage === 'dpo' ? ' × 2 (chosen, rejected)' : ''}`;
    const shard = m.zero === 3 ? `; ZeRO-3 splits weights, gradients and optimizer states over ${s.world} GPU${s.world > 1 ? 's' : ''} (an approximation)`
      : m.zero === 2 ? `; ZeRO-2 splits gradients and optimizer states over ${s.world} GPUs (an approximation)` : s.world > 1 ? `; DDP: each of ${s.world} GPUs holds it all` : '';
    say(`memory   about ${gib(m.perGpu)} per GPU (${how}, ${seqs}${shard})`);
    say(m.gpuMem === undefined ? '         fit not checked: no --gpu-mem, and no nvidia-smi here'
      : m.perGpu > m.gpuMem ? `         does NOT fit in ${gib(m.gpuMem)} (${m.gpuMemFrom}); written because of --force` : `         fits in ${gib(m.gpuMem)} (${m.gpuMemFrom})`);
  }
  say(`wrote    ${s.dir}/: ${s.files.join(', ')}`);
  say(s.nnodes > 1
    ? `next     on each node: MASTER_ADDR=<master's address> ${cmdPath(join(s.dir, RUN_FILES.script))} NODE_RANK (0 on the master), or llama3-zh train run ${argPath(s.dir)} --nnodes ${s.nnodes} --node-rank R --master-addr HOST`
    : `next     llama3-zh train run ${argPath(s.dir)}   (or ${cmdPath(join(s.dir, RUN_FILES.script))})`);
}
