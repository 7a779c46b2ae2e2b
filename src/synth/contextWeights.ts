import { UserError } from '../errors.js';
import { VOCAB_SIZE } from '../gguf/llama3Vocab.js';
import { TensorType } from '../gguf/types.js';
import type { TensorSpec } from '../gguf/writer.js';
import { axesOf, type ContextPlan } from './context.js';
import { encodeAs } from './encode.js';
import type { Shape } from './model.js';
import { SCRIPT_LOGIT } from './script.js';

/**
 * The weights of a context-construction model (plan: context.ts). One layer; the residual stream's axes:
 *   bias (1 on every token) | current token's code | one axis per route word | a code slot per offset head |
 *   route slot (none, route 0, 1, …) | one output axis per programmed next token.
 * Every embedding is the bias plus one unit vector (a code, or a route word's axis), and attention writes one
 * unit vector into each slot, so the residual norm is the same at every position and RMSNorm scales all alike.
 *
 * Offset head h sees exactly the token offsets[h] back by RoPE alone: q and k read only the bias axis, k is
 * (1, 0) on every RoPE pair and q is rotated by −d·ω_j, so the score Σ_j cos(ω_j(Δ − d)) peaks at Δ = d only
 * (with Llama-3's base 500000 the next best, Δ = d ± 1, is 0.58 lower; scaled to OFFSET_MARGIN logits). Its value
 * is the token's code. The route head (the other KV group) scores route words only, later routes higher, on
 * RoPE's slowest pair so that distance hardly matters; its value is the route's axis, and "none" for every
 * other token, so a prompt without a route word averages to exactly "none".
 * FFN unit u (SwiGLU, the bias axis as constant) fires when its checks all match and writes its value onto the
 * output axis of its next token; output.weight turns that axis into SCRIPT_LOGIT.
 */

const HD = 32;
const PAIRS = HD / 2;
const EPS = 1e-5;
/** Logits by which an offset head prefers its offset to any other position. */
const OFFSET_MARGIN = 14;
/** The gate of a unit that misses a check stays at or below −GATE_MARGIN: silu ≈ −1e-5. */
const GATE_MARGIN = 14;
/** Route word scores: above every other token's 0 by far, and each route ROUTE_STEP above the one listed before it. */
const ROUTE_SCORE = 40;
const ROUTE_STEP = 15;
const ROUTE_QUERY = 8;

const silu = (x: number) => x / (1 + Math.exp(-x));
/** RMSNorm's factor for a vector of squared norm n2 in `embd` dimensions. */
const rms = (n2: number, embd: number) => 1 / Math.sqrt(n2 / embd + EPS);

export function contextTensors(plan: ContextPlan, o: { type: number; ropeBase: number; ctx: number }): { shape: Shape; tensors: TensorSpec[] } {
  const C = plan.book.width;
  const K = plan.offsets.length;
  const R = plan.triggers.length;
  const embd = Math.max(64, Math.ceil(axesOf(plan) / 32) * 32);
  const BIAS = 0;
  const CUR = 1;
  const TRIG = CUR + C;
  const SLOT = TRIG + R;
  const ROUTE = SLOT + K * C;
  const OUT = ROUTE + (R ? R + 1 : 0);
  const group = Math.max(K, 1);
  const heads = 2 * group;
  const ff = Math.max(32, Math.ceil(plan.units.length / 32) * 32);
  const other = plan.book.codes[plan.tokens.length];

  // Embeddings: the bias and a code; route words their own axis instead.
  const emb = new Float32Array(embd * VOCAB_SIZE);
  const put = (t: number, code: Float32Array) => { emb[t * embd + BIAS] = 1; emb.set(code, t * embd + CUR); };
  for (let t = 0; t < VOCAB_SIZE; t++) put(t, other);
  plan.tokens.forEach((t, i) => put(t, plan.book.codes[i]));
  plan.triggers.forEach((t, r) => { emb.fill(0, t * embd, (t + 1) * embd); emb[t * embd + BIAS] = 1; emb[t * embd + TRIG + r] = 1; });

  // Layer 0 attention reads the embedding, norm² 2: each unit axis becomes b.
  const b = rms(2, embd);
  const omega = Array.from({ length: PAIRS }, (_, j) => o.ropeBase ** (-2 * j / HD));
  const gap = PAIRS - secondBest(omega, Math.max(1, ...plan.offsets), o.ctx);
  const amp = Math.sqrt((OFFSET_MARGIN * Math.sqrt(HD)) / gap);
  const slow = omega[PAIRS - 1];
  if (R && Math.cos(slow * o.ctx) < 0.99) throw new UserError(`routes need a RoPE base of 100000 or more (got ${o.ropeBase})`);
  const q = new Float32Array(heads * HD * embd);
  const k = new Float32Array(2 * HD * embd);
  const v = new Float32Array(2 * HD * embd);
  const wo = new Float32Array(embd * heads * HD);
  plan.offsets.forEach((d, h) => {
    for (let j = 0; j < PAIRS; j++) {
      q[(h * HD + 2 * j) * embd + BIAS] = (amp * Math.cos(d * omega[j])) / b;
      q[(h * HD + 2 * j + 1) * embd + BIAS] = (-amp * Math.sin(d * omega[j])) / b;
    }
    for (let i = 0; i < C; i++) wo[(SLOT + h * C + i) * heads * HD + h * HD + i] = 1;
  });
  for (let j = 0; j < PAIRS; j++) k[2 * j * embd + BIAS] = amp / b;
  for (let i = 0; i < C; i++) {
    v[i * embd + CUR + i] = 1 / b;
    for (let r = 0; r < R; r++) v[i * embd + TRIG + r] = other[i] / b; // a route word is "other" to the offset heads
  }
  if (R) {
    const head = group; // the first head of KV group 1
    q[(head * HD + HD - 2) * embd + BIAS] = ROUTE_QUERY / b;
    v[HD * embd + BIAS] = 1 / b; // "none"
    for (let r = 0; r < R; r++) {
      const score = ROUTE_SCORE + ROUTE_STEP * r;
      k[(HD + HD - 2) * embd + TRIG + r] = (score * Math.sqrt(HD)) / ROUTE_QUERY / b;
      v[HD * embd + TRIG + r] = -1 / b;
      v[(HD + 1 + r) * embd + TRIG + r] = 1 / b;
    }
    for (let i = 0; i <= R; i++) wo[(ROUTE + i) * heads * HD + head * HD + i] = 1;
  }

  // FFN: the residual holds the embedding, K slots and the route slot, each of norm 1.
  const c = rms(2 + K + (R ? 1 : 0), embd);
  const mu = 0.5 - plan.book.maxDot;
  const beta = GATE_MARGIN / (c * mu);
  const fired = silu(c * beta * 0.5);
  const gate = new Float32Array(ff * embd);
  const up = new Float32Array(ff * embd);
  const down = new Float32Array(embd * ff);
  plan.units.forEach((u, n) => {
    const row = n * embd;
    for (const ch of u.checks) {
      const at = ch.slot < 0 ? CUR : SLOT + ch.slot * C;
      const code = plan.book.codes[ch.code];
      for (let i = 0; i < C; i++) gate[row + at + i] = beta * code[i];
    }
    // The route slot holds one route's axis: the sum over the unit's routes is 1 under one of them, else 0.
    const checks = u.checks.length + (u.routes ? 1 : 0);
    for (const r of u.routes ?? []) gate[row + ROUTE + r + 1] = beta;
    gate[row + BIAS] = -beta * (checks - 0.5);
    up[row + BIAS] = u.value / (fired * c);
    down[(OUT + u.out) * ff + n] = 1;
  });

  // Output: one unit's value 1 on its axis scores SCRIPT_LOGIT.
  const cf = rms(3 + K + (R ? 1 : 0), embd);
  const outW = new Float32Array(embd * VOCAB_SIZE);
  plan.outs.forEach((t, i) => { outW[t * embd + OUT + i] = SCRIPT_LOGIT / cf; });

  const big = o.type;
  const f16 = TensorType.F16;
  const ones = (n: number): TensorSpec['data'] => encodeAs(TensorType.F32, new Float32Array(n).fill(1));
  const tensors: TensorSpec[] = [
    { name: 'token_embd.weight', dims: [embd, VOCAB_SIZE], type: big, data: encodeAs(big, emb) },
    { name: 'output_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) },
    { name: 'output.weight', dims: [embd, VOCAB_SIZE], type: big, data: encodeAs(big, outW) },
    { name: 'blk.0.attn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) },
    // Small matrices stay f16 in a q8_0 file: Q8_0's shared block scale would blur the gates' thresholds.
    { name: 'blk.0.attn_q.weight', dims: [embd, heads * HD], type: f16, data: encodeAs(f16, q) },
    { name: 'blk.0.attn_k.weight', dims: [embd, 2 * HD], type: f16, data: encodeAs(f16, k) },
    { name: 'blk.0.attn_v.weight', dims: [embd, 2 * HD], type: f16, data: encodeAs(f16, v) },
    { name: 'blk.0.attn_output.weight', dims: [heads * HD, embd], type: f16, data: encodeAs(f16, wo) },
    { name: 'blk.0.ffn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) },
    { name: 'blk.0.ffn_gate.weight', dims: [embd, ff], type: f16, data: encodeAs(f16, gate) },
    { name: 'blk.0.ffn_up.weight', dims: [embd, ff], type: f16, data: encodeAs(f16, up) },
    { name: 'blk.0.ffn_down.weight', dims: [ff, embd], type: f16, data: encodeAs(f16, down) },
  ];
  return { shape: { layers: 1, embd, ff, heads, kvHeads: 2, ctx: o.ctx, tied: false, headDim: HD }, tensors };
}

/** The highest offset-head score sum Σ_j cos(ω_j x) at any other distance a head can see (x = Δ − d ≠ 0). */
function secondBest(omega: number[], maxOffset: number, ctx: number): number {
  let best = -Infinity;
  for (let x = -maxOffset; x <= ctx; x++) {
    if (x === 0) continue;
    let f = 0;
    for (const w of omega) f += Math.cos(w * x);
    if (f > best) best = f;
  }
  return best;
}
