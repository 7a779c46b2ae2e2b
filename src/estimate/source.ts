import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { readGguf } from '../gguf/reader.js';
import { meta, type Scalar, tensorBytes, tensorElements, tensorTypeName } from '../gguf/types.js';
import { checkModel } from '../gguf/validate.js';
import { findStored, looksLikePath, parseModelRef } from '../hub/modelRef.js';
import { countParams, type ModelShape } from './shape.js';
import { readSmallFile } from '../util/files.js';

/** A model's shape plus what its files actually hold. */
export interface ModelSource {
  kind: 'params' | 'gguf' | 'hf';
  path?: string;
  shape: ModelShape;
  /** Exact parameter count: the tensors' elements for a GGUF, else counted from the shape. */
  params: number;
  /** GGUF: the tensor data's bytes and the tensor types; HF: the weight files on disk. */
  weights?: { bytes: number; what: string };
  fileSize?: number;
}

/** A .gguf file, a Hugging Face model folder (or its config.json), or a GGUF in the local store (owner/repo[/file]). */
export function loadSource(arg: string): ModelSource {
  if (existsSync(arg)) {
    const st = statSync(arg);
    if (st.isDirectory()) return fromHfFolder(arg);
    if (basename(arg) === 'config.json') return fromHfFolder(dirname(arg));
    return fromGguf(arg);
  }
  if (looksLikePath(arg)) throw new UserError(`${arg}: no such file or folder; give a .gguf file, a Hugging Face model folder with config.json, or --params 8b`);
  // A model name or repo id: the copy in the store (a GGUF, or a safetensors folder).
  const ref = parseModelRef(arg);
  if (ref.kind === 'hub') {
    const stored = findStored(ref);
    if (stored) return stored.format === 'gguf' ? fromGguf(stored.path) : fromHfFolder(dirname(stored.path));
    const size = ref.catalog?.size.toLowerCase();
    const hint = size && /^\d+b$/.test(size) ? `, or estimate its shape with --params ${size}` : ', or --params 8b';
    throw new UserError(`${arg} is not downloaded; pull it first (llama3-zh pull ${arg})${hint}`);
  }
  throw new UserError(`${arg}: no such file or folder; give a .gguf file, a Hugging Face model folder with config.json, or --params 8b`);
}

export function fromGguf(path: string): ModelSource {
  const f = readGguf(path, { skipArrays: true });
  if (meta<string>(f, 'general.type') === 'adapter') throw new UserError(`${path} is a LoRA adapter, not a model; estimate its base model`);
  // A header llama.cpp would refuse would also give a meaningless estimate ("4294967295 layers").
  checkModel(f);
  const arch = meta<string>(f, 'general.architecture') ?? 'llama';
  const num = (k: string): number | undefined => { const v = meta<Scalar>(f, `${arch}.${k}`); return typeof v === 'number' ? v : undefined; };
  const need = (k: string): number => {
    const v = num(k);
    if (v === undefined) throw new UserError(`${path}: the GGUF has no ${arch}.${k}, so its shape is unknown`);
    return v;
  };
  const embd = f.tensors.find((t) => t.name === 'token_embd.weight');
  const tokens = f.metadata.get('tokenizer.ggml.tokens');
  const vocab = num('vocab_size') ?? tokens?.skipped ?? (Array.isArray(tokens?.value) ? tokens.value.length : undefined) ?? embd?.dims[1];
  if (vocab === undefined) throw new UserError(`${path}: the GGUF has neither a vocabulary nor token_embd.weight, so its size is unknown`);
  const hidden = need('embedding_length');
  const heads = need('attention.head_count');
  const experts = num('expert_count');
  const shape: ModelShape = {
    name: meta<string>(f, 'general.name') ?? basename(path),
    layers: need('block_count'),
    hidden,
    ffn: num('expert_feed_forward_length') ?? need('feed_forward_length'),
    heads,
    kvHeads: num('attention.head_count_kv') ?? heads,
    headDim: num('attention.key_length') ?? hidden / heads,
    vocab,
    contextLength: num('context_length') ?? 4096,
    tied: !f.tensors.some((t) => t.name === 'output.weight'),
    ...(experts ? { experts, expertsUsed: num('expert_used_count') ?? 2 } : {}),
  };
  let params = 0, bytes = 0;
  const types: Record<string, number> = {};
  for (const t of f.tensors) {
    const n = tensorElements(t.dims);
    params += n;
    bytes += tensorBytes(t.type, t.dims) ?? 0;
    types[tensorTypeName(t.type)] = (types[tensorTypeName(t.type)] ?? 0) + n;
  }
  const mix = Object.entries(types).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n / params < 0.01 ? '<1' : Math.round((100 * n) / params)}%`).join(', ');
  return { kind: 'gguf', path, shape, params, weights: { bytes, what: `tensor data (${mix} of the weights)` }, fileSize: f.fileSize };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, float16: 2, bfloat16: 2 };

export function fromHfFolder(dir: string): ModelSource {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new UserError(`${dir} has no config.json; give a Hugging Face model folder, a .gguf file, or --params 8b`);
  }
  const text = readSmallFile(configPath, 'config.json');
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${configPath} is not valid JSON (${(e as Error).message})`);
  }
  if (!c || typeof c !== 'object' || Array.isArray(c)) throw new UserError(`${configPath} is not a model config (expected a JSON object)`);
  // Multimodal configs keep the language model's numbers in text_config.
  const cfg = (c.text_config && typeof c.text_config === 'object' ? { ...c, ...(c.text_config as object) } : c) as Record<string, unknown>;
  const num = (k: string): number | undefined => (typeof cfg[k] === 'number' ? cfg[k] as number : undefined);
  const need = (k: string): number => {
    const v = num(k);
    if (v === undefined) throw new UserError(`${configPath} has no ${k}, so the model's shape is unknown`);
    return v;
  };
  const hidden = need('hidden_size');
  const heads = need('num_attention_heads');
  const experts = num('num_local_experts') ?? num('num_experts');
  const shape: ModelShape = {
    name: basename(dir.replace(/\/+$/, '')) || dir,
    layers: need('num_hidden_layers'),
    hidden,
    ffn: need('intermediate_size'),
    heads,
    kvHeads: num('num_key_value_heads') ?? heads,
    headDim: num('head_dim') ?? hidden / heads,
    vocab: need('vocab_size'),
    contextLength: num('max_position_embeddings') ?? 4096,
    tied: cfg.tie_word_embeddings === true,
    ...(experts ? { experts, expertsUsed: num('num_experts_per_tok') ?? 2 } : {}),
  };
  const params = countParams(shape).total;
  const files = readdirSync(dir).filter((n) => /\.(safetensors|bin|pth|pt)$/.test(n) && !/^training_args|optimizer/.test(n));
  const onDisk = files.reduce((s, n) => s + statSync(join(dir, n)).size, 0);
  const dtype = typeof cfg.torch_dtype === 'string' ? cfg.torch_dtype : typeof cfg.dtype === 'string' ? cfg.dtype : undefined;
  const weights = onDisk > 0
    ? { bytes: onDisk, what: `${files.length} weight file${files.length > 1 ? 's' : ''} on disk` }
    : dtype && DTYPE_BYTES[dtype] ? { bytes: params * DTYPE_BYTES[dtype], what: `${dtype} (config.json torch_dtype), no weight files in the folder` } : undefined;
  return { kind: 'hf', path: dir, shape, params, weights };
}
