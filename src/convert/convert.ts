/**
 * Hugging Face Llama folder → GGUF, writing what convert_hf_to_gguf.py writes for it: the same metadata keys,
 * types, values and order, the same tensors in the same order with the same types and (f32/f16/bf16/q8_0) bytes.
 * Tensors stream through writeGguf's producers a chunk of rows at a time, so memory stays at a few tens of MB
 * whatever the model's size; an adapter merge streams too (TensorHook.applyRows on each chunk, in f32), and only a
 * hook without applyRows has its tensors held whole in f32.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { QUANT_BPW, QUANT_TYPES, quantizeInWorker } from '../engine/llamacpp/quantize.js';
import type { KV } from '../gguf/types.js';
import { kv, type TensorSpec, writeGguf } from '../gguf/writer.js';
import { freeBytes, outputTarget, readSmallFile, sameFile, tempDone, tempPath } from '../util/files.js';
import { humanBytes } from '../util/human.js';
import { convertBytes, decodeToF32, encodeFromF32, FILE_TYPE, GGML_TYPE, type OutType } from './dtypes.js';
import type { CheckpointTensor } from './checkpoint.js';
import { type LlamaShape, readLlamaModel, tensorOrder } from './hfModel.js';
import { modelNames } from './naming.js';
import { permuteRow, planTensors, ropeFreqs, type TensorPlan } from './tensors.js';
import { tokenizerMetadata } from './tokenizer.js';

export interface TensorHook {
  /** HF tensor names whose values change; the converter decodes these to f32 and calls apply. */
  touches(hfName: string): boolean;
  /** In place, on the HF-layout (unpermuted) f32 values, shape [rows, cols] as in the checkpoint. */
  apply(hfName: string, values: Float32Array, shape: number[]): void;
  /**
   * Like apply, on rows [row0, row0 + n) only (`values` holds those rows): with it the converter merges a tensor
   * a chunk at a time instead of holding it whole in f32 (an 8B embed_tokens is 2 GB in f32).
   */
  applyRows?(hfName: string, values: Float32Array, shape: number[], row0: number, n: number): void;
  /**
   * Tensors replaced whole (PEFT modules_to_save): HF name → f32 values in HF layout. With `source` (the tensor
   * in a safetensors file) the converter streams it like a checkpoint tensor and never asks for `values`: an
   * 8B model's lm_head is 1 GB in bf16 and 2 GB in f32.
   */
  replacements?: Map<string, { values: Float32Array; shape: number[]; source?: CheckpointTensor }>;
  /** The files the hook reads (the adapter's): the output may be none of them. */
  files?: string[];
}

export interface ConvertOptions {
  src: string;
  out: string;
  type?: string;
  hook?: TensorHook;
  /** general.name (convert_hf_to_gguf's --model-name). */
  name?: string;
  /**
   * tokenizer.chat_template instead of the folder's own: a model fine-tuned with another format than its base's
   * (LLaMA-Factory's `default` on a Llama-3 base) must not carry the base's template.
   */
  chatTemplate?: string;
  /**
   * tokenizer.ggml.add_bos_token instead of the tokenizer's: false for a model trained without BOS (LLaMA-Factory's
   * `default`), so llama.cpp and ollama, which add the tokenizer's BOS to every prompt, prompt it as it was trained.
   */
  addBos?: boolean;
  threads?: number;
  onProgress?: (doneBytes: number, totalBytes: number, phase: 'convert' | 'quantize') => void;
  signal?: AbortSignal;
}

/** Types convert_hf_to_gguf writes itself; the rest go through llama.cpp's quantizer. */
const DIRECT: OutType[] = ['F32', 'F16', 'BF16', 'Q8_0'];

/** Every --type, lower-case: llama.cpp's --outtype choices we write directly, then each quantize type. */
export const CONVERT_TYPES: string[] = [...new Set(['auto', ...DIRECT, ...Object.keys(QUANT_TYPES)].map((t) => t.toLowerCase()))];

/** gguf-py GGML_QUANT_VERSION. */
const QUANT_VERSION = 2;

/** Source bytes read per step: small enough for a flat memory profile, big enough for full-speed I/O. */
const CHUNK = 8 << 20;

export function resolveType(type: string | undefined, shape: LlamaShape): { type: string; direct?: OutType; via?: OutType } {
  const t = (type ?? 'auto').toUpperCase();
  // --outtype auto: BF16 for a BF16 checkpoint, F16 for F16 — and F16 for an F32 one (base.py's heuristic).
  const auto: OutType = shape.dtype === 'BF16' ? 'BF16' : 'F16';
  if (t === 'AUTO') return { type: auto, direct: auto };
  if ((DIRECT as string[]).includes(t)) return { type: t, direct: t as OutType };
  if (QUANT_TYPES[t] !== undefined) return { type: t, via: auto };
  throw new UserError(`unknown type '${type}'; the types are: ${CONVERT_TYPES.join(', ')}`, 2);
}

const elements = (shape: number[]) => shape.reduce((a, d) => a * d, 1);

function outBytes(p: TensorPlan): number {
  const n = elements(p.shape);
  return p.out === 'F32' ? n * 4 : p.out === 'Q8_0' ? (n / 32) * 34 : n * 2;
}

function generationConfig(dir: string): Record<string, unknown> {
  const p = join(dir, 'generation_config.json');
  if (!existsSync(p)) return {};
  // metadata.py: "not all models have valid generation_config.json" — an unreadable one is ignored.
  try { return JSON.parse(readSmallFile(p, 'generation_config.json')) ?? {}; } catch { return {}; }
}

/** general.* and llama.* keys in convert_hf_to_gguf's order (GGUFWriter init, set_type, Metadata, set_gguf_parameters). */
function modelKVs(dir: string, cfg: Record<string, unknown>, s: LlamaShape, out: OutType, totalParams: number, name?: string): KV[] {
  const kvs: KV[] = [kv.str('general.architecture', 'llama'), kv.str('general.type', 'model')];
  const g = generationConfig(dir);
  const num = (k: string) => (typeof g[k] === 'number' ? (g[k] as number) : undefined);
  const sampling: Array<[string, number | undefined, 'i32' | 'f32']> = [
    ['top_k', num('top_k'), 'i32'], ['top_p', num('top_p'), 'f32'], ['min_p', num('min_p'), 'f32'],
    ['xtc_probability', num('xtc_probability'), 'f32'], ['xtc_threshold', num('xtc_threshold'), 'f32'], ['temp', num('temperature'), 'f32'],
    ['penalty_last_n', num('penalty_last_n'), 'i32'], ['penalty_repeat', num('penalty_repeat') ?? num('repetition_penalty'), 'f32'],
    ['mirostat', num('mirostat'), 'i32'], ['mirostat_tau', num('mirostat_tau'), 'f32'], ['mirostat_eta', num('mirostat_eta'), 'f32'],
  ];
  if (typeof g.sequence === 'string') kvs.push(kv.str('general.sampling.sequence', g.sequence));
  for (const [k, v, t] of sampling) if (v !== undefined) kvs.push(kv[t](`general.sampling.${k}`, v));
  const n = modelNames(basename(resolve(dir)), cfg._name_or_path, totalParams, name);
  kvs.push(kv.str('general.name', n.name!));
  if (n.version !== undefined) kvs.push(kv.str('general.version', n.version));
  if (n.organization !== undefined) kvs.push(kv.str('general.organization', n.organization));
  if (n.finetune !== undefined) kvs.push(kv.str('general.finetune', n.finetune));
  if (n.basename !== undefined) kvs.push(kv.str('general.basename', n.basename));
  if (n.sizeLabel !== undefined) kvs.push(kv.str('general.size_label', n.sizeLabel));

  kvs.push(kv.u32('llama.block_count', s.nLayer));
  if (s.ctx !== undefined) kvs.push(kv.u32('llama.context_length', s.ctx));
  kvs.push(kv.u32('llama.embedding_length', s.nEmbd), kv.u32('llama.feed_forward_length', s.nFf), kv.u32('llama.attention.head_count', s.nHead));
  if (cfg.num_key_value_heads !== undefined && cfg.num_key_value_heads !== null) kvs.push(kv.u32('llama.attention.head_count_kv', s.nHeadKv));
  const rs = s.ropeScaling;
  if (rs && rs.type === 'linear' && rs.factor !== undefined) {
    kvs.push(kv.str('llama.rope.scaling.type', 'linear'), kv.f32('llama.rope.scaling.factor', rs.factor));
  } else if (rs && rs.type === 'yarn' && rs.factor !== undefined) {
    kvs.push(kv.str('llama.rope.scaling.type', 'yarn'), kv.f32('llama.rope.scaling.factor', rs.factor));
    if (rs.originalContext === undefined) throw new UserError(`config.json's yarn rope_scaling has no original_max_position_embeddings`);
    kvs.push(kv.u32('llama.rope.scaling.original_context_length', rs.originalContext));
    const f = (k: string) => (typeof rs.raw[k] === 'number' ? (rs.raw[k] as number) : undefined);
    const yarn: Array<[string, number | undefined]> = [['yarn_ext_factor', f('extrapolation_factor')], ['yarn_attn_factor', f('attention_factor') ?? f('attn_factor')],
      ['yarn_beta_fast', f('beta_fast')], ['yarn_beta_slow', f('beta_slow')]];
    for (const [k, v] of yarn) if (v !== undefined) kvs.push(kv.f32(`llama.rope.scaling.${k}`, v));
  } else if (rs && (rs.type === 'su' || rs.type === 'longrope')) {
    kvs.push(kv.str('llama.rope.scaling.type', 'longrope'));
  } // llama3: rope_freqs.weight instead of keys; dynamic, default, unknown: nothing (base.py only warns)
  if (s.ropeTheta !== undefined) kvs.push(kv.f32('llama.rope.freq_base', s.ropeTheta));
  if (s.rmsEps !== undefined) kvs.push(kv.f32('llama.attention.layer_norm_rms_epsilon', s.rmsEps));
  if (s.headDimGiven) kvs.push(kv.u32('llama.attention.key_length', s.headDim), kv.u32('llama.attention.value_length', s.headDim));
  kvs.push(kv.u32('general.file_type', FILE_TYPE[out]));
  kvs.push(kv.u32('llama.vocab_size', s.vocabSize), kv.u32('llama.rope.dimension_count', s.headDim));
  kvs.push(kv.u32('general.quantization_version', QUANT_VERSION));
  return kvs;
}

/**
 * Chunk buffers used in turn. A fresh 8 MB array per chunk kept V8's garbage collector busy for 45% of a
 * bf16 → f16 conversion (measured: 9.8 s of 22 s on a 2.3 GB checkpoint).
 */
class Ring {
  private bufs: Uint8Array[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  take(bytes: number): Uint8Array {
    const k = this.next++ % this.size;
    if (!this.bufs[k] || this.bufs[k].length < bytes) this.bufs[k] = new Uint8Array(bytes);
    return this.bufs[k].subarray(0, bytes);
  }
}

/** Reads the checkpoint's files, each opened once; and the conversion's chunk buffers. */
class Files {
  readonly reads = new Ring(3);
  readonly outs = new Ring(2);
  private open = new Map<string, Promise<FileHandle>>();
  get(path: string) {
    let h = this.open.get(path);
    if (!h) { h = open(path, 'r'); this.open.set(path, h); }
    return h;
  }
  async read(path: string, buf: Uint8Array, length: number, position: number) {
    const fh = await this.get(path);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, position + got);
      if (bytesRead === 0) throw new UserError(`${path} ended early (it changed on disk while converting?)`);
      got += bytesRead;
    }
    return buf.subarray(0, length);
  }
  async close() { for (const h of this.open.values()) await (await h).close().catch(() => {}); }
}

/** Permute whole rows of `src` (rowBytes each): output row r = input row permuteRow(r). */
function permuteRows(src: Uint8Array, rows: number, rowBytes: number, heads: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let r = 0; r < rows; r++) {
    const from = permuteRow(r, rows, heads) * rowBytes;
    out.set(src.subarray(from, from + rowBytes), r * rowBytes);
  }
  return out;
}

interface Progress { done: number; total: number; tick(n: number): void }

/** The producer of one tensor's bytes. */
function producer(p: TensorPlan, s: LlamaShape, files: Files, hook: TensorHook | undefined, progress: Progress, signal?: AbortSignal): TensorSpec['data'] {
  return async (write) => {
    signal?.throwIfAborted();
    const rows = p.shape[0];
    const rowElems = elements(p.shape.slice(1));
    const merge = !!p.tensor && !!hook?.touches(p.hf);
    if (!p.tensor || hook?.replacements?.has(p.hf) || (merge && !hook!.applyRows)) {
      // Whole tensor in f32: generated, replaced or merged.
      let values: Float32Array;
      if (!p.tensor) values = p.gguf === 'rope_freqs.weight' ? ropeFreqs(s) : hook!.replacements!.get(p.hf)!.values;
      else if (hook?.replacements?.has(p.hf)) values = hook.replacements.get(p.hf)!.values;
      else {
        const t = p.tensor;
        values = decodeToF32(await files.read(t.file.path, new Uint8Array(t.bytes), t.bytes, t.offset), p.src);
        progress.tick(t.bytes);
        hook!.apply(p.hf, values, p.shape);
      }
      if (values.length !== elements(p.shape)) throw new UserError(`the adapter's ${p.hf} has ${values.length} values, the model's ${elements(p.shape)}`);
      let v = values;
      if (p.heads) v = new Float32Array(permuteRows(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), rows, rowElems * 4, p.heads).buffer);
      const step = Math.max(1, Math.floor(CHUNK / 4 / rowElems));
      for (let r = 0; r < rows; r += step) {
        signal?.throwIfAborted();
        await write(encodeFromF32(v.subarray(r * rowElems, Math.min(rows, r + step) * rowElems), p.out));
      }
      return;
    }
    const t = p.tensor;
    const rowBytes = t.bytes / rows;
    // A permuted tensor is read a whole number of heads at a time (the permutation stays inside a head).
    const group = p.heads ? rows / p.heads : 1;
    const step = Math.max(1, Math.floor(CHUNK / rowBytes / group)) * group;
    // A pipeline: the next chunk is read and the last one written (both on libuv's threads) while this one is
    // converted on the main thread, so the disk and the conversion overlap instead of taking turns. Buffers come
    // from rings: three for reads (one converting, one being read, one that converted to itself — bf16 → bf16 —
    // still being written) and two for outputs (one being written, one being filled).
    const read = (r: number) => {
      const n = Math.min(step, rows - r);
      return files.read(t.file.path, files.reads.take(n * rowBytes), n * rowBytes, t.offset + r * rowBytes);
    };
    let next = read(0);
    let writing: Promise<void> = Promise.resolve();
    try {
      for (let r = 0; r < rows; r += step) {
        signal?.throwIfAborted();
        const n = Math.min(step, rows - r);
        let raw = await next;
        if (r + step < rows) next = read(r + step);
        let out: Uint8Array;
        if (merge) {
          // The adapter's update on these rows, in f32 on the HF layout, before the q/k permutation.
          const v = decodeToF32(raw, p.src);
          hook!.applyRows!(p.hf, v, p.shape, r, n);
          let bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
          if (p.heads) bytes = permuteRowsInHeads(bytes, n, rowElems * 4, group);
          out = encodeFromF32(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), p.out);
        } else {
          if (p.heads) raw = permuteRowsInHeads(raw, n, rowBytes, group);
          out = convertBytes(raw, p.src, p.out, files.outs.take(raw.length));
        }
        await writing;
        writing = write(out);
        progress.tick(n * rowBytes);
      }
    } finally {
      // Never leave a write or a read running past this tensor, even on an error or an abort.
      await Promise.allSettled([writing, next]);
    }
    await writing;
  };
}

/** Permute each head's `group` rows of a chunk that holds whole heads. */
function permuteRowsInHeads(src: Uint8Array, rows: number, rowBytes: number, group: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let r = 0; r < rows; r++) {
    const head = Math.floor(r / group) * group;
    const from = (head + permuteRow(r - head, group, 1)) * rowBytes;
    out.set(src.subarray(from, from + rowBytes), r * rowBytes);
  }
  return out;
}

/** Every file the conversion reads: the output must be none of them. */
function inputFiles(dir: string, shards: string[]): string[] {
  return [...shards, ...['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'model.safetensors.index.json'].map((f) => join(dir, f))];
}

export async function convertModel(o: ConvertOptions): Promise<{ out: string; type: string; bytes: number }> {
  const model = readLlamaModel(o.src);
  const s = model.shape;
  const r = resolveType(o.type, s);
  const fileOut: OutType = r.direct ?? r.via!;
  const target = outputTarget(o.out);
  for (const f of [...inputFiles(o.src, model.checkpoint.files.map((f) => f.path)), ...(o.hook?.files ?? [])]) {
    if (sameFile(f, target)) throw new UserError(`--out ${o.out} is ${f}, one of the model's own files; give another output file`, 2);
  }
  if (!existsSync(dirname(target))) throw new UserError(`cannot write ${o.out}: its folder does not exist`);

  const order = tensorOrder(model.checkpoint);
  const tensors = new Map(model.checkpoint.tensors);
  // A modules_to_save tensor the checkpoint lacks (lm_head of a tied model) is written as a tensor of its own.
  // One with a source file takes the base tensor's place and streams from the adapter's file.
  const streamed = new Set<string>();
  for (const [name, rep] of o.hook?.replacements ?? []) {
    if (!tensors.has(name)) order.push(name);
    if (rep.source) { tensors.set(name, rep.source); streamed.add(name); }
    else if (!tensors.has(name)) tensors.set(name, { name, dtype: 'F32', shape: rep.shape, offset: 0, bytes: 0, file: model.checkpoint.files[0] });
  }
  const hook: TensorHook | undefined = o.hook && streamed.size ? {
    touches: (n) => o.hook!.touches(n),
    apply: (n, v, shape) => o.hook!.apply(n, v, shape),
    applyRows: o.hook.applyRows && ((n, v, shape, row0, count) => o.hook!.applyRows!(n, v, shape, row0, count)),
    replacements: new Map([...o.hook.replacements!].filter(([n]) => !streamed.has(n))),
  } : o.hook;
  const plans = planTensors(s, tensors, order, fileOut);
  for (const p of plans) if (p.tensor && p.tensor.bytes === 0 && hook?.replacements?.has(p.hf)) p.tensor = undefined;
  const tok = await tokenizerMetadata(o.src, { vocabSize: s.vocabSize });
  const totalParams = plans.reduce((a, p) => a + elements(p.shape), 0);
  const kvs = modelKVs(o.src, model.config.json, s, fileOut, totalParams, o.name);
  const tcPath = join(o.src, 'tokenizer_config.json');
  // LlamaModel.set_vocab writes add_space_prefix from tokenizer_config.json before the vocabulary's own keys.
  if (existsSync(tcPath) && !tok.kvs.some((k) => k.key === 'tokenizer.ggml.add_space_prefix')) {
    try {
      const a = JSON.parse(readSmallFile(tcPath, 'tokenizer_config.json')).add_prefix_space;
      if (typeof a === 'boolean') kvs.push(kv.bool('tokenizer.ggml.add_space_prefix', a));
    } catch { /* the tokenizer step reports a broken tokenizer_config.json */ }
  }
  let tokKvs = tok.kvs;
  if (o.chatTemplate !== undefined) tokKvs = [...tokKvs.filter((k) => !k.key.startsWith('tokenizer.chat_template')), kv.str('tokenizer.chat_template', o.chatTemplate)];
  if (o.addBos !== undefined) tokKvs = [...tokKvs.filter((k) => k.key !== 'tokenizer.ggml.add_bos_token'), kv.bool('tokenizer.ggml.add_bos_token', o.addBos)];
  kvs.push(...tokKvs);

  const dataBytes = plans.reduce((a, p) => a + outBytes(p), 0);
  const srcBytes = plans.reduce((a, p) => a + (p.tensor?.bytes ?? 0), 0);
  const mid = dataBytes + (32 << 20); // the header (the vocabulary is a few MB) and alignment
  let need = mid;
  if (r.via) {
    const quantized = plans.reduce((a, p) => a + (p.out === 'F32' ? elements(p.shape) * 4 : (elements(p.shape) * QUANT_BPW[r.type]) / 8), 0) * 1.1;
    need += Math.ceil(quantized);
  }
  const free = freeBytes(dirname(target));
  if (free !== undefined && need > free) {
    throw new UserError(`not enough disk space: converting ${o.src} to ${r.type} needs about ${humanBytes(need)}${r.via ? ` (a ${fileOut} GGUF first, then the ${r.type} one)` : ''} and ${dirname(target)} has ${humanBytes(free)} free`);
  }

  const files = new Files();
  const progress: Progress = { done: 0, total: srcBytes, tick(n) { this.done += n; o.onProgress?.(this.done, this.total, 'convert'); } };
  const specs: TensorSpec[] = plans.map((p) => ({ name: p.gguf, dims: [...p.shape].reverse(), type: GGML_TYPE[p.out], data: producer(p, s, files, hook, progress, o.signal) }));
  o.onProgress?.(0, srcBytes, 'convert');
  if (r.direct) {
    try {
      await writeGguf(target, kvs, specs);
    } finally {
      await files.close();
    }
    return { out: target, type: r.type, bytes: statSync(target).size };
  }

  // llama_model_quantize reads its input from a path (llama_model_quantize(fname_inp, fname_out, params)), so
  // the quantized types need the 16-bit GGUF on disk first; it is a hidden temp beside the output, removed after.
  const midPath = tempPath(target);
  const outTmp = tempPath(target);
  try {
    try {
      await writeGguf(midPath, kvs, specs);
    } finally {
      await files.close();
    }
    o.signal?.throwIfAborted();
    const estimate = Math.max(1, need - mid);
    o.onProgress?.(0, estimate, 'quantize');
    const { result, worker } = quantizeInWorker({ input: midPath, output: outTmp, ftype: QUANT_TYPES[r.type], nthread: o.threads ?? availableParallelism(), allowRequantize: false });
    const poll = setInterval(() => {
      try { const n = statSync(outTmp).size; o.onProgress?.(n, Math.max(estimate, n), 'quantize'); } catch { /* not created yet */ }
    }, 200);
    let q;
    try {
      // The native call cannot be interrupted: an abort takes effect when it returns (Ctrl-C ends the process and
      // util/files' handler removes both temp files).
      q = await result;
    } finally {
      clearInterval(poll);
      await worker.terminate();
    }
    if (q.rc !== 0) throw new UserError(`llama.cpp cannot quantize the converted model: ${q.error}`);
    o.signal?.throwIfAborted();
    const size = statSync(outTmp).size;
    o.onProgress?.(size, size, 'quantize');
    renameSync(outTmp, target);
    return { out: target, type: r.type, bytes: size };
  } finally {
    rmSync(midPath, { force: true });
    rmSync(outTmp, { force: true });
    tempDone(midPath);
    tempDone(outTmp);
  }
}
