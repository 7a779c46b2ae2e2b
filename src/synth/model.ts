import { UserError } from '../errors.js';
import { LLAMA3_JINJA, LLAMA3_V1_JINJA } from '../chat/officialTemplates.js';
import { llama3TokenizerKVs, TOKEN, VOCAB_SIZE } from '../gguf/llama3Vocab.js';
import { Rng } from '../gguf/numbers.js';
import { type KV, TensorType, tensorBytes } from '../gguf/types.js';
import { kv, type TensorData, type TensorSpec, writeGguf } from '../gguf/writer.js';
import { type ContextPlan, planContext } from './context.js';
import { contextTensors } from './contextWeights.js';
import { randomTensors } from './random.js';
import { planScript, RepeatedToken, type Route, type Script, scriptTensors } from './script.js';

export { planScript, type Route, type Script } from './script.js';

export interface Shape {
  layers: number;
  embd: number;
  ff: number;
  heads: number;
  kvHeads: number;
  ctx: number;
  /** No output.weight: llama.cpp ties the output layer to token_embd (as Llama-3.2-1B does). */
  tied: boolean;
  /** Width of an attention head, when it is not embd / heads (llama.attention.key_length). */
  headDim?: number;
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
  /**
   * Scripted model: a second reply whose first token scores below the reply's (SCRIPT_LOGIT / 2) and which then
   * goes on exactly, so a grammar that forbids the reply's first token (tool_choice "required") gets this instead.
   */
  fallback?: string;
  name?: string;
  /** rope_theta; Llama-3's is 500000. */
  ropeFreqBase?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** What a scripted model was made of, for the CLI's summary line. */
export interface Made {
  shape: Shape;
  /** One axis per scripted token (replies that repeat no token). */
  script?: Script;
  /** The context construction (context.ts), for replies that repeat tokens or a fallback. */
  plan?: ContextPlan;
}

/** Write a Llama-architecture GGUF with the real Llama-3 tokenizer: random weights, or a scripted model. */
export async function synthModel(out: string, o: SynthOptions): Promise<Made> {
  const base = SHAPES[o.preset];
  if (!base) throw new UserError(`unknown preset "${o.preset}"; choose one of: ${Object.keys(SHAPES).join(', ')}`);
  if (o.type !== 'f16' && o.type !== 'q8_0') throw new UserError(`unknown --type "${o.type}"; choose f16 or q8_0`);
  if (o.routes?.length && o.reply === undefined) throw new UserError('routes need a default --reply too');
  if (o.fallback !== undefined && o.reply === undefined) throw new UserError('a fallback needs a --reply too');
  const wtype = o.type === 'f16' ? TensorType.F16 : TensorType.Q8_0;
  const rng = new Rng(o.seed);
  let made: Made & { tensors: TensorSpec[] };
  const script = o.reply !== undefined && o.fallback === undefined ? oneTokenScript(o.reply, o) : undefined;
  if (o.reply === undefined) {
    made = { shape: base, tensors: randomTensors(base, wtype, rng) };
  } else if (script) {
    const shape = { ...base };
    // Axes: one per scripted token, then (with routes) the query and key markers, a trigger axis and a reply axis per route.
    const axes = script.chain.length + (script.routes.length ? 2 + 2 * script.routes.length : 0);
    if (axes > shape.embd) {
      // Each scripted token gets its own embedding axis, so the width grows with the script.
      if (o.preset !== 'tiny') throw new UserError(`the script needs ${axes} axes, more than the ${o.preset} width of ${shape.embd}; use --preset tiny`);
      if (axes > 1024) throw new UserError(`the script is ${axes} tokens; a scripted model takes at most 1024`);
      shape.embd = Math.ceil(axes / 64) * 64;
    }
    if (script.routes.length > shape.embd / shape.heads) {
      throw new UserError(`at most ${shape.embd / shape.heads} routes fit this model (got ${script.routes.length})`);
    }
    made = { shape, script, tensors: scriptTensors(script, shape, wtype, rng) };
  } else {
    if (o.preset !== 'tiny') throw new UserError(`a scripted model whose replies repeat tokens (or that has a fallback) is made with --preset tiny only`);
    const plan = planContext({ reply: o.reply, stop: o.stop, leak: o.leak, routes: o.routes, fallback: o.fallback });
    const { shape, tensors } = contextTensors(plan, { type: wtype, ropeBase: o.ropeFreqBase ?? 500000, ctx: base.ctx });
    made = { shape, plan, tensors };
  }
  const { shape, tensors } = made;
  const { layers, embd, ff, heads, kvHeads } = shape;

  const eos = o.stop === 'eot' ? TOKEN.EOT : TOKEN.END_OF_TEXT;
  const name = o.name ?? `llama3-zh synthetic ${o.preset}${o.reply !== undefined ? ' (scripted)' : ''}`;
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
    kv.u32('llama.rope.dimension_count', shape.headDim ?? embd / heads),
    // Heads narrower or wider than embd / heads (the context construction's heads are 32 wide at any width).
    ...(shape.headDim ? [kv.u32('llama.attention.key_length', shape.headDim), kv.u32('llama.attention.value_length', shape.headDim)] : []),
    kv.f32('llama.rope.freq_base', o.ropeFreqBase ?? 500000),
    kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    kv.u32('llama.vocab_size', VOCAB_SIZE),
    ...llama3TokenizerKVs(),
    kv.u32('tokenizer.ggml.eos_token_id', eos),
    kv.bool('tokenizer.ggml.add_bos_token', true),
    kv.str('tokenizer.chat_template', o.stop === 'eot' ? LLAMA3_JINJA : LLAMA3_V1_JINJA),
  ];
  if (o.reply !== undefined) metadata.push(kv.str('llama3zh.script.reply', o.reply), kv.bool('llama3zh.script.leak', !!o.leak));
  if (o.fallback !== undefined) metadata.push(kv.str('llama3zh.script.fallback', o.fallback));

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
  return { shape, script: made.script, plan: made.plan };
}

/** The one-axis-per-token script, or undefined where a token would need two next tokens (context.ts says those). */
function oneTokenScript(reply: string, o: SynthOptions): Script | undefined {
  try {
    return planScript(reply, o.stop, o.leak, o.routes);
  } catch (e) {
    if (e instanceof RepeatedToken) return undefined;
    throw e;
  }
}
