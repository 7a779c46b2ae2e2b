import { UserError } from '../errors.js';
import { LLAMA3_JINJA, LLAMA3_V1_JINJA } from '../chat/officialTemplates.js';
import { decode, encode, llama3TokenizerKVs, TOKEN, VOCAB_SIZE } from '../gguf/llama3Vocab.js';
import { encodeF16, encodeF32, encodeQ8_0, Rng } from '../gguf/numbers.js';
import { type KV, TensorType, tensorBytes } from '../gguf/types.js';
import { kv, type TensorData, type TensorSpec, writeGguf } from '../gguf/writer.js';

export interface Shape {
  layers: number;
  embd: number;
  ff: number;
  heads: number;
  kvHeads: number;
  ctx: number;
  /** No output.weight: llama.cpp ties the output layer to token_embd (as Llama-3.2-1B does). */
  tied: boolean;
}

/** Real Llama-3 shapes (1b = Llama-3.2-1B, 8b = Llama-3-8B) and a tiny one for tests. */
export const SHAPES: Record<string, Shape> = {
  tiny: { layers: 2, embd: 64, ff: 128, heads: 4, kvHeads: 2, ctx: 8192, tied: false },
  '1b': { layers: 16, embd: 2048, ff: 8192, heads: 32, kvHeads: 8, ctx: 8192, tied: true },
  '8b': { layers: 32, embd: 4096, ff: 14336, heads: 32, kvHeads: 8, ctx: 8192, tied: false },
};

export type StopKind = 'eot' | 'end_of_text';
export type WeightType = 'f16' | 'q8_0';

export interface SynthOptions {
  preset: string;
  type: WeightType;
  seed: number;
  /** Scripted model: the exact greedy reply to any chat prompt. */
  reply?: string;
  /**
   * Scripted model: prompts that contain the one-token word `when` get `reply` instead of the default reply,
   * so concurrent requests can each expect their own answer.
   */
  routes?: Route[];
  stop: StopKind;
  /** After the stop token, go on with a new assistant header, as mis-configured models do. */
  leak?: boolean;
  name?: string;
  /** rope_theta; Llama-3's is 500000. */
  ropeFreqBase?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** Logit of the programmed successor; every other token gets 0, so greedy decoding (and most sampling) follows the script. */
const SCRIPT_LOGIT = 40;

export interface Route {
  when: string;
  reply: string;
}

export interface Script {
  /** Tokens with a programmed successor, in chain order. */
  chain: number[];
  successor: Map<number, number>;
  /** Per route: its trigger token and the first token of its reply. */
  routes: Array<{ trigger: number; first: number }>;
}

/**
 * The successor table of a scripted model: "\n\n" (end of the generation prompt) → reply tokens → stop token,
 * and with `leak`: stop → <|start_header_id|> assistant <|end_header_id|> "\n\n" (which loops into the reply).
 * The model's next token depends only on the current token, so each token can have one successor only.
 */
export function planScript(reply: string, stop: StopKind, leak = false, routes: Route[] = []): Script {
  if (!reply) throw new UserError('--reply must not be empty');
  const stopId = stop === 'eot' ? TOKEN.EOT : TOKEN.END_OF_TEXT;
  const replyTokens = encode(reply);
  const chain = [TOKEN.BLANK_LINE, ...replyTokens];
  const next = [...replyTokens, stopId];
  if (leak) {
    chain.push(stopId, TOKEN.START_HEADER, TOKEN.ASSISTANT, TOKEN.END_HEADER);
    next.push(TOKEN.START_HEADER, TOKEN.ASSISTANT, TOKEN.END_HEADER, TOKEN.BLANK_LINE);
  }
  const planned: Script['routes'] = [];
  for (const r of routes) {
    const trigger = encode(r.when);
    if (trigger.length !== 1) throw new UserError(`a route's word must be one token; "${r.when}" is ${trigger.length}`);
    const toks = encode(r.reply);
    if (toks.length === 0) throw new UserError(`the reply for "${r.when}" must not be empty`);
    planned.push({ trigger: trigger[0], first: toks[0] });
    chain.push(...toks);
    next.push(...toks.slice(1), stopId);
  }
  const successor = new Map<number, number>();
  chain.forEach((t, i) => {
    const prev = successor.get(t);
    if (prev !== undefined && prev !== next[i]) {
      const shown = JSON.stringify(decode([t]));
      throw new UserError(
        `a scripted model cannot say this reply: the token ${shown} (id ${t}) appears twice and would need two different next tokens. ` +
        'Rephrase the replies so that no token repeats (and none contains a blank line).',
      );
    }
    successor.set(t, next[i]);
  });
  for (const r of planned) {
    if (successor.has(r.trigger)) throw new UserError(`a route's word must not appear in any reply ("${decode([r.trigger])}" does)`);
  }
  return { chain: [...successor.keys()], successor, routes: planned };
}

/** A tensor as a stream of random bytes of the right layout: cheap to make, even for an 8B model. */
function randomData(type: number, elements: number, rng: Rng): TensorData {
  return async (write) => {
    const CHUNK_BLOCKS = 1 << 17;
    if (type === TensorType.Q8_0) {
      const blocks = elements / 32;
      const scale = 0x0ce8; // f16 ≈ 0.0003: weights with std ≈ 0.02
      for (let b = 0; b < blocks; b += CHUNK_BLOCKS) {
        const n = Math.min(CHUNK_BLOCKS, blocks - b);
        const buf = Buffer.alloc(n * 34);
        const words = new Uint32Array(8);
        for (let i = 0; i < n; i++) {
          buf.writeUInt16LE(scale, i * 34);
          rng.fill(words);
          Buffer.from(words.buffer).copy(buf, i * 34 + 2);
        }
        await write(buf);
      }
    } else if (type === TensorType.F16) {
      const CHUNK = 1 << 21;
      for (let e = 0; e < elements; e += CHUNK) {
        const n = Math.min(CHUNK, elements - e);
        const out = new Uint16Array(n);
        for (let i = 0; i < n; i++) {
          const r = rng.nextU32();
          out[i] = (r & 0x83ff) | ((6 + ((r >>> 10) & 3)) << 10); // |w| in [2^-9, 2^-5)
        }
        await write(new Uint8Array(out.buffer));
      }
    } else {
      throw new Error(`no random data for tensor type ${type}`);
    }
  };
}

/**
 * Routes by attention. "\n\n" carries a query marker Q and each trigger word a key marker K, on the slowest
 * RoPE pair of head 0 (so position hardly matters): at the end of the prompt, head 0 attends almost only to
 * the trigger, copies its axis T_r into the value and writes it to the reply axis R_r, whose output row
 * scores the route's first reply token above the default one. Other positions have no query, attend
 * evenly and bring little. Every other token's embedding is cleared on these axes so they cannot interfere.
 */
function routeAttention(script: Script, shape: Shape, emb: Float32Array, outW: Float32Array): Record<string, Float32Array> {
  const { embd, heads, kvHeads } = shape;
  const hd = embd / heads;
  const kvDim = hd * kvHeads;
  const n = script.routes.length;
  const Q = script.chain.length;
  const K = Q + 1;
  const T = (r: number) => Q + 2 + r;
  const R = (r: number) => Q + 2 + n + r;
  const reserved = Array.from({ length: 2 + 2 * n }, (_, i) => Q + i);
  for (let t = 0; t < VOCAB_SIZE; t++) for (const a of reserved) emb[t * embd + a] = 0;
  emb[TOKEN.BLANK_LINE * embd + Q] = 1;
  // A two-hot embedding normalises to sqrt(embd/2) per axis.
  const half = Math.sqrt(embd / 2);
  const SCORE = 30;
  // At "\n\n" the reply axis reaches GAIN against 1 on its own axis: the route's first token beats the default
  // by ~16 logits. Elsewhere attention is even, so a trigger brings GAIN/positions: in a prompt of 4 or more
  // tokens at most 0.5, which leaves the programmed next token ~18 logits ahead.
  const GAIN = 2;
  const wqk = Math.sqrt((SCORE * Math.sqrt(hd)) / (half * half));
  const q = new Float32Array(embd * embd);
  const k = new Float32Array(embd * kvDim);
  const v = new Float32Array(embd * kvDim);
  const o = new Float32Array(embd * embd);
  q[(hd - 2) * embd + Q] = wqk;
  k[(hd - 2) * embd + K] = wqk;
  script.routes.forEach((route, r) => {
    emb.fill(0, route.trigger * embd, (route.trigger + 1) * embd);
    emb[route.trigger * embd + K] = 1;
    emb[route.trigger * embd + T(r)] = 1;
    v[r * embd + T(r)] = 1 / half;
    o[R(r) * embd + r] = GAIN;
    outW[route.first * embd + R(r)] = SCRIPT_LOGIT / Math.sqrt(embd);
  });
  return { q, k, v, o };
}

function encodeAs(type: number, values: Float32Array): Uint8Array {
  if (type === TensorType.F32) return encodeF32(values);
  if (type === TensorType.F16) return encodeF16(values);
  return encodeQ8_0(values);
}

/** Write a Llama-architecture GGUF with the real Llama-3 tokenizer: random weights, or a scripted model. */
export async function synthModel(out: string, o: SynthOptions): Promise<{ shape: Shape; script?: Script }> {
  const base = SHAPES[o.preset];
  if (!base) throw new UserError(`unknown preset "${o.preset}"; choose one of: ${Object.keys(SHAPES).join(', ')}`);
  if (o.type !== 'f16' && o.type !== 'q8_0') throw new UserError(`unknown --type "${o.type}"; choose f16 or q8_0`);
  if (o.routes?.length && o.reply === undefined) throw new UserError('routes need a default --reply too');
  const script = o.reply !== undefined ? planScript(o.reply, o.stop, o.leak, o.routes) : undefined;
  const shape = { ...base };
  // Axes: one per scripted token, then (with routes) the query and key markers, a trigger axis and a reply axis per route.
  const axes = script ? script.chain.length + (script.routes.length ? 2 + 2 * script.routes.length : 0) : 0;
  if (axes > shape.embd) {
    // Each scripted token gets its own embedding axis, so the width grows with the script.
    if (o.preset !== 'tiny') throw new UserError(`the script needs ${axes} axes, more than the ${o.preset} width of ${shape.embd}; use --preset tiny`);
    if (axes > 1024) throw new UserError(`the script is ${axes} tokens; a scripted model takes at most 1024`);
    shape.embd = Math.ceil(axes / 64) * 64;
  }
  if (script && script.routes.length > shape.embd / shape.heads) {
    throw new UserError(`at most ${shape.embd / shape.heads} routes fit this model (got ${script.routes.length})`);
  }
  const wtype = o.type === 'f16' ? TensorType.F16 : TensorType.Q8_0;
  const rng = new Rng(o.seed);
  const { layers, embd, ff, heads, kvHeads } = shape;
  const kvDim = (embd / heads) * kvHeads;

  const ones = (n: number) => encodeF32(new Float32Array(n).fill(1));
  const zeros = (n: number, type: number) => new Uint8Array(tensorBytes(type, [n])!);
  const matrix = (name: string, cols: number, rows: number, data?: TensorData): TensorSpec =>
    ({ name, dims: [cols, rows], type: wtype, data: data ?? (script ? zeros(cols * rows, wtype) : randomData(wtype, cols * rows, rng)) });

  const tensors: TensorSpec[] = [];
  /** Layer-0 attention weights that carry a route's trigger to the end of the prompt (see routeAttention). */
  let routed: Record<string, Float32Array> | undefined;
  if (script) {
    const emb = new Float32Array(embd * VOCAB_SIZE);
    for (let i = 0; i < emb.length; i++) emb[i] = rng.uniform(1);
    const outW = new Float32Array(embd * VOCAB_SIZE);
    script.chain.forEach((t, axis) => {
      emb.fill(0, t * embd, (t + 1) * embd);
      emb[t * embd + axis] = 1;
      // RMSNorm turns a one-hot embedding into sqrt(embd) on its axis; this row scores SCRIPT_LOGIT there.
      outW[script.successor.get(t)! * embd + axis] = SCRIPT_LOGIT / Math.sqrt(embd);
    });
    if (script.routes.length) routed = routeAttention(script, shape, emb, outW);
    tensors.push({ name: 'token_embd.weight', dims: [embd, VOCAB_SIZE], type: wtype, data: encodeAs(wtype, emb) });
    tensors.push({ name: 'output_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    tensors.push({ name: 'output.weight', dims: [embd, VOCAB_SIZE], type: wtype, data: encodeAs(wtype, outW) });
  } else {
    tensors.push(matrix('token_embd.weight', embd, VOCAB_SIZE));
    tensors.push({ name: 'output_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    if (!shape.tied) tensors.push(matrix('output.weight', embd, VOCAB_SIZE));
  }
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}.`;
    tensors.push({ name: p + 'attn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    const r = l === 0 ? routed : undefined;
    const given = (w: Float32Array | undefined) => (w ? encodeAs(wtype, w) as TensorData : undefined);
    tensors.push(matrix(p + 'attn_q.weight', embd, embd, given(r?.q)));
    tensors.push(matrix(p + 'attn_k.weight', embd, kvDim, given(r?.k)));
    tensors.push(matrix(p + 'attn_v.weight', embd, kvDim, given(r?.v)));
    // Scripted: zero attention output and FFN down, so the residual stream is the current token's embedding
    // (plus, with routes, what layer 0's first head brings from a trigger word).
    tensors.push(matrix(p + 'attn_output.weight', embd, embd, given(r?.o)));
    tensors.push({ name: p + 'ffn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    tensors.push(matrix(p + 'ffn_gate.weight', embd, ff));
    tensors.push(matrix(p + 'ffn_up.weight', embd, ff));
    tensors.push(matrix(p + 'ffn_down.weight', ff, embd));
  }

  const eos = o.stop === 'eot' ? TOKEN.EOT : TOKEN.END_OF_TEXT;
  const name = o.name ?? `llama3-zh synthetic ${o.preset}${script ? ' (scripted)' : ''}`;
  const metadata: KV[] = [
    kv.str('general.architecture', 'llama'),
    kv.str('general.type', 'model'),
    kv.str('general.name', name),
    kv.u32('general.file_type', o.type === 'f16' ? 1 : 7),
    kv.u32('general.alignment', 32),
    kv.u32('llama.context_length', shape.ctx),
    kv.u32('llama.embedding_length', embd),
    kv.u32('llama.block_count', layers),
    kv.u32('llama.feed_forward_length', ff),
    kv.u32('llama.attention.head_count', heads),
    kv.u32('llama.attention.head_count_kv', kvHeads),
    kv.u32('llama.rope.dimension_count', embd / heads),
    kv.f32('llama.rope.freq_base', o.ropeFreqBase ?? 500000),
    kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    kv.u32('llama.vocab_size', VOCAB_SIZE),
    ...llama3TokenizerKVs(),
    kv.u32('tokenizer.ggml.eos_token_id', eos),
    kv.bool('tokenizer.ggml.add_bos_token', true),
    kv.str('tokenizer.chat_template', o.stop === 'eot' ? LLAMA3_JINJA : LLAMA3_V1_JINJA),
  ];
  if (script) metadata.push(kv.str('llama3zh.script.reply', o.reply!), kv.bool('llama3zh.script.leak', !!o.leak));

  const total = tensors.reduce((s, t) => s + tensorBytes(t.type, t.dims)!, 0);
  let done = 0;
  const tracked = tensors.map((t) => ({
    ...t,
    data: (async (write: (c: Uint8Array) => Promise<void>) => {
      const w = async (c: Uint8Array) => { await write(c); done += c.length; o.onProgress?.(done, total); };
      if (typeof t.data === 'function') await t.data(w);
      else await w(t.data);
    }) as TensorData,
  }));
  await writeGguf(out, metadata, tracked);
  return { shape, script };
}
