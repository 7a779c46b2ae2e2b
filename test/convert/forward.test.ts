/**
 * The converted GGUF computes what the Hugging Face checkpoint computes. Each case writes a real HF Llama folder
 * (test/helpers/hfCheckpoint.ts), converts it with convertModel, runs it in llama.cpp through our engine, and
 * checks it against hfForward — a forward pass written from transformers' conventions (rotate_half RoPE on the
 * unpermuted q/k, llama3 rope scaling, repeat_kv, RMSNorm) that never touches src/convert. A round trip through
 * our own code would prove nothing about the q/k permutation or rope_freqs; this does, and the negative controls
 * at the end show the comparison fails when either is wrong.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { convertModel } from '../../src/convert/convert.js';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/types.js';
import { encode } from '../../src/gguf/llama3Vocab.js';
import { readGguf } from '../../src/gguf/reader.js';
import { meta, tensorBytes } from '../../src/gguf/types.js';
import { writeGguf } from '../../src/gguf/writer.js';
import { type TinyLlamaOptions, BOS, writeTinyLlama } from '../helpers/hfCheckpoint.js';
import { type HfModel, hfForward, logSoftmax, topK } from '../helpers/hfForward.js';

const STEPS = 16;
/** Candidates whose log-probabilities are compared at each step: hfForward's most likely tokens. */
const TOP = 8;

/**
 * Largest |log p(llama.cpp) − log p(hfForward)| allowed over the TOP tokens, by the GGUF's weight type. The
 * reference is f64 math on the checkpoint's exact weights; llama.cpp's CPU matmuls round the activations to the
 * weight type (ggml's vec_dot_type: bf16 keeps 8 mantissa bits, f16 11) and its KV cache is f16 even for f32
 * weights. Measured here (x86 CPU, 1 thread), max over every step from the prompt's end to the 16th token:
 *   F32  — 5.3e-3 (GQA), 7.1e-3 (tied): the f16 KV cache alone;
 *   F16  — 8.3e-3 (head_dim 32);
 *   BF16 — 3.1e-2 (GQA), 4.7e-2 (rope-scaled, 101-token prompt), 5.3e-2 (3 layers, two shards).
 * Each bound is about three times the worst measured for its type. A wrong q/k permutation (9.7 nats) or a
 * missing rope_freqs (4.9-5.9) is off by thirty times the bf16 bound and three hundred times the f32 one.
 * The same number is the greedy tie threshold: where hfForward's top two logits are closer than it, llama.cpp may
 * honestly pick the other one.
 */
const BOUND: Record<string, number> = { F32: 0.03, F16: 0.03, BF16: 0.15 };

const SHORT = [BOS, ...encode('你好，世界！今天天气怎么样？')];
/** 100+ tokens: past the 32-token original context of the rope-scaled case, where Llama-3.1's scaling changes the angles. */
const LONG = [BOS, ...encode(
  '从前有座山，山里有座庙，庙里有个老和尚在给小和尚讲故事。讲的是什么故事呢？从前有座山，山里有座庙，庙里有个老和尚在给小和尚讲故事。'
  + 'The quick brown fox jumps over the lazy dog, and then it runs back home to sleep until the sun rises again over the green hills of the quiet little village by the river.',
)];

let tmp: string;
before(() => { tmp = mkdtempSync(join(tmpdir(), 'llama3zh-forward-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Comparison {
  /** llama.cpp's greedy continuation, and hfForward's own. */
  llama: number[];
  hf: number[];
  /** hfForward's top-1 minus top-2 logit at each of its greedy steps. */
  margins: number[];
  /** Max |Δ log p| over the TOP tokens at every step along llama.cpp's continuation. */
  maxDiff: number;
  /** Steps where llama.cpp's token is not hfForward's argmax at that point, and by how many logits it trails it. */
  offBy: number[];
}

/**
 * Run `gguf` in llama.cpp and `ref` on the same prompt: greedy continuations and next-token log-probabilities.
 * `gguf` may be an engine already open on it (loading one takes seconds: llama.cpp builds the 128k-token vocab),
 * which is then left open for its owner.
 */
async function compare(gguf: string | Engine, ref: HfModel, prompt: number[]): Promise<Comparison> {
  const engine = typeof gguf === 'string' ? await loadEngine({ modelPath: gguf, threads: 1, contextSize: 256 }) : gguf;
  try {
    const llama = (await engine.generate({ prompt, maxTokens: STEPS, ignoreEndOfGeneration: true })).tokens;
    const { tokens: hf, margins } = ref.greedy(prompt, STEPS);
    // Teacher-forced along llama.cpp's own path: every step is checked even after a near tie sent the two apart.
    const seq = [...prompt, ...llama];
    const positions = Array.from({ length: STEPS + 1 }, (_, i) => prompt.length - 1 + i);
    const logits = ref.logits(seq, positions);
    let maxDiff = 0;
    const offBy: number[] = [];
    for (let i = 0; i < positions.length; i++) {
      const lp = logSoftmax(logits[i]);
      const top = topK(lp, TOP);
      const got = await engine.nextTokenLogprobs(seq.slice(0, positions[i] + 1), top);
      top.forEach((t, j) => { maxDiff = Math.max(maxDiff, Math.abs(got[j] - lp[t])); });
      if (i < STEPS && llama[i] !== top[0]) offBy.push(lp[top[0]] - lp[llama[i]]);
    }
    return { llama, hf, margins, maxDiff, offBy };
  } finally {
    if (typeof gguf === 'string') await engine.close();
  }
}

/** The assertions every case makes, with the measured numbers reported as test diagnostics. */
function assertSame(t: TestContext, c: Comparison, bound: number) {
  // Until hfForward's top two come within the bound of each other, llama.cpp must choose exactly its tokens.
  const tie = c.margins.findIndex((m) => m < bound);
  const sure = tie < 0 ? STEPS : tie;
  t.diagnostic(`max |Δ log p| over top-${TOP} = ${c.maxDiff.toExponential(2)} (bound ${bound}); greedy identical for ${sure} `
    + `of ${STEPS} before a near tie; llama.cpp picked another token at ${c.offBy.length} step(s)`);
  assert.ok(c.maxDiff < bound, `log-probabilities differ by ${c.maxDiff} (bound ${bound})`);
  assert.deepEqual(c.llama.slice(0, sure), c.hf.slice(0, sure));
  // The seeds are chosen (hfForward alone, deterministic) so that this exact stretch is at least half the run.
  assert.ok(sure >= STEPS / 2, `hfForward has a near tie at step ${sure}: too early for this seed to say much`);
  // After a near tie, each llama.cpp choice is hfForward's best or within the bound of it.
  for (const d of c.offBy) assert.ok(d < bound, `llama.cpp chose a token ${d} nats below hfForward's best`);
  // A model that only repeats its input would make a weak test.
  assert.ok(new Set(c.hf).size >= 5, `greedy output is nearly constant: ${c.hf}`);
}

async function convert(dir: string, o: { type?: string; out?: string } = {}) {
  const out = o.out ?? join(dir, `model-${o.type ?? 'auto'}.gguf`);
  const r = await convertModel({ src: dir, out, type: o.type, threads: 1 });
  return { path: r.out, type: r.type.toUpperCase() };
}

function checkpoint(name: string, o: TinyLlamaOptions) {
  const dir = join(tmp, name);
  writeTinyLlama(dir, o);
  return dir;
}

/**
 * A copy of a GGUF with some tensors changed or dropped (the negative controls): `edit` gets each tensor's
 * info and bytes and returns the bytes to write, or null to leave the tensor out.
 */
async function rewriteGguf(src: string, out: string, edit: (name: string, dims: number[], type: number, bytes: Buffer) => Buffer | null) {
  const f = readGguf(src);
  const fd = openSync(src, 'r');
  try {
    const tensors = [];
    for (const t of f.tensors) {
      const bytes = Buffer.alloc(tensorBytes(t.type, t.dims)!);
      readSync(fd, bytes, 0, bytes.length, f.dataOffset + t.offset);
      const data = edit(t.name, t.dims, t.type, bytes);
      if (data) tensors.push({ name: t.name, dims: t.dims, type: t.type, data });
    }
    await writeGguf(out, [...f.metadata.values()], tensors, f.alignment);
  } finally {
    closeSync(fd);
  }
}

/**
 * Undo convert_hf_to_gguf's q/k row permutation (GGUF row h·2·m + 2i + a holds HF row h·2·m + a·m + i, m =
 * rows/heads/2): the GGUF a converter that forgot it would write.
 */
function unpermuteRows(bytes: Buffer, dims: number[], type: number, heads: number): Buffer {
  const rowBytes = tensorBytes(type, [dims[0]])!;
  const rows = dims[1];
  const m = rows / heads / 2;
  const out = Buffer.alloc(bytes.length);
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < m; i++) {
        const hfRow = h * 2 * m + a * m + i;
        const ggufRow = h * 2 * m + 2 * i + a;
        bytes.copy(out, hfRow * rowBytes, ggufRow * rowBytes, (ggufRow + 1) * rowBytes);
      }
    }
  }
  return out;
}

/**
 * The GQA checkpoint, its reference and its f32 GGUF, made once: the negative control below rewrites that same
 * GGUF (writing, converting and reading a checkpoint takes seconds).
 */
let gqaMade: Promise<{ dir: string; ref: HfModel; f32: { path: string; type: string } }> | undefined;
function gqa() {
  gqaMade ??= (async () => {
    const dir = checkpoint('gqa', { layers: 2, hidden: 64, heads: 8, kvHeads: 2, ff: 128, dtype: 'bf16', seed: 9 });
    return { dir, ref: hfForward(dir), f32: await convert(dir, { type: 'f32' }) };
  })();
  return gqaMade;
}

describe('a converted checkpoint computes what the Hugging Face checkpoint computes', () => {
  test('Llama-3 8B-like GQA (8 heads, 2 kv heads), bf16 → bf16 and → f32', async (t) => {
    const { dir, ref, f32 } = await gqa();
    const bf16 = await convert(dir);
    assert.equal(bf16.type, 'BF16', 'auto keeps a bf16 checkpoint bf16');
    assertSame(t, await compare(bf16.path, ref, SHORT), BOUND.BF16);
    assert.equal(f32.type, 'F32');
    assertSame(t, await compare(f32.path, ref, SHORT), BOUND.F32);
  });

  test('head_dim given and not hidden/heads (4 heads of 32 in a 64-wide model), f16', async (t) => {
    const dir = checkpoint('headdim', { layers: 2, hidden: 64, heads: 4, kvHeads: 2, headDim: 32, ff: 96, dtype: 'f16', seed: 9 });
    const gguf = await convert(dir);
    assert.equal(gguf.type, 'F16');
    assertSame(t, await compare(gguf.path, hfForward(dir), SHORT), BOUND.F16);
  });

  test('tied embeddings (Llama-3.2 style: no lm_head), f32 checkpoint', async (t) => {
    const dir = checkpoint('tied', { layers: 2, hidden: 64, heads: 4, kvHeads: 1, ff: 128, dtype: 'f32', tied: true, seed: 12 });
    const gguf = await convert(dir, { type: 'f32' });
    assert.ok(!readGguf(gguf.path, { skipArrays: true }).tensors.some((x) => x.name === 'output.weight'), 'llama.cpp ties output to token_embd');
    assertSame(t, await compare(gguf.path, hfForward(dir), SHORT), BOUND.F32);
  });

  test('bf16 in two shards with model.safetensors.index.json, instruct', async (t) => {
    const dir = checkpoint('shards', { layers: 3, hidden: 64, heads: 8, kvHeads: 2, ff: 128, dtype: 'bf16', shards: 2, instruct: true, seed: 4 });
    const gguf = await convert(dir);
    assertSame(t, await compare(gguf.path, hfForward(dir), SHORT), BOUND.BF16);
  });

  describe("Llama-3.1 rope_scaling (rope_type llama3) over a 100+ token prompt", () => {
    let dir: string;
    let ref: HfModel;
    let gguf: { path: string; type: string };
    /** Open on `gguf` for both tests: the correct reference and the unscaled one are run against the same file. */
    let engine: Engine;
    before(async () => {
      // original_max_position_embeddings 32: every frequency whose wavelength passes 32 positions is scaled (most
      // of them at head_dim 16), and the prompt runs well past that, so the scaling moves the logits a lot.
      dir = checkpoint('rope', { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 128, dtype: 'bf16', ropeScaling: 'llama3', originalCtx: 32, ctx: 1024, seed: 9 });
      ref = hfForward(dir);
      gguf = await convert(dir);
      assert.ok(LONG.length > 100, String(LONG.length));
      engine = await loadEngine({ modelPath: gguf.path, threads: 1, contextSize: 256 });
    });
    after(() => engine?.close());

    test('llama.cpp with rope_freqs.weight matches transformers', async (t) => {
      assert.ok(readGguf(gguf.path, { skipArrays: true }).tensors.some((x) => x.name === 'rope_freqs.weight'));
      assertSame(t, await compare(engine, ref, LONG), BOUND.BF16);
    });

    test('the test would fail if the scaling were ignored (on either side)', async (t) => {
      // A reference without the scaling disagrees with the correct GGUF ...
      const unscaled = await compare(engine, hfForward(dir, { ignoreRopeScaling: true }), LONG);
      // ... and a GGUF without rope_freqs disagrees with the correct reference.
      const noFreqs = join(dir, 'no-rope-freqs.gguf');
      await rewriteGguf(gguf.path, noFreqs, (name, _d, _t, b) => (name === 'rope_freqs.weight' ? null : b));
      const dropped = await compare(noFreqs, ref, LONG);
      for (const c of [unscaled, dropped]) {
        t.diagnostic(`without the scaling: max |Δ log p| = ${c.maxDiff.toFixed(2)}`);
        assert.ok(c.maxDiff > 10 * BOUND.BF16, String(c.maxDiff));
        assert.notDeepEqual(c.llama, c.hf);
      }
    });
  });

  test('negative control: a GGUF without the q/k permutation does not match', async (t) => {
    // The GQA case's checkpoint and f32 GGUF (it was written as its own, identical checkpoint before).
    const { dir, ref, f32: gguf } = await gqa();
    const f = readGguf(gguf.path, { skipArrays: true });
    const heads = meta<number>(f, 'llama.attention.head_count')!;
    const kvHeads = meta<number>(f, 'llama.attention.head_count_kv')!;
    const wrong = join(dir, 'unpermuted.gguf');
    await rewriteGguf(gguf.path, wrong, (name, dims, type, b) =>
      name.endsWith('.attn_q.weight') ? unpermuteRows(b, dims, type, heads)
        : name.endsWith('.attn_k.weight') ? unpermuteRows(b, dims, type, kvHeads) : b);
    const c = await compare(wrong, ref, SHORT);
    t.diagnostic(`unpermuted q/k: max |Δ log p| = ${c.maxDiff.toFixed(2)}`);
    assert.ok(c.maxDiff > 10 * BOUND.F32, String(c.maxDiff));
    assert.notDeepEqual(c.llama, c.hf);
    // The rewrite itself changes nothing else: an unedited copy made the same way still matches.
    const copy = join(dir, 'copy.gguf');
    let n = 0;
    await rewriteGguf(gguf.path, copy, (_n, _d, _t, b) => { n++; return b; });
    assert.equal(n, f.tensors.length);
    assertSame(t, await compare(copy, ref, SHORT), BOUND.F32);
  });
});
