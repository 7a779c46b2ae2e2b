/**
 * `train export`: what a LLaMA-Factory run saved, made a model llama.cpp runs. A LoRA run's adapter (the final one
 * in output_dir, the last checkpoint-N, or one asked for) is merged into its base model while converting — the
 * conversion issue's merge, so modules_to_save (lm_head and the norms the DPO recipe trains) replace their tensors —
 * and a full run's output_dir is a Hugging Face folder converted as it is. The result is a GGUF file or a model
 * registered in the store, with the chat template the run trained with.
 *
 * planExport does every check (nothing is written when one fails); exportRun writes, atomically.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { LLAMA3_JINJA, LLAMA3_V1_JINJA } from '../chat/officialTemplates.js';
import { END_OF_TEXT, lfDefaultEos, lfDefaultJinja, NATIVE_TEMPLATES } from '../chat/templates.js';
import { adapterBaseShape } from '../convert/lora.js';
import { mergeHook } from '../convert/merge.js';
import { readPeftAdapter } from '../convert/peft.js';
import { UserError } from '../errors.js';
import { type ConvertPhase, converters } from '../hub/converters.js';
import { findSource } from '../hub/create.js';
import { openRun, type Run } from './runDir.js';

/** LLaMA-Factory template → our chat template, where one of ours is the same format. */
export const LF_CHAT_TEMPLATES: Record<string, string> = { llama3: 'llama3', default: 'lf-default' };

/** The Jinja text of our native templates that have one, for a GGUF's tokenizer.chat_template. */
const JINJA: Record<string, string> = { llama3: LLAMA3_JINJA, 'llama3-v1': LLAMA3_V1_JINJA, 'lf-default': lfDefaultJinja() };

export interface Saved {
  /** checkpoint-N's N; undefined for the final save in output_dir itself. */
  step?: number;
  dir: string;
}

export interface ExportPlan {
  run: Run;
  /** What is exported: a PEFT adapter folder (LoRA) or a whole Hugging Face model folder (full / freeze). */
  saved: Saved;
  /** 'the final adapter' / 'checkpoint-20', for messages. */
  label: string;
  /** A newer save that is still being written, passed over (said to the user). */
  skipped?: string;
  /** LoRA: the adapter folder; absent for a full run. */
  adapter?: string;
  /** The Hugging Face folder converted: the base model (LoRA) or the saved model itself. */
  model: string;
  /** The chat template: one of ours by name, or Jinja text (a template with no native twin). */
  template: { name?: string; source?: string; lf?: string };
}

/** What a save holds: an adapter (LoRA) or a model (full, freeze). */
function holds(dir: string, adapter: boolean): boolean {
  if (adapter) return existsSync(join(dir, 'adapter_config.json')) && existsSync(join(dir, 'adapter_model.safetensors'));
  return existsSync(join(dir, 'config.json')) && (existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json')));
}

/**
 * The Trainer writes trainer_state.json last (Trainer._save_checkpoint: model, tokenizer, optimizer, rng, then the
 * state; LLaMA-Factory's workflows call save_state after save_model for the final save too): without it the save is
 * still being written — a half-written model.safetensors, or no tokenizer yet — or was cut short.
 */
export const TRAINER_STATE = 'trainer_state.json';
const complete = (dir: string, adapter: boolean) => holds(dir, adapter) && existsSync(join(dir, TRAINER_STATE));

/** output_dir's checkpoint-N folders, by step; only complete ones (LLaMA-Factory may be writing the last). */
export function savedCheckpoints(outputDir: string, adapter: boolean): Saved[] {
  return checkpointDirs(outputDir).filter((c) => complete(c.dir, adapter));
}

function checkpointDirs(outputDir: string): Saved[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .map((f) => /^checkpoint-(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ step: Number(m[1]), dir: join(outputDir, m[0]) }))
    .sort((a, b) => a.step! - b.step!);
}

/** trainer_state.json's global_step. */
function savedStep(dir: string): number | undefined {
  try {
    const n = JSON.parse(readFileSync(join(dir, TRAINER_STATE), 'utf8')).global_step;
    return typeof n === 'number' ? n : undefined;
  } catch {
    return undefined;
  }
}

function pickSaved(run: Run, adapter: boolean, checkpoint: number | undefined): { saved: Saved; skipped?: string } {
  const checkpoints = savedCheckpoints(run.outputDir, adapter);
  const final: Saved | undefined = complete(run.outputDir, adapter) ? { dir: run.outputDir } : undefined;
  const what = adapter ? 'adapter' : 'model';
  if (checkpoint !== undefined) {
    const found = checkpoints.find((c) => c.step === checkpoint);
    if (found) return { saved: found };
    const dir = join(run.outputDir, `checkpoint-${checkpoint}`);
    if (existsSync(dir)) {
      const missing = holds(dir, adapter) ? TRAINER_STATE : adapter ? 'adapter_model.safetensors' : 'model';
      throw new UserError(`${dir} holds no ${missing}${missing === TRAINER_STATE ? ', which the trainer writes last' : ''} (is it still being written?)`);
    }
    const there = checkpoints.map((c) => c.step).join(', ');
    throw new UserError(`no checkpoint-${checkpoint} in ${run.outputDir}; ${there ? `there are: ${there}` : 'it has no checkpoints'}${final ? ` (and the final ${what}, the default)` : ''}`);
  }
  const last = checkpoints[checkpoints.length - 1];
  // A run resumed after it finished (LLaMA-Factory resumes from the last checkpoint-N) saves newer checkpoints
  // beside the old final save until it ends: that final save is the older model then.
  const finalStep = final ? savedStep(run.outputDir) : undefined;
  if (final && last && finalStep !== undefined && last.step! > finalStep) {
    return { saved: last, skipped: `the final ${what} is from step ${finalStep}, before checkpoint-${last.step} (training was resumed since): passed over` };
  }
  const chosen = final ?? last;
  if (!chosen) {
    // save_safetensors: false saves pickles, which are not "nothing saved yet".
    const pickle = adapter ? 'adapter_model.bin' : 'pytorch_model.bin';
    const pickled = [run.outputDir, ...checkpointDirs(run.outputDir).map((c) => c.dir)].find((d) => existsSync(join(d, pickle)) || existsSync(join(d, `${pickle}.index.json`)));
    if (pickled) throw new UserError(`${pickled} holds ${pickle}: the run saved PyTorch pickles (save_safetensors: false), which llama3-zh does not read (loading one can run code); train with save_safetensors: true, LLaMA-Factory's default`);
    const every = typeof run.config.save_steps === 'number' ? ` every ${run.config.save_steps} steps (save_steps)` : '';
    throw new UserError(`training has not saved a checkpoint yet; LLaMA-Factory writes one to ${run.outputDir}${every} and the final ${what} at the end: follow it with llama3-zh train watch ${run.dir}`);
  }
  // A newer save being written is passed over: say so, the user may have expected that one.
  const newest = checkpointDirs(run.outputDir).pop();
  const partial = !final && holds(run.outputDir, adapter) ? `the final ${what}`
    : newest && newest.step! > (chosen.step ?? Infinity) ? `checkpoint-${newest.step}` : undefined;
  return { saved: chosen, skipped: partial && `${partial} is not complete yet (no ${TRAINER_STATE}, which the trainer writes last): passed over` };
}

/** `~` and `~/x` as Python's os.path.expanduser reads them (huggingface_hub expands every cache path). */
const expandUser = (p: string) => (p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p);

/**
 * The Hugging Face hub cache folder as huggingface_hub's constants read it: HF_HUB_CACHE, else the older
 * HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, HF_HOME defaulting to $XDG_CACHE_HOME/huggingface (~/.cache/huggingface).
 */
export function hfHubCache(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
  return expandUser(env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(expandUser(home), 'hub'));
}

/** A snapshot's weights are all there (a download cut short leaves blobs/*.incomplete and no link to them). */
function hasWeights(d: string): boolean {
  if (existsSync(join(d, 'model.safetensors'))) return true;
  try {
    const index = JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8')) as { weight_map?: Record<string, string> };
    return Object.values(index.weight_map ?? {}).every((f) => existsSync(join(d, f)));
  } catch {
    return false;
  }
}

/**
 * A repo id's snapshot in the Hugging Face cache, where LLaMA-Factory's from_pretrained(cache_dir=…, revision=…)
 * put it: models--owner--name/refs/REVISION names the commit (a commit hash is its own snapshot), and that
 * snapshot, with its weights, is the one — never another revision found beside it.
 */
export function hfCacheSnapshot(repo: string, o: { cacheDir?: string; revision?: string } = {}, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) return undefined;
  const folder = join(o.cacheDir ?? hfHubCache(env), `models--${repo.replace('/', '--')}`);
  const revision = o.revision || 'main';
  const ref = join(folder, 'refs', revision);
  let commit: string | undefined;
  if (existsSync(ref)) commit = readFileSync(ref, 'utf8').trim();
  else if (/^[0-9a-f]{40}$/.test(revision)) commit = revision;
  if (!commit) return undefined;
  const d = join(folder, 'snapshots', commit);
  return existsSync(join(d, 'config.json')) && hasWeights(d) ? d : undefined;
}

const isModelDir = (d: string) => existsSync(join(d, 'config.json')) && statSync(d).isDirectory();

/**
 * The base model of a LoRA run: --base, else train.yaml's model_name_or_path — a folder (relative to the run folder,
 * LLaMA-Factory's working directory), a model in our store, or a repo id in the Hugging Face cache.
 */
export function resolveRunBase(run: Run, given?: string): string {
  if (given !== undefined) {
    if (!existsSync(given) || !isModelDir(given)) throw new UserError(`--base ${given}: not a Hugging Face model folder (no config.json in it)`);
    return resolve(given);
  }
  const named = typeof run.config.model_name_or_path === 'string' ? run.config.model_name_or_path : '';
  if (!named) throw new UserError(`${run.configPath} has no model_name_or_path; pass the base model folder: --base DIR`);
  const local = isAbsolute(named) ? named : resolve(run.dir, named);
  if (existsSync(local) && isModelDir(local)) return local;
  if (run.meta?.model.path && existsSync(run.meta.model.path) && isModelDir(run.meta.model.path)) return run.meta.model.path;
  let gguf = false;
  try {
    const s = findSource(named);
    if (s.kind === 'folder') return s.path;
    gguf = true;
  } catch (e) {
    if (!(e instanceof UserError)) throw e; // not in the store: the Hugging Face cache next
  }
  // LLaMA-Factory passes cache_dir and model_revision to from_pretrained (model/loader.py _get_init_kwargs); a
  // relative cache_dir is read from its working directory, the run folder.
  const cacheDir = typeof run.config.cache_dir === 'string' && run.config.cache_dir ? resolve(run.dir, expandUser(run.config.cache_dir)) : undefined;
  const revision = typeof run.config.model_revision === 'string' ? run.config.model_revision : undefined;
  const cached = hfCacheSnapshot(named, { cacheDir, revision });
  if (cached) return cached;
  const repo = /^[\w.-]+\/[\w.-]+$/.test(named);
  // A merge needs the base's own weights: a GGUF of it (quantized, permuted) will not do.
  const where = gguf ? ' as a Hugging Face folder (the store has a GGUF of it, which a merge cannot use)' : repo ? ` (not in the store, nor${revision && revision !== 'main' ? ` at revision ${revision}` : ''} in the Hugging Face cache ${cacheDir ?? hfHubCache()})` : '';
  throw new UserError(`the run's base model ${named} is not here${where}; ${repo || gguf ? `pull it with llama3-zh pull ${named} --format safetensors, or ` : ''}pass its Hugging Face folder: --base DIR`);
}

/** The tokenizer's eos text (tokenizer_config.json eos_token, a string or {content}). */
function eosToken(dir: string): string | undefined {
  try {
    const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    const e = tc.eos_token;
    return typeof e === 'string' ? e : typeof e?.content === 'string' ? e.content : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Jinja LLaMA-Factory saved with the checkpoint's tokenizer (its template.fix_jinja_template), if any:
 * transformers ≥ 4.52 writes it to chat_template.jinja (save_jinja_files defaults to true) and leaves it out of
 * tokenizer_config.json; on loading, that file clobbers any template in tokenizer_config.json.
 */
function savedJinja(dir: string): string | undefined {
  try {
    const t = readFileSync(join(dir, 'chat_template.jinja'), 'utf8');
    if (t) return t;
  } catch { /* an older transformers: tokenizer_config.json */ }
  try {
    const t = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).chat_template;
    return typeof t === 'string' && t ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The run's chat template: llama3-zh.json's, else train.yaml's template mapped to ours, else the Jinja LLaMA-Factory
 * saved beside the checkpoint. `default` writes the tokenizer's eos: our lf-default is the Llama-3 base's
 * <|end_of_text|>; another eos (an Instruct tokenizer) gets LLaMA-Factory's Jinja with that eos.
 */
export function runChatTemplate(run: Run, saved: string, model: string): ExportPlan['template'] {
  const lf = typeof run.config.template === 'string' ? run.config.template : undefined;
  let name = run.meta?.chatTemplate ?? (lf ? LF_CHAT_TEMPLATES[lf] : undefined);
  if (name !== undefined && !NATIVE_TEMPLATES[name]) name = undefined;
  if (name === 'lf-default') {
    const eos = eosToken(model) ?? END_OF_TEXT;
    if (eos !== END_OF_TEXT) return { source: lfDefaultJinja(eos), lf };
  }
  if (name) return { name, lf };
  const source = savedJinja(saved);
  return source ? { source, lf } : { lf };
}

/**
 * tokenizer.ggml.add_bos_token for the GGUF: false for LLaMA-Factory's `default` (no BOS in its prefix, and
 * Template.encode adds no special tokens); undefined keeps the tokenizer's.
 */
export function templateAddBos(t: ExportPlan['template']): false | undefined {
  return t.name === 'lf-default' || (t.name === undefined && t.source !== undefined && lfDefaultEos(t.source)) ? false : undefined;
}

/** The Jinja text for a GGUF's tokenizer.chat_template; undefined keeps the converted folder's own. */
export function templateJinja(t: ExportPlan['template']): string | undefined {
  return t.source ?? (t.name ? JINJA[t.name] : undefined);
}

/**
 * PEFT records the base it was trained on (adapter_config.json base_model_name_or_path: train.yaml's
 * model_name_or_path as LLaMA-Factory passed it). A train.yaml edited since (the Instruct model for the base, a
 * model of the same shapes) would merge the adapter into another model silently: refused when both name a model
 * here that is not the same folder, or two different repo ids. A path from another machine says nothing: passed.
 */
function checkSameBase(run: Run, recorded: string | undefined, model?: string) {
  const named = typeof run.config.model_name_or_path === 'string' ? run.config.model_name_or_path : undefined;
  if (!recorded || !named || recorded === named) return;
  const local = (p: string) => { const d = resolve(run.dir, p); return existsSync(d) && isModelDir(d) ? realpathSync(d) : undefined; };
  const repoId = (p: string) => /^[\w.-]+\/[\w.-]+$/.test(p) && !existsSync(resolve(run.dir, p));
  const there = local(recorded);
  const differs = there ? model !== undefined && there !== realpathSync(model) : repoId(recorded) && repoId(named) && recorded.toLowerCase() !== named.toLowerCase();
  if (differs) {
    throw new UserError(`${run.configPath} names the base ${named}, but the adapter was trained on ${recorded} (its adapter_config.json base_model_name_or_path); pass the one to merge into: --base DIR`);
  }
}

/**
 * adapter_name_or_path (a comma list) trains on top of earlier adapters: LLaMA-Factory's _setup_lora_tuning merges
 * all of them into the base (all but the last, which it resumes, unless create_new_adapter) before training, so the
 * saved adapter is a change to that merge. Merged into the bare base it would be a model nobody trained.
 */
function checkStacked(run: Run) {
  const given = run.config.adapter_name_or_path;
  if (typeof given !== 'string' || !given.trim()) return;
  const all = given.split(',').map((p) => p.trim());
  const merged = run.config.create_new_adapter === true ? all : all.slice(0, -1);
  if (!merged.length) return;
  throw new UserError(`${run.configPath}: LLaMA-Factory merged ${merged.join(', ')} (adapter_name_or_path) into ${run.config.model_name_or_path} before training, and llama3-zh merges one adapter; write that merge with llamafactory-cli export (adapter_name_or_path: ${merged.join(',')}, export_dir: DIR), then pass --base DIR`);
}

/** LLaMA-Factory's PissaConvertCallback: the final PiSSA adapter converted to a plain LoRA of the base. */
const PISSA_CONVERTED = 'pissa_converted';
const isPissa = (init: unknown) => typeof init === 'string' && /^pissa/i.test(init);

export function planExport(dirArg: string, o: { checkpoint?: number; base?: string } = {}): ExportPlan {
  const run = openRun(dirArg);
  const ft = typeof run.config.finetuning_type === 'string' ? run.config.finetuning_type : 'lora'; // LLaMA-Factory's default
  // stage rm trains a reward model: a value head (value_head.safetensors) scores answers in place of lm_head.
  if (run.config.stage === 'rm') throw new UserError(`${run.configPath}: stage rm trains a reward model, which scores answers with a value head instead of writing text; it is not a model llama.cpp can chat with (export the policy of a dpo, kto or ppo run instead)`);
  if (ft === 'oft') throw new UserError(`${run.configPath}: finetuning_type oft saves an OFT adapter, which llama3-zh cannot merge; merge it with llamafactory-cli export, then llama3-zh create NAME --from THAT_FOLDER`);
  const adapter = ft === 'lora';
  if (!adapter && o.base !== undefined) throw new UserError(`--base is for a LoRA run; a ${ft} run saves the whole model, which is converted as it is`, 2);
  if (!existsSync(run.outputDir)) {
    throw new UserError(`training has not saved a checkpoint yet (${run.outputDir} does not exist); start it with llama3-zh train run ${run.dir}`);
  }
  const picked = pickSaved(run, adapter, o.checkpoint);
  const { skipped } = picked;
  let saved = picked.saved;
  let label = saved.step === undefined ? `the final ${adapter ? 'adapter' : 'model'}` : `checkpoint-${saved.step}`;
  if (adapter && o.base === undefined) checkStacked(run);
  let peft = adapter ? readPeftAdapter(saved.dir) : undefined;
  if (peft && isPissa(peft.config.init_lora_weights)) {
    // PiSSA trains on the base with its principal components taken out (PEFT changes W at init), so the saved
    // adapter merges only into that residual. PissaConvertCallback (pissa_convert) writes the final one as a plain
    // LoRA of the base itself to output_dir/pissa_converted, before the final save.
    const converted = join(run.outputDir, PISSA_CONVERTED);
    if (saved.step !== undefined || !holds(converted, true)) {
      throw new UserError(`${label} of ${run.dir} is a PiSSA adapter (init_lora_weights: ${String(peft.config.init_lora_weights)}), a change to the base with its principal components taken out, which a merge into the base cannot make; export the final save of a run trained with pissa_convert: true (LLaMA-Factory writes it as a plain LoRA to ${converted})`);
    }
    saved = { dir: converted };
    label = `the final adapter (${PISSA_CONVERTED})`;
    peft = readPeftAdapter(converted);
  }
  // Two repo ids need no model to compare: said before looking for one.
  if (peft && o.base === undefined) checkSameBase(run, peft.baseModel);
  const model = adapter ? resolveRunBase(run, o.base) : saved.dir;
  // The merge's own checks (shapes, aLoRA) now, before anything says it is converting: one line, nothing written.
  if (peft) {
    mergeHook(peft, adapterBaseShape(model));
    if (o.base === undefined) checkSameBase(run, peft.baseModel, model);
  }
  return { run, saved, label, ...(skipped ? { skipped } : {}), adapter: adapter ? saved.dir : undefined, model, template: runChatTemplate(run, picked.saved.dir, model) };
}

export interface ExportFileOptions {
  out: string;
  type?: string;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (doneBytes: number, totalBytes: number, phase: ConvertPhase) => void;
}

/**
 * --out: convert (merging the adapter) to one GGUF, written atomically by the converter, with the run's chat template
 * as tokenizer.chat_template: a base model's own template (or none) is wrong for a model trained in another format.
 */
export async function exportToFile(plan: ExportPlan, o: ExportFileOptions): Promise<{ out: string; type: string; bytes: number }> {
  const cv = await converters();
  const hook = plan.adapter ? cv.mergeHook(cv.readPeftAdapter(plan.adapter), cv.adapterBaseShape(plan.model)) : undefined;
  return cv.convertModel({
    src: plan.model, out: o.out, type: o.type, hook, name: basename(plan.run.dir), chatTemplate: templateJinja(plan.template), addBos: templateAddBos(plan.template),
    threads: o.threads, signal: o.signal, onProgress: o.onProgress,
  });
}
