import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { countParams, LINEAR_MODULES, shapeFromParams } from '../../src/estimate/shape.js';
import {
  estimateTraining, extraParams, FRAMEWORK_OVERHEAD, loraParams, parseExtras, parseMethod, parseTargets, TRAINING_DEFAULTS, type TrainingOptions,
} from '../../src/estimate/training.js';

const s8 = shapeFromParams('8b');
const all = [...LINEAR_MODULES];
const opts = (o: Partial<TrainingOptions>): TrainingOptions => ({ method: 'lora', ...TRAINING_DEFAULTS, extra: [], dpo: false, ...o });
const group = (e: ReturnType<typeof estimateTraining>, g: string) => e.terms.filter((t) => t.group === g).reduce((n, t) => n + t.bytes, 0);

test('LoRA trainable parameters are r·(in+out) per adapted matrix, exactly', () => {
  const r128 = loraParams(s8, 128, all);
  assert.equal(r128.total, 335_544_320);
  assert.equal(r128.formula, '128 × Σ(in+out) over q,k,v,o,gate,up,down = 128 × 81,920 × 32 layers = 335,544,320');
  assert.equal(loraParams(s8, 8, all).total, 20_971_520);
  // q and v only on Llama-2-7B (no GQA): 8 × (4096+4096) × 2 × 32.
  assert.equal(loraParams(shapeFromParams('7b'), 8, ['q', 'v']).total, 4_194_304);
  // Mixtral: each expert's gate/up/down gets its own adapter.
  assert.equal(loraParams(shapeFromParams('8x7b'), 8, ['gate']).total, 8 * (4096 + 14336) * 8 * 32);
});

test("shareAI's DPO recipe: rank 128 on all linear layers + lm_head and the norms", () => {
  const extra = parseExtras('lm_head,norms');
  assert.deepEqual(extra, ['lm_head', 'input_layernorm', 'post_attention_layernorm', 'norm']);
  // The README's own spelling works too.
  assert.deepEqual(parseExtras('lm_head, input_layernorm, post_attention_layernorm, norm'), extra);
  assert.equal(extraParams(s8, extra).total, 525_336_576 + 2 * 32 * 4096 + 4096);
  const e = estimateTraining(s8, opts({ loraRank: 128, loraTargets: parseTargets('all'), extra, dpo: true }));
  assert.equal(e.trainable, 861_147_136);
  assert.match(e.trainableFormula, /= 335,544,320; \+ lm_head 128256×4096 \+ .* = 525,602,816; trainable = 861,147,136$/);
  // LoRA DPO: the reference is the base with adapters off, so the weights are the base plus the trainable copies only.
  assert.equal(group(e, 'weights'), 2 * 8_030_261_248 + 4 * 861_147_136);
  assert.equal(group(e, 'gradients'), 4 * 861_147_136);
  assert.equal(group(e, 'optimizer'), 8 * 861_147_136);
  assert.ok(e.assumptions.some((a) => /adapters switched off, so no second copy/.test(a)));
  // Chosen + rejected: exactly twice the activations of the same run without DPO.
  const sft = estimateTraining(s8, opts({ loraRank: 128, extra }));
  assert.equal(group(e, 'activations'), 2 * group(sft, 'activations'));
});

test('bytes per parameter by method', () => {
  const P = 8_030_261_248;
  const amp = estimateTraining(s8, opts({ method: 'full-amp' }));
  assert.equal(group(amp, 'weights') + group(amp, 'gradients') + group(amp, 'optimizer'), 18 * P); // 4 master + 2 copy + 4 grad + 8 Adam
  const f16 = estimateTraining(s8, opts({ method: 'full-16' }));
  assert.equal(group(f16, 'weights') + group(f16, 'gradients') + group(f16, 'optimizer'), 8 * P);
  const lora = estimateTraining(s8, opts({}));
  assert.equal(group(lora, 'weights'), 2 * P + 4 * 20_971_520);
  const p = countParams(s8);
  const q4 = estimateTraining(s8, opts({ method: 'qlora-4' }));
  const quantized = p.linear;
  assert.equal(group(q4, 'weights'), quantized / 2 + quantized / 64 + (4 * quantized) / (64 * 256) + 2 * (P - quantized) + 4 * 20_971_520);
  const q8 = estimateTraining(s8, opts({ method: 'qlora-8' }));
  const rows = 32 * (4096 + 1024 + 1024 + 4096 + 14336 + 14336 + 4096);
  assert.equal(group(q8, 'weights'), quantized + 4 * rows + 2 * (P - quantized) + 4 * 20_971_520);
  // A full DPO run needs its reference model as a frozen bf16 copy.
  const ampDpo = estimateTraining(s8, opts({ method: 'full-amp', dpo: true }));
  assert.equal(group(ampDpo, 'weights'), group(amp, 'weights') + 2 * P);
  for (const e of [amp, f16, lora, q4, q8]) assert.equal(group(e, 'overhead'), FRAMEWORK_OVERHEAD);
});

test('activations: checkpoints, one layer, and the fp32 logits over the 128K vocabulary', () => {
  const e = estimateTraining(s8, opts({ seq: 1024 }));
  const byLabel = Object.fromEntries(e.terms.map((t) => [t.label, t.bytes]));
  assert.equal(byLabel['layer inputs kept by gradient checkpointing'], 32 * 1024 * 4096 * 2);
  assert.equal(byLabel['logits and loss over the vocabulary'], 1024 * 128256 * 14);
  // For Llama-3 the logits are the largest activation term.
  const acts = e.terms.filter((t) => t.group === 'activations').sort((a, b) => b.bytes - a.bytes);
  assert.equal(acts[0].label, 'logits and loss over the vocabulary');
  // They scale with batch × seq.
  const e4 = estimateTraining(s8, opts({ batch: 2, seq: 2048 }));
  assert.equal(group(e4, 'activations'), 4 * group(e, 'activations'));
});

test('method, target and module names are checked', () => {
  assert.equal(parseMethod('QLoRA-4'), 'qlora-4');
  assert.throws(() => parseMethod('sgd'), (e: unknown) => e instanceof UserError && /unknown --method "sgd"; choose one of: full-amp, full-16, lora, qlora-8, qlora-4/.test(e.message));
  assert.deepEqual(parseTargets('q_proj,v_proj'), ['q', 'v']);
  assert.deepEqual(parseTargets('attn'), ['q', 'k', 'v', 'o']);
  assert.deepEqual(parseTargets('down,mlp'), ['gate', 'up', 'down']);
  assert.throws(() => parseTargets('qkv'), /unknown LoRA target "qkv"/);
  assert.throws(() => parseTargets(' , '), /--lora-targets is empty/);
  assert.throws(() => parseExtras('lm_head,wte'), /unknown module "wte" in --train-extra/);
});
