import { UserError } from '../errors.js';
import { decode, encode, TOKEN, VOCAB_SIZE } from '../gguf/llama3Vocab.js';
import { encodeF32, type Rng } from '../gguf/numbers.js';
import { TensorType, tensorBytes } from '../gguf/types.js';
import type { TensorData, TensorSpec } from '../gguf/writer.js';
import { encodeAs } from './encode.js';
import type { Shape, StopKind } from './model.js';

/**
 * The first scripted models: one embedding axis per scripted token, so the next token depends only on the
 * current one. Models whose replies repeat no token are still made this way, byte for byte (tests such as
 * test/helpers/models.ts redirectLora depend on the axis layout); the others are made by context.ts.
 */
/** Logit of the programmed successor; every other token gets 0, so greedy decoding (and most sampling) follows the script. */
export const SCRIPT_LOGIT = 40;

/** What this construction cannot say: context.ts can. */
export class RepeatedToken extends UserError {}

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
      throw new RepeatedToken(
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

/**
 * Routes by attention. "\n\n" carries a query marker Q and each trigger word a key marker K, on the slowest
 * RoPE pair of head 0 (so position hardly matters): at the end of the prompt, head 0 attends almost only to
 * the trigger, copies its axis T_r into the value and writes it to the reply axis R_r, whose output row
 * scores the route's first reply token above the default one. Other positions have no query, attend
 * evenly and bring little. Every other token's embedding is cleared on these axes so they cannot interfere.
 */
export function routeAttention(script: Script, shape: Shape, emb: Float32Array, outW: Float32Array): Record<string, Float32Array> {
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

/** The tensors of a one-axis-per-token model: the embedding and output rows of the script, layer 0's route head. */
export function scriptTensors(script: Script, shape: Shape, wtype: number, rng: Rng): TensorSpec[] {
  const { layers, embd, ff, heads, kvHeads } = shape;
  const kvDim = (embd / heads) * kvHeads;
  const ones = (n: number) => encodeF32(new Float32Array(n).fill(1));
  const zeros = (n: number, type: number) => new Uint8Array(tensorBytes(type, [n])!);
  const matrix = (name: string, cols: number, rows: number, data?: TensorData): TensorSpec =>
    ({ name, dims: [cols, rows], type: wtype, data: data ?? zeros(cols * rows, wtype) });
  const emb = new Float32Array(embd * VOCAB_SIZE);
  for (let i = 0; i < emb.length; i++) emb[i] = rng.uniform(1);
  const outW = new Float32Array(embd * VOCAB_SIZE);
  script.chain.forEach((t, axis) => {
    emb.fill(0, t * embd, (t + 1) * embd);
    emb[t * embd + axis] = 1;
    // RMSNorm turns a one-hot embedding into sqrt(embd) on its axis; this row scores SCRIPT_LOGIT there.
    outW[script.successor.get(t)! * embd + axis] = SCRIPT_LOGIT / Math.sqrt(embd);
  });
  /** Layer-0 attention weights that carry a route's trigger to the end of the prompt (see routeAttention). */
  const routed = script.routes.length ? routeAttention(script, shape, emb, outW) : undefined;
  const tensors: TensorSpec[] = [
    { name: 'token_embd.weight', dims: [embd, VOCAB_SIZE], type: wtype, data: encodeAs(wtype, emb) },
    { name: 'output_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) },
    { name: 'output.weight', dims: [embd, VOCAB_SIZE], type: wtype, data: encodeAs(wtype, outW) },
  ];
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}.`;
    tensors.push({ name: p + 'attn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    const r = l === 0 ? routed : undefined;
    const given = (w: Float32Array | undefined) => (w ? encodeAs(wtype, w) as TensorData : undefined);
    tensors.push(matrix(p + 'attn_q.weight', embd, embd, given(r?.q)));
    tensors.push(matrix(p + 'attn_k.weight', embd, kvDim, given(r?.k)));
    tensors.push(matrix(p + 'attn_v.weight', embd, kvDim, given(r?.v)));
    // Zero attention output and FFN down, so the residual stream is the current token's embedding
    // (plus, with routes, what layer 0's first head brings from a trigger word).
    tensors.push(matrix(p + 'attn_output.weight', embd, embd, given(r?.o)));
    tensors.push({ name: p + 'ffn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    tensors.push(matrix(p + 'ffn_gate.weight', embd, ff));
    tensors.push(matrix(p + 'ffn_up.weight', embd, ff));
    tensors.push(matrix(p + 'ffn_down.weight', ff, embd));
  }
  return tensors;
}
