/**
 * The one validator: what llama.cpp would refuse, or abort on, checked before it sees a file. llama.cpp runs in
 * our process, and its GGML_ASSERT is a SIGABRT that takes chat and the server down with it: `block_count` 0 or
 * over 512 (llama-model.cpp load_hparams), a head count of 0 (a tensor dimension < 1 in the model loader), a
 * duplicate token (llama-vocab.cpp), kv heads that do not divide the heads (ggml_mul_mat's broadcast). Where
 * llama.cpp only reports an error (a wrong tensor shape, a missing tensor, offsets out of order), we check too,
 * for a message that names the key or tensor instead of "failed to load model".
 *
 * checkTensors runs inside readGguf, for every file; checkModel / checkAdapter where a file is used as one.
 */
import { GgufError } from './errors.js';
import { type GgufFile, type KV, meta, type Scalar, TENSOR_TYPES, tensorElements, ValueType } from './types.js';

const GGML_MAX_NAME = 64; // ggml.h: a name and its NUL
const LLAMA_MAX_LAYERS = 512; // llama-hparams.h
const LLAMA_MAX_EXPERTS = 1024;

const REDOWNLOAD = 'The file is damaged or incomplete; download it again.';
const REPAIR = 'The file is damaged: download it again, or fix the value with `llama3-zh gguf set`.';

/** A problem found in a file: `what` is the sentence that names it, without the path. */
class Problem extends Error {}
const bad = (what: string): never => { throw new Problem(what); };

/** Tensor infos: known types, sizes, names, and the data layout llama.cpp's gguf.cpp insists on. */
export function checkTensors(file: GgufFile, o: { allowTruncatedData?: boolean } = {}) {
  const fail = (what: string): never => { throw new GgufError(`${file.path}: ${what}. ${REDOWNLOAD}`); };
  const seen = new Map<string, number>();
  const spans: { name: string; start: number; end: number }[] = [];
  file.tensors.forEach((t, i) => {
    const nameBytes = Buffer.byteLength(t.name);
    if (nameBytes >= GGML_MAX_NAME) fail(`tensor ${i + 1} has a name of ${nameBytes} bytes (${JSON.stringify(t.name.slice(0, 40))}…); llama.cpp takes at most ${GGML_MAX_NAME - 1}`);
    const first = seen.get(t.name);
    if (first !== undefined) fail(`tensor ${t.name} appears twice (tensors ${first + 1} and ${i + 1})`);
    seen.set(t.name, i);
    const type = TENSOR_TYPES[t.type];
    if (!type) fail(`tensor ${t.name} has ggml type ${t.type}, which llama.cpp does not know`);
    const [typeName, block, blockBytes] = type;
    if (t.dims.some((d) => d < 1)) fail(`tensor ${t.name} has shape [${t.dims}]; every dimension must be at least 1`);
    const elements = tensorElements(t.dims);
    if (!Number.isSafeInteger(elements)) fail(`tensor ${t.name} has shape [${t.dims}], more elements than any file can hold`);
    if (t.dims[0] % block) fail(`tensor ${t.name} is ${typeName}, which stores rows in blocks of ${block}, but its rows have ${t.dims[0]} elements`);
    const bytes = (elements / block) * blockBytes;
    if (t.offset % file.alignment) fail(`tensor ${t.name} starts at data offset ${t.offset}, not a multiple of the alignment (${file.alignment})`);
    const end = file.dataOffset + t.offset + bytes;
    if (!o.allowTruncatedData && end > file.fileSize) {
      throw new GgufError(`${file.path}: truncated: tensor ${t.name} ends at byte ${end} but the file has ${file.fileSize} bytes. The download is probably incomplete; download it again.`);
    }
    spans.push({ name: t.name, start: t.offset, end: t.offset + bytes });
  });
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.start < a.end) fail(`tensors ${a.name} and ${b.name} overlap (data bytes ${a.start}-${a.end} and ${b.start}-${b.end})`);
  }
  // gguf.cpp: each tensor's offset must be the sum of the padded sizes of those before it.
  let at = 0;
  for (const s of spans) {
    if (s.start !== at) fail(`tensor ${s.name} is at data offset ${s.start} where llama.cpp expects ${at} (each tensor follows the one before, padded to ${file.alignment} bytes)`);
    at += Math.ceil((s.end - s.start) / file.alignment) * file.alignment;
  }
}

function show(v: Scalar | Scalar[]): string {
  return Array.isArray(v) ? `an array of ${v.length}` : typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v);
}

interface CountRule {
  required?: boolean;
  min?: number;
  max?: number;
}

/** A whole number in [min, max] (min defaults to 1). */
function count(f: GgufFile, key: string, r: CountRule = {}): number | undefined {
  const kv = f.metadata.get(key);
  if (!kv) return r.required === false ? undefined : bad(`it has no ${key}`);
  if (kv.type === ValueType.ARRAY) bad(`${key} is an array; it must be one number`);
  return checkCount(key, kv.value as Scalar, r);
}

function checkCount(key: string, v: Scalar, r: CountRule): number {
  const min = r.min ?? 1;
  if (typeof v !== 'number' || !Number.isInteger(v)) return bad(`${key} is ${show(v)}; it must be a whole number`);
  if (v < min) bad(`${key} is ${v}; it must be at least ${min}`);
  if (r.max !== undefined && v > r.max) bad(`${key} is ${v}; llama.cpp takes at most ${r.max}`);
  return v;
}

/** One number for all layers, or an array with one per layer (llama.cpp's get_key_or_arr). */
function perLayer(f: GgufFile, key: string, layers: number, r: CountRule): number[] | undefined {
  const kv: KV | undefined = f.metadata.get(key);
  if (!kv) return r.required === false ? undefined : bad(`it has no ${key}`);
  if (kv.type !== ValueType.ARRAY) return new Array<number>(layers).fill(checkCount(key, kv.value as Scalar, r));
  const n = kv.skipped ?? (kv.value as Scalar[]).length;
  if (n !== layers) bad(`${key} has ${n} items; it needs one per layer (${layers})`);
  return (kv.value as Scalar[]).map((v, i) => checkCount(`${key}[${i}]`, v, r));
}

/** An array's item count, undefined when absent. */
function arrayLength(f: GgufFile, key: string, itemTypes: ValueType[]): number | undefined {
  const kv = f.metadata.get(key);
  if (!kv) return undefined;
  if (kv.type !== ValueType.ARRAY || !itemTypes.includes(kv.itemType!)) bad(`${key} must be an array of ${itemTypes.length > 1 ? 'numbers' : 'strings'}`);
  return kv.skipped ?? (kv.value as Scalar[]).length;
}

function checkVocab(f: GgufFile): number | undefined {
  const model = meta<Scalar>(f, 'tokenizer.ggml.model');
  const n = arrayLength(f, 'tokenizer.ggml.tokens', [ValueType.STRING]);
  if (n === undefined) return model === undefined || model === 'none' ? undefined : bad('it has no tokenizer.ggml.tokens (the vocabulary)');
  if (n < 1) bad('tokenizer.ggml.tokens is empty; a model needs a vocabulary');
  if (model === 'gpt2' && arrayLength(f, 'tokenizer.ggml.merges', [ValueType.STRING]) === undefined) {
    bad('it has no tokenizer.ggml.merges, which its BPE tokenizer ("gpt2") needs');
  }
  for (const key of ['tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
    const m = arrayLength(f, key, [ValueType.FLOAT32, ValueType.INT32, ValueType.UINT32]);
    // llama-vocab.cpp refuses fewer items than tokens and reads past none of the extra ones.
    if (m !== undefined && m < n) bad(`${key} has ${m} items but there are ${n} tokens`);
  }
  // llama-vocab.cpp asserts that every token string is distinct, after naming each empty one "[EMPTY_<id>]"
  // (real vocabularies have several empty tokens; they load, with a warning).
  const tokens = meta<Scalar[]>(f, 'tokenizer.ggml.tokens')!;
  const seen = new Map<Scalar, number>();
  tokens.forEach((t, i) => {
    const text = t === '' ? `[EMPTY_${i}]` : t;
    const first = seen.get(text);
    if (first !== undefined) {
      const note = t === '' || tokens[first] === '' ? '; llama.cpp names an empty token [EMPTY_<id>]' : '';
      bad(`tokenizer.ggml.tokens has ${show(text)} twice (ids ${first} and ${i}${note})`);
    }
    seen.set(text, i);
  });
  return n;
}

/** Tensor shapes as llama.cpp's llama architecture creates them (src/models/llama.cpp); trailing 1s are equal. */
function checkLlamaTensors(f: GgufFile, h: { embd: number; vocab?: number; layers: number; heads: number[]; kvHeads: number[]; hdK: number; hdV: number; ff?: number[] }) {
  const shapes = new Map(f.tensors.map((t) => [t.name, t.dims]));
  const pad = (d: number[]) => [...d, 1, 1, 1, 1].slice(0, 4).join(',');
  const expect = (name: string, dims: (number | undefined)[], required = true) => {
    const got = shapes.get(name);
    if (!got) return required ? bad(`it has no tensor ${name}, which a llama model needs`) : undefined;
    if (dims.some((d) => d === undefined)) return undefined;
    if (pad(got) !== pad(dims as number[])) bad(`tensor ${name} has shape [${got}] but the hyperparameters make it [${dims}]`);
  };
  expect('token_embd.weight', [h.embd, h.vocab]);
  expect('output_norm.weight', [h.embd]);
  expect('output.weight', [h.embd, h.vocab], false);
  for (let i = 0; i < h.layers; i++) {
    const p = `blk.${i}.`;
    const q = h.hdK * h.heads[i], k = h.hdK * h.kvHeads[i], v = h.hdV * h.kvHeads[i];
    expect(`${p}attn_norm.weight`, [h.embd]);
    if (shapes.has(`${p}attn_qkv.weight`)) expect(`${p}attn_qkv.weight`, [h.embd, q + k + v]);
    else {
      expect(`${p}attn_q.weight`, [h.embd, q]);
      expect(`${p}attn_k.weight`, [h.embd, k]);
      expect(`${p}attn_v.weight`, [h.embd, v]);
    }
    expect(`${p}attn_output.weight`, [q, h.embd]);
    expect(`${p}ffn_norm.weight`, [h.embd]);
    if (h.ff) {
      expect(`${p}ffn_gate.weight`, [h.embd, h.ff[i]]);
      expect(`${p}ffn_down.weight`, [h.ff[i], h.embd]);
      expect(`${p}ffn_up.weight`, [h.embd, h.ff[i]]);
    }
  }
}

/**
 * Types ggml knows but cannot compute with as a weight: the CPU backend has no matrix product (segfault) or row
 * lookup (GGML_ABORT in ops.cpp) for them. Q8_1 and Q8_K are only the intermediate types of other quantizations;
 * no converter writes a weight as an integer or F64.
 */
const NOT_WEIGHT_TYPES = new Set([9, 15, 24, 25, 26, 27, 28]);

/**
 * Tensor types llama.cpp loads but aborts on at the first prompt. A llama model's vectors (norms, rope_freqs)
 * are multiplied into F32 activations, and ggml's CPU binary ops take only F32 there (binary-ops.cpp:
 * "unsupported types"); every converter and llama-quantize keep one-dimensional tensors F32.
 */
function checkWeightTypes(f: GgufFile, llama: boolean) {
  for (const t of f.tensors) {
    const type = TENSOR_TYPES[t.type][0];
    if (NOT_WEIGHT_TYPES.has(t.type)) bad(`tensor ${t.name} is ${type}, which llama.cpp cannot compute with as a model weight`);
    // Stored as [n] or as [n, 1]: llama.cpp compares shapes with trailing 1s dropped, so both are a vector.
    const vector = t.dims.slice(1).every((d) => d === 1);
    if (llama && vector && t.type !== 0) bad(`tensor ${t.name} is ${type}; a llama model's one-dimensional tensors must be F32`);
  }
}

function modelProblem(f: GgufFile): void {
  const arch = meta<Scalar>(f, 'general.architecture');
  if (typeof arch !== 'string' || !arch) bad('it has no general.architecture, so no program can tell what model it is');
  const k = (s: string) => `${arch}.${s}`;
  const vocabFromTokens = checkVocab(f);
  // llama.cpp reads no hyperparameters for a vision projector (mmproj, "clip").
  if (arch === 'clip') return;
  const llama = arch === 'llama';
  checkWeightTypes(f, llama);
  // No hyperparameters at all under another name: an architecture llama.cpp may not know. Its own error
  // ("unknown model architecture") says more than "no alien.block_count", and is an error, not an abort.
  if (!llama && ![...f.metadata.keys()].some((key) => key.startsWith(`${arch}.`))) return;
  count(f, k('context_length'));
  const embd = count(f, k('embedding_length'))!;
  const layers = count(f, k('block_count'), { max: LLAMA_MAX_LAYERS })!;
  const experts = count(f, k('expert_count'), { required: false, min: 0, max: LLAMA_MAX_EXPERTS }) ?? 0;
  const used = Math.max(0, ...(perLayer(f, k('expert_used_count'), layers, { required: false, min: 0 }) ?? []));
  if (used > experts) bad(`${k('expert_used_count')} is ${used}, more than ${k('expert_count')} (${experts})`);
  if (experts > 0 && used === 0) bad(`${k('expert_used_count')} is 0; a mixture of ${experts} experts must use at least one`);
  // Llama needs attention in every layer; other architectures may have layers without heads (recurrent ones).
  const heads = perLayer(f, k('attention.head_count'), layers, { required: llama, min: llama ? 1 : 0 }) ?? new Array<number>(layers).fill(0);
  const kvHeads = perLayer(f, k('attention.head_count_kv'), layers, { required: false, min: 0 }) ?? heads;
  heads.forEach((h, i) => {
    const at = heads.length > 1 && new Set(heads).size > 1 ? ` in layer ${i}` : '';
    if (h > 0 && (kvHeads[i] < 1 || h % kvHeads[i])) {
      bad(`${k('attention.head_count_kv')} is ${kvHeads[i]}${at}; it must be at least 1 and divide ${k('attention.head_count')} (${h})`);
    }
  });
  if (!llama) return;
  const keyLength = count(f, k('attention.key_length'), { required: false });
  if (keyLength === undefined && embd % heads[0]) bad(`${k('embedding_length')} (${embd}) is not divisible by ${k('attention.head_count')} (${heads[0]})`);
  const hdK = keyLength ?? embd / heads[0];
  const hdV = count(f, k('attention.value_length'), { required: false }) ?? embd / heads[0];
  const rot = count(f, k('rope.dimension_count'), { required: false });
  if (rot !== undefined && rot !== hdK) bad(`${k('rope.dimension_count')} is ${rot}; a llama model rotates the whole head (${hdK})`);
  const ff = perLayer(f, k('feed_forward_length'), layers, { required: experts === 0 });
  const vocab = vocabFromTokens ?? count(f, k('vocab_size'), { required: false });
  // A file without tensors is a vocabulary (llama.cpp's ggml-vocab-*.gguf, loaded with vocab_only).
  if (f.tensors.length) checkLlamaTensors(f, { embd, vocab, layers, heads, kvHeads, hdK, hdV, ff: experts === 0 ? ff : undefined });
}

function adapterProblem(f: GgufFile): void {
  const type = meta<Scalar>(f, 'adapter.type');
  if (type !== 'lora') bad(`adapter.type is ${type === undefined ? 'missing' : show(type)}; llama.cpp loads "lora" adapters only`);
  checkWeightTypes(f, false);
  const names = new Set(f.tensors.map((t) => t.name));
  for (const n of names) {
    const pair = n.endsWith('.lora_a') ? n.replace(/a$/, 'b') : n.endsWith('.lora_b') ? n.replace(/b$/, 'a') : undefined;
    // llama-adapter.cpp skips norm vectors (PEFT saves them when they were trained) and refuses anything else.
    if (pair === undefined && n.endsWith('_norm.weight')) continue;
    if (pair === undefined) bad(`tensor ${n} is not a LoRA tensor (their names end in .lora_a or .lora_b)`);
    if (!names.has(pair!)) bad(`tensor ${n} has no ${pair}`);
  }
}

/**
 * An adapter against the model it is loaded on, as llama-adapter.cpp checks it: one architecture, every pair
 * naming a tensor of the model, A [in, rank] and B [rank, out] for a weight [in, out] (the embedding's pair is
 * flipped). llama.cpp only reports "Failed to initialize LoRA adapter" for these, but it does not compare the
 * dimensions past the second: 3-D pairs on a 2-D weight pass it and abort in ggml_mul_mat
 * (GGML_ASSERT(ggml_can_mul_mat(a, b))), so those must match the weight's too (expert weights are 3-D).
 */
function adapterBaseProblem(a: GgufFile, base: GgufFile): void {
  const arch = meta<Scalar>(a, 'general.architecture'), baseArch = meta<Scalar>(base, 'general.architecture');
  if (arch !== baseArch) bad(`it is an adapter for ${show(arch ?? 'no architecture')}, but the model is ${show(baseArch ?? 'no architecture')}`);
  const shapes = new Map(base.tensors.map((t) => [t.name, t.dims]));
  const dims = new Map(a.tensors.map((t) => [t.name, t.dims]));
  const d = (x: readonly number[], i: number) => x[i] ?? 1;
  for (const [name, ad] of dims) {
    if (!name.endsWith('.lora_a')) continue;
    const weight = name.slice(0, -'.lora_a'.length);
    const bd = dims.get(`${weight}.lora_b`)!;
    const w = shapes.get(weight);
    if (!w) bad(`it changes tensor ${weight}, which the model does not have`);
    const fits = weight === 'token_embd.weight'
      ? d(w!, 0) === d(bd, 1) && d(w!, 1) === d(ad, 1)
      : d(w!, 0) === d(ad, 0) && d(w!, 1) === d(bd, 1) && d(ad, 1) === d(bd, 0);
    const outer = [2, 3].every((i) => d(ad, i) === d(w!, i) && d(bd, i) === d(w!, i));
    if (!fits || !outer) bad(`its tensors for ${weight} have shapes [${ad}] and [${bd}], which do not fit the model's [${w}]`);
  }
}

/** What is wrong with the file as a model (or, with general.type "adapter", as an adapter); undefined when nothing. */
export function fileProblem(f: GgufFile): string | undefined {
  try {
    if (meta<Scalar>(f, 'general.type') === 'adapter') adapterProblem(f);
    else modelProblem(f);
    return undefined;
  } catch (e) {
    if (e instanceof Problem) return e.message;
    throw e;
  }
}

function check(f: GgufFile, run: (f: GgufFile) => void) {
  try {
    run(f);
  } catch (e) {
    if (e instanceof Problem) throw new GgufError(`${f.path}: ${e.message}. ${REPAIR}`);
    throw e;
  }
}

/** Throw a one-line error for a file llama.cpp would refuse or abort on as a model. */
export function checkModel(f: GgufFile) {
  check(f, modelProblem);
}

/** An adapter on its own, and against the model it is for when `base` is given. */
export function checkAdapter(f: GgufFile, base?: GgufFile) {
  check(f, adapterProblem);
  try {
    if (base) adapterBaseProblem(f, base);
  } catch (e) {
    if (e instanceof Problem) throw new GgufError(`${f.path}: ${e.message}. It was made for another model; give an adapter trained for ${base!.path}`);
    throw e;
  }
}

/** A model, or an adapter when its general.type says so (for commands that take either: inspect, set). */
export function checkFile(f: GgufFile) {
  check(f, meta<Scalar>(f, 'general.type') === 'adapter' ? adapterProblem : modelProblem);
}
