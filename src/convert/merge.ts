/**
 * Merging a PEFT LoRA into the base weights while converting, as PEFT's merge_and_unload does:
 * W ← W + scale·B·A in f32 (scale = alpha/r, or alpha/√r with use_rslora), on the Hugging Face layout before
 * the converter permutes q/k rows; modules_to_save replace their tensors whole. Also the shape checks both the
 * merge and the runtime-LoRA conversion make before anything is written.
 */
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { TensorHook } from './convert.js';
import type { LlamaShape } from './hfModel.js';
import { ADAPTER_CONFIG, adapterValues, type LoraPair, type PeftAdapter } from './peft.js';

export type { TensorHook };

/** What the shape checks need of the base model: core's LlamaShape, or adapterBaseShape from config.json alone. */
export type AdapterBaseShape = Pick<LlamaShape, 'nLayer' | 'nEmbd' | 'nHead' | 'nHeadKv' | 'headDim' | 'nFf' | 'vocabSize' | 'tied'>;

/** The base model's Hugging Face tensor shapes ([rows, cols] as in the checkpoint), by name. */
export function baseTensorShapes(s: AdapterBaseShape): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [s.vocabSize, s.nEmbd]);
  m.set('model.norm.weight', [s.nEmbd]);
  if (!s.tied) m.set('lm_head.weight', [s.vocabSize, s.nEmbd]);
  const q = s.nHead * s.headDim;
  const kv = s.nHeadKv * s.headDim;
  for (let i = 0; i < s.nLayer; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [s.nEmbd]);
    m.set(`${p}post_attention_layernorm.weight`, [s.nEmbd]);
    m.set(`${p}self_attn.q_proj.weight`, [q, s.nEmbd]);
    m.set(`${p}self_attn.k_proj.weight`, [kv, s.nEmbd]);
    m.set(`${p}self_attn.v_proj.weight`, [kv, s.nEmbd]);
    m.set(`${p}self_attn.o_proj.weight`, [s.nEmbd, q]);
    m.set(`${p}mlp.gate_proj.weight`, [s.nFf, s.nEmbd]);
    m.set(`${p}mlp.up_proj.weight`, [s.nFf, s.nEmbd]);
    m.set(`${p}mlp.down_proj.weight`, [s.nEmbd, s.nFf]);
  }
  return m;
}

/** The [rows, cols] a LoRA pair adds to: B·A (out × in), or (B·A)ᵀ for an embedding (vocab × dim). */
export function pairShape(p: LoraPair): number[] {
  return p.embedding ? [p.a.shape[1], p.b.shape[0]] : [p.b.shape[0], p.a.shape[1]];
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Every adapter tensor lands on a base tensor of the right shape; else one line naming the first that does not. */
export function checkAdapterFits(adapter: PeftAdapter, shape: AdapterBaseShape): void {
  const base = baseTensorShapes(shape);
  const where = adapter.dir;
  const tiedHint = (name: string) => (name === 'lm_head.weight' && shape.tied
    ? ' (the base model ties lm_head to embed_tokens, so it has no lm_head of its own)' : '');
  for (const p of adapter.pairs) {
    const want = base.get(p.target);
    if (!want) throw new UserError(`${where}: the adapter changes "${p.target}", which the base model has no tensor for${tiedHint(p.target)}; is it an adapter for another model?`);
    const got = pairShape(p);
    if (!same(got, want)) {
      throw new UserError(`${where}: "${p.module}" gives a ${got.join('×')} update but the base model's ${p.target} is ${want.join('×')}; the adapter was trained on another model`);
    }
  }
  for (const [name, t] of adapter.baseLayers) {
    const want = base.get(name);
    if (want && !same(t.shape, want)) {
      throw new UserError(`${where}: the adapter's copy of "${name}" is ${t.shape.join('×')} but the base model's is ${want.join('×')}: it was trained with tokens added to the vocabulary, which this base model does not have`);
    }
  }
  for (const [name, t] of adapter.full) {
    // PEFT's ModulesToSaveWrapper trains a copy of lm_head, so with tied embeddings it becomes an output layer of
    // its own (the converter writes it as output.weight).
    const want = base.get(name) ?? (name === 'lm_head.weight' && shape.tied ? [shape.vocabSize, shape.nEmbd] : undefined);
    if (!want) throw new UserError(`${where}: the adapter replaces "${name}" (modules_to_save), which the base model has no tensor for${tiedHint(name)}; is it an adapter for another model?`);
    if (!same(t.shape, want)) {
      throw new UserError(`${where}: the adapter's "${name}" (modules_to_save) is ${t.shape.join('×')} but the base model's is ${want.join('×')}; the adapter was trained on another model`);
    }
  }
}

/**
 * W += scale·B·A (or its transpose for an embedding), in f32, in place, on rows [row0, row0 + n) of the
 * rows × cols weight; `values` holds just those rows. Each row of the update needs only its own row of B (or,
 * for an embedding, its own column of A), so the converter can merge a tensor a chunk of rows at a time.
 */
export function addLora(values: Float32Array, rows: number, cols: number, a: Float32Array, b: Float32Array, r: number, scale: number, embedding: boolean, row0 = 0, n = rows): void {
  if (!embedding) {
    // A is r × cols, B is rows × r.
    for (let i = row0; i < row0 + n; i++) {
      const row = (i - row0) * cols;
      for (let k = 0; k < r; k++) {
        const f = scale * b[i * r + k];
        if (f === 0) continue;
        const ak = k * cols;
        for (let j = 0; j < cols; j++) values[row + j] += f * a[ak + j];
      }
    }
  } else {
    // PEFT's Embedding: delta = (B·A)ᵀ with A r × rows (vocab), B cols (dim) × r.
    for (let i = row0; i < row0 + n; i++) {
      const row = (i - row0) * cols;
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b[j * r + k] * a[k * rows + i];
        values[row + j] += scale * s;
      }
    }
  }
}

/**
 * The converter's hook for `--adapter`: LoRA pairs are added to their targets, modules_to_save replace theirs.
 * A replacement's values are decoded only when the converter reads them (an lm_head is 2 GB in f32 for 8B).
 */
export function mergeHook(adapter: PeftAdapter, shape: AdapterBaseShape): TensorHook {
  if (adapter.aloraTokens) {
    throw new UserError(`${adapter.dir}: an activated LoRA (aLoRA, alora_invocation_tokens) changes only the tokens after its invocation, which merged weights cannot do; convert it to a LoRA GGUF instead: llama3-zh convert ${adapter.dir} --base BASE --out adapter.gguf`);
  }
  checkAdapterFits(adapter, shape);
  const byTarget = new Map<string, LoraPair[]>();
  for (const p of adapter.pairs) byTarget.set(p.target, [...(byTarget.get(p.target) ?? []), p]);
  const replacements: NonNullable<TensorHook['replacements']> = new Map();
  for (const [name, t] of adapter.full) {
    replacements.set(name, { shape: t.shape, source: { ...t, file: adapter.file }, get values() { return adapterValues(adapter, t); } });
  }
  // A and B of the tensor being merged, read once for all its chunks (they are small: r × in and out × r).
  const factors = new Map<string, Array<{ a: Float32Array; b: Float32Array }>>();
  const applyRows = (name: string, values: Float32Array, dims: number[], row0: number, n: number) => {
    const pairs = byTarget.get(name);
    if (!pairs) return;
    let ab = factors.get(name);
    if (!ab) { ab = pairs.map((p) => ({ a: adapterValues(adapter, p.a), b: adapterValues(adapter, p.b) })); factors.set(name, ab); }
    pairs.forEach((p, i) => {
      const want = pairShape(p);
      if (!same(dims, want) || values.length !== n * want[1]) {
        throw new UserError(`${adapter.dir}: "${p.module}" gives a ${want.join('×')} update but the base model's ${name} is ${dims.join('×')}`);
      }
      addLora(values, want[0], want[1], ab[i].a, ab[i].b, p.r, p.scale, p.embedding, row0, n);
    });
    if (row0 + n >= dims[0]) factors.delete(name);
  };
  return {
    touches: (name) => byTarget.has(name),
    apply: (name, values, dims) => applyRows(name, values, dims, 0, dims[0]),
    applyRows,
    replacements,
    files: [adapter.file.path, join(adapter.dir, ADAPTER_CONFIG)],
  };
}
