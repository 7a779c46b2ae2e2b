import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthModel, type SynthOptions } from '../../src/synth/model.js';
import { kv, writeGguf } from '../../src/gguf/writer.js';
import { TensorType } from '../../src/gguf/types.js';
import { encodeF32 } from '../../src/gguf/numbers.js';

/** Repository root (tests run from dist/test/...). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CACHE = join(ROOT, '.cache', 'test-models');

export const REPLY = '我是由ShareAI训练的大型语言模型。';

const SYNTH_DIR = fileURLToPath(new URL('../../src/synth/', import.meta.url));
const SYNTH_CODE = readdirSync(SYNTH_DIR).filter((f) => f.endsWith('.js')).sort().map((f) => f + readFileSync(join(SYNTH_DIR, f), 'utf8')).join('\n');

/** A synthesized model, made once and cached (git-ignored) under .cache/test-models. */
export async function testModel(o: Partial<SynthOptions> = {}): Promise<string> {
  const opts: SynthOptions = { preset: 'tiny', type: 'f16', seed: 1, stop: 'eot', ...o };
  // The synthesizer's own code is part of the key, so a change to it makes new models.
  const key = createHash('sha256').update(JSON.stringify(opts)).update(SYNTH_CODE).digest('hex').slice(0, 16);
  const path = join(CACHE, `${opts.reply === undefined ? 'random' : 'scripted'}-${key}.gguf`);
  if (!existsSync(path)) {
    mkdirSync(CACHE, { recursive: true });
    await synthModel(path, opts);
  }
  return path;
}

/**
 * A rank-1 LoRA adapter for a scripted model: it adds `logit` to token `to` wherever the current token is the
 * one on embedding axis `axis` (axis k is the k-th programmed token), so the script can be redirected.
 */
export async function redirectLora(embd: number, axis: number, to: number, logit: number): Promise<string> {
  const path = join(CACHE, `lora-${embd}-${axis}-${to}-${logit}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(CACHE, { recursive: true });
  const vocab = 128256;
  // delta W = B·A (scaled by alpha/rank = 1): A picks the axis, B writes into row `to`.
  const a = new Float32Array(embd); // ne = [embd, 1]
  a[axis] = 1;
  const b = new Float32Array(vocab); // ne = [1, vocab]
  b[to] = logit / Math.sqrt(embd); // RMSNorm makes the axis value sqrt(embd)
  await writeGguf(path, [
    kv.str('general.architecture', 'llama'),
    kv.str('general.type', 'adapter'),
    kv.str('adapter.type', 'lora'),
    kv.f32('adapter.lora.alpha', 1),
  ], [
    { name: 'output.weight.lora_a', dims: [embd, 1], type: TensorType.F32, data: encodeF32(a) },
    { name: 'output.weight.lora_b', dims: [1, vocab], type: TensorType.F32, data: encodeF32(b) },
  ]);
  return path;
}
