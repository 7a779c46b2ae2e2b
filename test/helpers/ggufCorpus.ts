import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readGguf } from '../../src/gguf/reader.js';
import { type KV, TensorType, ValueType } from '../../src/gguf/types.js';
import { kv, type TensorSpec, writeGguf } from '../../src/gguf/writer.js';

/**
 * Damaged GGUF files, one field at a time, made from a small llama-shaped model (2 layers × 32, 64 tokens,
 * ~90 KB) so that the corpus is quick to write and read. `pattern` is what the one error line must say.
 */

const LAYERS = 2, EMBD = 32, HEADS = 4, KV_HEADS = 2, FF = 64, VOCAB = 64;
const HEAD = EMBD / HEADS;

export function baseMetadata(): KV[] {
  const tokens = Array.from({ length: VOCAB }, (_, i) => `t${i}`);
  return [
    kv.str('general.architecture', 'llama'),
    kv.str('general.type', 'model'),
    kv.str('general.name', 'corpus base'),
    kv.u32('general.alignment', 32),
    kv.u32('llama.context_length', 512),
    kv.u32('llama.embedding_length', EMBD),
    kv.u32('llama.block_count', LAYERS),
    kv.u32('llama.feed_forward_length', FF),
    kv.u32('llama.attention.head_count', HEADS),
    kv.u32('llama.attention.head_count_kv', KV_HEADS),
    kv.u32('llama.rope.dimension_count', HEAD),
    kv.f32('llama.rope.freq_base', 500000),
    kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    kv.str('tokenizer.ggml.model', 'gpt2'),
    kv.str('tokenizer.ggml.pre', 'llama-bpe'),
    kv.strs('tokenizer.ggml.tokens', tokens),
    kv.i32s('tokenizer.ggml.token_type', tokens.map(() => 1)),
    kv.strs('tokenizer.ggml.merges', ['t 1']),
    kv.u32('tokenizer.ggml.eos_token_id', 1),
  ];
}

const f32 = (name: string, dims: number[]): TensorSpec =>
  ({ name, dims, type: TensorType.F32, data: new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)) });

export function baseTensors(): TensorSpec[] {
  const t = [f32('token_embd.weight', [EMBD, VOCAB]), f32('output_norm.weight', [EMBD]), f32('output.weight', [EMBD, VOCAB])];
  for (let l = 0; l < LAYERS; l++) {
    const p = `blk.${l}.`;
    t.push(
      f32(`${p}attn_norm.weight`, [EMBD]), f32(`${p}attn_q.weight`, [EMBD, EMBD]), f32(`${p}attn_k.weight`, [EMBD, HEAD * KV_HEADS]),
      f32(`${p}attn_v.weight`, [EMBD, HEAD * KV_HEADS]), f32(`${p}attn_output.weight`, [EMBD, EMBD]), f32(`${p}ffn_norm.weight`, [EMBD]),
      f32(`${p}ffn_gate.weight`, [EMBD, FF]), f32(`${p}ffn_up.weight`, [EMBD, FF]), f32(`${p}ffn_down.weight`, [FF, EMBD]),
    );
  }
  return t;
}

/** The base model with some metadata replaced (same key), added (new key) or removed (value undefined). */
export async function writeSmallModel(path: string, o: { set?: KV[]; drop?: string[]; extra?: KV[]; tensors?: (t: TensorSpec[]) => TensorSpec[] } = {}) {
  const set = new Map((o.set ?? []).map((m) => [m.key, m]));
  const metadata = baseMetadata().filter((m) => !o.drop?.includes(m.key)).map((m) => set.get(m.key) ?? m);
  for (const m of o.set ?? []) if (!metadata.some((x) => x.key === m.key)) metadata.push(m);
  await writeGguf(path, [...metadata, ...(o.extra ?? [])], (o.tensors ?? ((t) => t))(baseTensors()));
  return path;
}

/** Where each tensor info's fields lie in the file's bytes. */
export function tensorFields(path: string) {
  const f = readGguf(path, { layout: true });
  const b = readFileSync(path);
  let at = f.layout!.tensorInfos.start;
  return f.tensors.map((t) => {
    const name = at + 8;
    at += 8 + Number(b.readBigUInt64LE(at));
    const nDims = at;
    at += 4;
    const dims = at;
    at += 8 * t.dims.length;
    const type = at;
    at += 4;
    const offset = at;
    at += 8;
    return { tensor: t, name, nDims, dims, type, offset };
  });
}

export interface CorpusFile {
  name: string;
  /** Make the file at `path`. */
  make: (path: string, base: string) => Promise<unknown> | unknown;
  /** What the one error line says (after the command's prefix). */
  pattern: RegExp;
}

const u32 = (key: string, v: number) => kv.u32(key, v);
const bytesEdit = (edit: (b: Buffer, base: string) => Buffer | void) => (path: string, base: string) => {
  const b = Buffer.from(readFileSync(base));
  writeFileSync(path, edit(b, base) ?? b);
};
const tensor = (base: string, name: string) => tensorFields(base).find((x) => x.tensor.name === name)!;

/** Byte offset of the value of a string KV (after its 8-byte length). */
function stringValueAt(base: string, key: string): number {
  const f = readGguf(base, { layout: true });
  const span = f.layout!.spans.get(key)!;
  return span.start + 8 + Buffer.byteLength(key) + 4 + 8;
}

const MAX = 4294967295;

export const CORPUS: CorpusFile[] = [
  // Hyperparameters that make llama.cpp abort (or refuse), one at a time.
  ...(['block_count', 'embedding_length', 'context_length', 'feed_forward_length', 'attention.head_count', 'attention.head_count_kv', 'rope.dimension_count'] as const)
    .map((k): CorpusFile => ({ name: `${k}-0`, make: (p) => writeSmallModel(p, { set: [u32(`llama.${k}`, 0)] }), pattern: new RegExp(`llama\\.${k.replace('.', '\\.')} is 0; it must be at least 1`) })),
  { name: 'block_count-max', make: (p) => writeSmallModel(p, { set: [u32('llama.block_count', MAX)] }), pattern: /llama\.block_count is 4294967295; llama\.cpp takes at most 512/ },
  { name: 'embedding_length-max', make: (p) => writeSmallModel(p, { set: [u32('llama.embedding_length', MAX)] }), pattern: /llama\.embedding_length \(4294967295\) is not divisible by llama\.attention\.head_count \(4\)/ },
  { name: 'head_count-max', make: (p) => writeSmallModel(p, { set: [u32('llama.attention.head_count', MAX)] }), pattern: /llama\.attention\.head_count_kv is 2; it must be at least 1 and divide llama\.attention\.head_count \(4294967295\)/ },
  { name: 'head_count_kv-3', make: (p) => writeSmallModel(p, { set: [u32('llama.attention.head_count_kv', 3)] }), pattern: /llama\.attention\.head_count_kv is 3; it must be at least 1 and divide llama\.attention\.head_count \(4\)/ },
  { name: 'feed_forward_length-max', make: (p) => writeSmallModel(p, { set: [u32('llama.feed_forward_length', MAX)] }), pattern: /tensor blk\.0\.ffn_gate\.weight has shape \[32,64\] but the hyperparameters make it \[32,4294967295\]/ },
  { name: 'rope-dimension-7', make: (p) => writeSmallModel(p, { set: [u32('llama.rope.dimension_count', 7)] }), pattern: /llama\.rope\.dimension_count is 7; a llama model rotates the whole head \(8\)/ },
  { name: 'head_count-array-short', make: (p) => writeSmallModel(p, { set: [kv.i32s('llama.attention.head_count', [4])] }), pattern: /llama\.attention\.head_count has 1 items; it needs one per layer \(2\)/ },
  { name: 'head_count-array-0', make: (p) => writeSmallModel(p, { set: [kv.i32s('llama.attention.head_count', [4, 0])] }), pattern: /llama\.attention\.head_count\[1\] is 0; it must be at least 1/ },
  { name: 'expert_count-max', make: (p) => writeSmallModel(p, { set: [u32('llama.expert_count', MAX)] }), pattern: /llama\.expert_count is 4294967295; llama\.cpp takes at most 1024/ },
  { name: 'expert_used-no-experts', make: (p) => writeSmallModel(p, { set: [u32('llama.expert_used_count', 2)] }), pattern: /llama\.expert_used_count is 2, more than llama\.expert_count \(0\)/ },
  { name: 'block_count-str', make: (p) => writeSmallModel(p, { set: [kv.str('llama.block_count', '2')] }), pattern: /llama\.block_count is "2"; it must be a whole number/ },
  { name: 'no-block_count', make: (p) => writeSmallModel(p, { drop: ['llama.block_count'] }), pattern: /it has no llama\.block_count/ },
  { name: 'no-architecture', make: (p) => writeSmallModel(p, { drop: ['general.architecture'] }), pattern: /has no general\.architecture/ },
  // The vocabulary: llama.cpp aborts on a duplicate token.
  { name: 'vocab-empty', make: (p) => writeSmallModel(p, { set: [kv.strs('tokenizer.ggml.tokens', []), kv.i32s('tokenizer.ggml.token_type', [])] }), pattern: /tokenizer\.ggml\.tokens is empty/ },
  { name: 'vocab-duplicate', make: (p) => writeSmallModel(p, { set: [kv.strs('tokenizer.ggml.tokens', Array.from({ length: 64 }, (_, i) => `t${i === 5 ? 1 : i}`))] }), pattern: /tokenizer\.ggml\.tokens has "t1" twice \(ids 1 and 5\)/ },
  { name: 'vocab-empty-collision', make: (p) => writeSmallModel(p, { set: [kv.strs('tokenizer.ggml.tokens', Array.from({ length: 64 }, (_, i) => (i === 10 ? '' : i === 11 ? '[EMPTY_10]' : `t${i}`)))] }), pattern: /tokenizer\.ggml\.tokens has "\[EMPTY_10\]" twice \(ids 10 and 11; llama\.cpp names an empty token \[EMPTY_<id>\]\)/ },
  { name: 'no-merges', make: (p) => writeSmallModel(p, { drop: ['tokenizer.ggml.merges'] }), pattern: /it has no tokenizer\.ggml\.merges, which its BPE tokenizer \("gpt2"\) needs/ },
  { name: 'token_type-short', make: (p) => writeSmallModel(p, { set: [kv.i32s('tokenizer.ggml.token_type', [1, 1])] }), pattern: /tokenizer\.ggml\.token_type has 2 items but there are 64 tokens/ },
  { name: 'duplicate-key', make: (p) => writeSmallModel(p, { extra: [u32('general.architecture', 8192)] }), pattern: /metadata key general\.architecture appears twice \(entry 20 of 20\)/ },
  { name: 'alignment-u64', make: bytesEdit((b, base) => {
    // general.alignment's type u32 (4) → u64 (10) would misalign the rest; make it i32 (5), same size.
    const span = readGguf(base, { layout: true }).layout!.spans.get('general.alignment')!;
    b.writeUInt32LE(ValueType.INT32, span.start + 8 + 'general.alignment'.length);
  }), pattern: /general\.alignment must be a u32/ },
  // Tensor shapes against the hyperparameters, and missing tensors (llama.cpp refuses these, with less to go on).
  { name: 'shape-mismatch', make: (p) => writeSmallModel(p, { tensors: (t) => t.map((x) => (x.name === 'token_embd.weight' ? f32(x.name, [EMBD, VOCAB - 1]) : x)) }), pattern: /tensor token_embd\.weight has shape \[32,63\] but the hyperparameters make it \[32,64\]/ },
  // Types ggml knows that llama.cpp loads, then aborts or segfaults on at the first prompt.
  { name: 'weight-i32', make: (p) => writeSmallModel(p, { tensors: (t) => t.map((x) => (x.name === 'token_embd.weight' ? { ...x, type: 26 } : x)) }), pattern: /tensor token_embd\.weight is I32, which llama\.cpp cannot compute with as a model weight/ },
  { name: 'weight-q8_1', make: (p) => writeSmallModel(p, { tensors: (t) => t.map((x) => (x.name === 'blk.0.attn_q.weight' ? { ...x, type: 9, data: new Uint8Array(36 * EMBD) } : x)) }), pattern: /tensor blk\.0\.attn_q\.weight is Q8_1, which llama\.cpp cannot compute with as a model weight/ },
  { name: 'norm-f16-2d', make: (p) => writeSmallModel(p, { tensors: (t) => t.map((x) => (x.name === 'output_norm.weight' ? { ...x, dims: [EMBD, 1], type: TensorType.F16, data: new Uint8Array(2 * EMBD) } : x)) }), pattern: /tensor output_norm\.weight is F16; a llama model's one-dimensional tensors must be F32/ },
  { name: 'norm-f16', make: (p) => writeSmallModel(p, { tensors: (t) => t.map((x) => (x.name === 'blk.1.ffn_norm.weight' ? { ...x, type: TensorType.F16, data: new Uint8Array(2 * EMBD) } : x)) }), pattern: /tensor blk\.1\.ffn_norm\.weight is F16; a llama model's one-dimensional tensors must be F32/ },
  { name: 'missing-tensor', make: (p) => writeSmallModel(p, { tensors: (t) => t.filter((x) => x.name !== 'blk.1.ffn_up.weight') }), pattern: /it has no tensor blk\.1\.ffn_up\.weight, which a llama model needs/ },
  // Tensor infos, edited in the bytes.
  ...[4, 5, 31, 43, 255].map((type): CorpusFile => ({
    name: `ggml-type-${type}`,
    make: bytesEdit((b, base) => { b.writeUInt32LE(type, tensor(base, 'output_norm.weight').type); }),
    pattern: new RegExp(`tensor output_norm\\.weight has ggml type ${type}, which llama\\.cpp does not know`),
  })),
  { name: 'q4_k-row', make: bytesEdit((b, base) => { b.writeUInt32LE(12, tensor(base, 'blk.0.attn_k.weight').type); }), pattern: /tensor blk\.0\.attn_k\.weight is Q4_K, which stores rows in blocks of 256, but its rows have 32 elements/ },
  { name: 'dimension-0', make: bytesEdit((b, base) => { b.writeBigUInt64LE(0n, tensor(base, 'blk.0.attn_q.weight').dims); }), pattern: /tensor blk\.0\.attn_q\.weight has shape \[0,32\]; every dimension must be at least 1/ },
  { name: 'dimension-huge', make: bytesEdit((b, base) => { b.writeBigUInt64LE(2n ** 40n, tensor(base, 'blk.0.attn_q.weight').dims + 8); }), pattern: /truncated: tensor blk\.0\.attn_q\.weight ends at byte \d+ but the file has \d+ bytes/ },
  { name: 'dimension-overflow', make: bytesEdit((b, base) => { const d = tensor(base, 'blk.0.attn_q.weight').dims; b.writeBigUInt64LE(2n ** 40n, d); b.writeBigUInt64LE(2n ** 40n, d + 8); }), pattern: /tensor blk\.0\.attn_q\.weight has shape \[1099511627776,1099511627776\], more elements than any file can hold/ },
  { name: 'offset-unaligned', make: bytesEdit((b, base) => { const t = tensor(base, 'output_norm.weight'); b.writeBigUInt64LE(BigInt(t.tensor.offset + 4), t.offset); }), pattern: /tensor output_norm\.weight starts at data offset \d+, not a multiple of the alignment \(32\)/ },
  { name: 'offset-overlap', make: bytesEdit((b, base) => { const t = tensor(base, 'output_norm.weight'); b.writeBigUInt64LE(BigInt(t.tensor.offset - 32), t.offset); }), pattern: /tensors token_embd\.weight and output_norm\.weight overlap/ },
  { name: 'offset-out-of-range', make: bytesEdit((b, base) => { b.writeBigUInt64LE(2n ** 40n, tensor(base, 'output_norm.weight').offset); }), pattern: /truncated: tensor output_norm\.weight ends at byte \d+ but the file has \d+ bytes/ },
  { name: 'offset-order', make: bytesEdit((b, base) => {
    // Two tensors of one size swap places: no overlap, but not where llama.cpp looks for them.
    const [q, o] = [tensor(base, 'blk.0.attn_q.weight'), tensor(base, 'blk.0.attn_output.weight')];
    b.writeBigUInt64LE(BigInt(o.tensor.offset), q.offset);
    b.writeBigUInt64LE(BigInt(q.tensor.offset), o.offset);
  }), pattern: /tensor blk\.0\.attn_q\.weight is at data offset \d+ where llama\.cpp expects \d+/ },
  { name: 'duplicate-tensor-name', make: bytesEdit((b, base) => { b.write('blk.0.attn_q', tensor(base, 'blk.0.attn_k.weight').name); }), pattern: /tensor blk\.0\.attn_q\.weight appears twice \(tensors 5 and 6\)/ },
  { name: 'n_dims-5', make: bytesEdit((b, base) => { b.writeUInt32LE(5, tensor(base, 'token_embd.weight').nDims); }), pattern: /tensor token_embd\.weight has 5 dimensions \(1 to 4 allowed\)/ },
  // Strings that are not UTF-8.
  { name: 'utf8-value', make: bytesEdit((b, base) => { b[stringValueAt(base, 'general.name')] = 0xff; }), pattern: /value of general\.name at byte \d+ is not valid UTF-8/ },
  { name: 'utf8-tensor-name', make: bytesEdit((b, base) => { b[tensor(base, 'output.weight').name] = 0xc3; }), pattern: /tensor name at byte \d+ is not valid UTF-8/ },
  // Huge counts: fail at once, without allocating what they claim.
  { name: 'huge-array', make: bytesEdit((b, base) => { b.writeBigUInt64LE(2n ** 60n, readGguf(base, { layout: true }).layout!.spans.get('tokenizer.ggml.tokens')!.start + 8 + 21 + 8); }), pattern: /length of tokenizer\.ggml\.tokens is 1152921504606846976, which cannot be right/ },
  { name: 'big-array', make: bytesEdit((b, base) => { b.writeBigUInt64LE(2n ** 40n, readGguf(base, { layout: true }).layout!.spans.get('tokenizer.ggml.tokens')!.start + 8 + 21 + 8); }), pattern: /array tokenizer\.ggml\.tokens claims 1099511627776 items; no model has more than 4194304/ },
  { name: 'huge-string', make: bytesEdit((b, base) => { b.writeBigUInt64LE(2n ** 40n, stringValueAt(base, 'general.name') - 8); }), pattern: /value of general\.name claims 1099511627776 bytes at byte \d+ but the file ends at \d+/ },
  { name: 'long-string', make: (path: string, base: string) => {
    // 65 MiB claimed, inside a (sparse) 70 MiB file: within the file, but more than we will hold in memory.
    bytesEdit((b) => { b.writeBigUInt64LE(65n << 20n, stringValueAt(base, 'general.name') - 8); })(path, base);
    truncateSync(path, 70 << 20);
  }, pattern: /value of general\.name at byte \d+ claims 68157440 bytes; no GGUF string is longer than 67108864/ },
  { name: 'huge-tensor-count', make: bytesEdit((b) => { b.writeBigUInt64LE(2n ** 40n, 8); }), pattern: /corrupt header: 19 metadata entries and 1099511627776 tensors cannot fit/ },
  // Truncated at many points: in the magic, the counts, the metadata, the tensor infos, the data.
  ...[2, 12, 40, 300, 1200, 2300, 2600, 20000, -1].map((at): CorpusFile => ({
    name: `truncated-${at < 0 ? 'last-byte' : at}`,
    make: bytesEdit((b) => b.subarray(0, at < 0 ? b.length - 1 : at)),
    pattern: /not a GGUF file \(only 2 bytes\)|truncated|corrupt header/,
  })),
];

/** The good base file, and every damaged one, written into `dir`. */
export async function writeCorpus(dir: string): Promise<{ base: string; files: (CorpusFile & { path: string })[] }> {
  const base = await writeSmallModel(join(dir, 'base.gguf'));
  const files = [];
  for (const c of CORPUS) {
    const path = join(dir, `${c.name}.gguf`);
    await c.make(path, base);
    files.push({ ...c, path });
  }
  return { base, files };
}
