import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { fromHfFolder } from '../estimate/source.js';
import { type ModelShape, NAMED_SHAPES } from '../estimate/shape.js';
import { looksLikePath, parseModelRef, reposOf } from '../hub/modelRef.js';
import { findLocal } from '../hub/store.js';

/**
 * The model a run trains, as LLaMA-Factory's model_name_or_path: a local Hugging Face folder (absolute, so the run
 * folder can be started from anywhere) or a hub repo id (LLaMA-Factory downloads it). LLaMA-Factory loads
 * safetensors with transformers: a GGUF cannot be trained.
 */
export interface TrainModel {
  given: string;
  path?: string;
  repo?: string;
  /** What train.yaml's model_name_or_path says. */
  nameOrPath: string;
  /** Its shape for the memory estimate, or why there is none. */
  shape?: ModelShape;
  shapeFrom: string;
  /** Whether it was tuned to chat (instruct) or is a raw base model; unknown when nothing tells. */
  chat: 'base' | 'instruct' | 'unknown';
  chatWhy: string;
  /** The catalog's chat template for it (llama3-zh's names: llama3, chatml, …), when it is a catalog model. */
  catalogTemplate?: string;
}

const NEEDS_HF = 'training needs Hugging Face (safetensors) weights: give their folder, a hub repo id (owner/name) or a catalog model with weights on Hugging Face';

export function resolveTrainModel(arg: string): TrainModel {
  if (existsSync(arg)) {
    const dir = resolve(arg);
    if (!statSync(dir).isDirectory()) throw new UserError(`${arg} is a file; ${NEEDS_HF}`);
    return fromFolder(arg, dir);
  }
  if (looksLikePath(arg)) throw new UserError(`${arg}: no such folder; give a Hugging Face model folder (with config.json), a catalog name (llama3-zh models) or a repo id owner/name`);
  const ref = parseModelRef(arg);
  if (ref.kind !== 'hub') throw new UserError(`${arg}: no such folder`);
  // owner/name:Q4_K_M and owner/name/FILE name one GGUF (or file) for chat and pull; LLaMA-Factory loads a whole
  // repo, so the part after the repo would silently be dropped.
  if (ref.spec !== undefined) {
    const whole = ref.repo ?? ref.catalog?.name ?? arg;
    throw new UserError(`${arg} names a file or quant in the repo; training takes the whole repo: give ${whole}`);
  }
  // A catalog LoRA adapter's repo holds adapter_config.json, no config.json: LLaMA-Factory cannot load it as a model.
  if (ref.catalog?.kind.includes('LoRA adapter')) {
    throw new UserError(`${arg} is a LoRA adapter, not a model: give its base model as --model, and the adapter as adapter_name_or_path=REPO to train it further`);
  }
  // A pulled copy in the store: its safetensors folder is checkable offline, so it beats the hub.
  let storedGguf = false;
  for (const { repo } of reposOf(ref, undefined, 'safetensors')) {
    const m = findLocal(repo, ref.spec);
    if (m?.format === 'safetensors') {
      if (!m.complete) throw new UserError(`${arg} is only partly downloaded (${repo}); finish it with llama3-zh pull ${arg} --format safetensors`);
      return { ...fromFolder(arg, resolve(m.path, '..')), repo, ...(ref.catalog ? { catalogTemplate: ref.catalog.template } : {}) };
    }
    if (m) storedGguf = true;
  }
  const c = ref.catalog;
  let repo = ref.repo;
  if (c && !repo) {
    repo = c.sources.huggingface;
    if (!repo) {
      const ms = c.sources.modelscope;
      throw new UserError(ms
        ? `${arg}'s weights are on ModelScope (${ms}), where LLaMA-Factory does not look by default: pull them first (llama3-zh pull ${arg} --format safetensors) and give the name again`
        : `${arg} has no Hugging Face weights to download (${c.gguf ? 'GGUF only' : 'not on a hub'}); ${NEEDS_HF}`);
    }
  }
  if (!repo) throw new UserError(`${arg}: unknown model; give a Hugging Face model folder, a catalog name or owner/name`);
  // LLaMA-Factory downloads from Hugging Face: a repo that holds only GGUF there is no use, even when ModelScope has
  // weights under the same name (shareAI/llama3.1-8b-instruct-dpo-zh).
  if (c && c.sources.huggingface !== repo && c.gguf?.huggingface?.repo === repo) {
    throw new UserError(`${repo} holds GGUF files only; ${NEEDS_HF}`);
  }
  if (storedGguf && !c) throw new UserError(`${arg} is in the store as a GGUF; ${NEEDS_HF}`);
  const size = (c?.size ?? /(?:^|[-_/.])(\d+(?:\.\d+)?b)(?:$|[-_.])/i.exec(repo)?.[1] ?? '').toLowerCase();
  const shape = NAMED_SHAPES[size];
  const chat = c ? { chat: 'instruct' as const, chatWhy: `the catalog's ${c.name} is a fine-tuned chat model (${c.kind.join(', ')})` } : chatFromName(repo);
  return {
    given: arg, repo, nameOrPath: repo, ...(c ? { catalogTemplate: c.template } : {}),
    shape: shape ? { ...shape } : undefined,
    shapeFrom: shape ? `${shape.name}'s shape (from "${size.toUpperCase()}" in the name; the repo is not checked offline)` : 'unknown: the name gives no size (8B, 70B…) and the repo is not checked offline',
    ...chat,
  };
}

function fromFolder(given: string, dir: string): TrainModel {
  if (!existsSync(join(dir, 'config.json'))) {
    throw new UserError(`${given} has no config.json: give a Hugging Face model folder (${existsSync(join(dir, 'adapter_config.json')) ? 'this is a PEFT adapter; give its base model' : 'config.json, tokenizer and safetensors'})`);
  }
  // transformers loads *.safetensors (or the older pytorch_model*.bin); a folder of GGUF files, or of a config
  // alone, fails in LLaMA-Factory only after it has started on every GPU.
  const files = readdirSync(dir);
  if (!files.some((f) => /\.safetensors$|^pytorch_model.*\.bin$/.test(f))) {
    const gguf = files.filter((f) => /\.gguf$/i.test(f));
    throw new UserError(gguf.length
      ? `${given} holds GGUF files only (${gguf[0]}); ${NEEDS_HF}`
      : `${given} has a config.json but no weights (*.safetensors); ${NEEDS_HF}`);
  }
  const src = fromHfFolder(dir);
  return { given, path: dir, nameOrPath: dir, shape: src.shape, shapeFrom: `${dir}/config.json`, ...chatFromFolder(dir) };
}

/**
 * A chat template in tokenizer_config.json is what an Instruct model ships and a base model does not
 * (Meta-Llama-3-8B has none, Meta-Llama-3-8B-Instruct has the header template).
 */
function chatFromFolder(dir: string): Pick<TrainModel, 'chat' | 'chatWhy'> {
  const p = join(dir, 'tokenizer_config.json');
  if (!existsSync(p)) return { chat: 'unknown', chatWhy: 'the folder has no tokenizer_config.json' };
  let tc: unknown;
  try { tc = JSON.parse(readFileSync(p, 'utf8')); } catch { return { chat: 'unknown', chatWhy: 'its tokenizer_config.json is not valid JSON' }; }
  const t = (tc as Record<string, unknown>)?.chat_template;
  return t ? { chat: 'instruct', chatWhy: 'its tokenizer_config.json has a chat_template' } : { chat: 'base', chatWhy: 'its tokenizer_config.json has no chat_template' };
}

/** Meta's own repo names say which is which; any other name says nothing sure. */
function chatFromName(repo: string): Pick<TrainModel, 'chat' | 'chatWhy'> {
  if (/instruct|chat|[-_]it$/i.test(repo)) return { chat: 'instruct', chatWhy: `"${repo}" is named as a chat model` };
  if (/^meta-llama\/(Meta-)?Llama-3(\.\d)?-\d+B$/i.test(repo)) return { chat: 'base', chatWhy: `${repo} is Meta's base model` };
  return { chat: 'unknown', chatWhy: `${repo} is not checked offline` };
}
