/** Context extension of a GGUF file: where its metadata keeps the context length and RoPE base, and the edits that extend them. */
import { type Change, checkValue } from '../gguf/edit.js';
import { GgufError } from '../gguf/errors.js';
import { type GgufFile, meta, type Scalar, ValueType } from '../gguf/types.js';
import { type ContextNow, type ContextPlan, type ContextWant, planContext } from './plan.js';

/** Where a GGUF keeps what extend-context edits, and what it has now. */
export function ggufContextNow(file: GgufFile): { arch: string; ctxKey: string; thetaKey: string; now: ContextNow } {
  if (meta<string>(file, 'general.type') === 'adapter') throw new GgufError(`${file.path} is a LoRA adapter; extend the context of its base model`);
  const arch = meta<string>(file, 'general.architecture');
  if (typeof arch !== 'string' || !arch) throw new GgufError(`${file.path} has no general.architecture; cannot tell which keys hold its context length`);
  const ctxKey = `${arch}.context_length`;
  const thetaKey = `${arch}.rope.freq_base`;
  const num = (k: string) => { const v = meta<Scalar>(file, k); return typeof v === 'number' ? v : undefined; };
  // Llama-3.1 GGUFs carry their "llama3" RoPE scaling as per-dimension factors in a rope_freqs tensor;
  // other models state a scaling type (linear, yarn) in the metadata.
  let scaling: string | undefined;
  const type = meta<string>(file, `${arch}.rope.scaling.type`);
  if (file.tensors.some((t) => t.name === 'rope_freqs.weight')) scaling = 'Llama-3.1 style rope_freqs factors';
  else if (typeof type === 'string' && type !== 'none') {
    const factor = num(`${arch}.rope.scaling.factor`);
    const orig = num(`${arch}.rope.scaling.original_context_length`);
    scaling = `${type}${factor ? `, factor ${factor}` : ''}${orig ? ` over ${orig}` : ''}`;
  }
  return { arch, ctxKey, thetaKey, now: { ctx: num(ctxKey), theta: num(thetaKey), thetaDefault: 10000, scaling } };
}

/** The metadata changes that extend a GGUF's context: existing keys keep their type; new ones are u32 and f32. */
export function planGgufContext(file: GgufFile, want: ContextWant): { plan: ContextPlan; changes: Change[]; ctxKey: string; thetaKey: string } {
  const { ctxKey, thetaKey, now } = ggufContextNow(file);
  const plan = planContext(now, want, { ctx: ctxKey, theta: thetaKey });
  const changes: Change[] = [];
  const set = (key: string, fallback: ValueType, v: number) => {
    const old = file.metadata.get(key);
    const type = old && old.type !== ValueType.ARRAY ? old.type : fallback;
    changes.push({ key, type, value: checkValue(key, type, v), old });
  };
  if (plan.ctx) set(ctxKey, ValueType.UINT32, plan.ctx.new);
  if (plan.theta) set(thetaKey, ValueType.FLOAT32, plan.theta.new);
  return { plan, changes, ctxKey, thetaKey };
}
