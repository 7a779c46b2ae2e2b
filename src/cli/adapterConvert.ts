/**
 * The adapter side of `llama3-zh convert` (its flags and its two uses, wired into commands/convert.ts):
 * `convert PEFT_DIR [--base SRC] --out adapter.gguf` writes a llama.cpp LoRA GGUF for --lora, and
 * `convert SRC --adapter PEFT_DIR --out model.gguf` merges the adapter into the weights while converting.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { TensorHook } from '../convert/convert.js';
import { readLlamaModel } from '../convert/hfModel.js';
import { convertAdapter, LORA_TYPES } from '../convert/lora.js';
import { mergeHook } from '../convert/merge.js';
import { ADAPTER_CONFIG, readPeftAdapter } from '../convert/peft.js';
import { resolveAdapterBase } from '../hub/adapterBase.js';
import { progressBar } from './progress.js';

export const ADAPTER_FLAGS = {
  adapter: { type: 'string' },
  base: { type: 'string' },
} as const;

export const ADAPTER_HELP = `  --adapter DIR   merge a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) into the
                  weights first: W + scale·B·A in f32; its modules_to_save replace their tensors
  --base SRC      with a PEFT adapter folder as SRC: the base model it was trained on (a Hugging Face folder or
                  a stored model; default: adapter_config.json's base_model_name_or_path, if it is here).
                  Writes a llama.cpp LoRA GGUF for --lora (--type ${LORA_TYPES.join(", ")} or auto; default f32, as llama.cpp)`;

/**
 * A PEFT adapter folder (convert then writes a LoRA GGUF, not a model). A folder that also holds a whole model
 * (config.json and its safetensors: many Hub repos ship the merged model beside the adapter it came from) is the
 * model, as convert_hf_to_gguf reads it, unless --base says the adapter is meant.
 */
export function isPeftFolder(src: string, base?: string): boolean {
  if (!existsSync(join(src, ADAPTER_CONFIG))) return false;
  const wholeModel = existsSync(join(src, 'config.json'))
    && (existsSync(join(src, 'model.safetensors')) || existsSync(join(src, 'model.safetensors.index.json')));
  return base !== undefined || !wholeModel;
}

/** `--adapter DIR` → the converter's hook, checked against the base model's shapes before anything is written. */
export function adapterHook(adapter: string | undefined, src: string): TensorHook | undefined {
  if (adapter === undefined) return undefined;
  if (!existsSync(adapter)) throw new UserError(`--adapter ${adapter}: no such folder`);
  if (isPeftFolder(src)) throw new UserError(`${src} is a PEFT adapter; give the base model as SRC and the adapter with --adapter`);
  return mergeHook(readPeftAdapter(adapter), readLlamaModel(src).shape);
}

/** `convert PEFT_DIR [--base SRC] --out adapter.gguf`. */
export async function convertAdapterCommand(o: { dir: string; base?: string; out: string; type?: string; name?: string; adapter?: string }): Promise<void> {
  if (o.adapter !== undefined) throw new UserError(`${o.dir} is a PEFT adapter itself; --adapter merges an adapter into a base model folder (convert BASE --adapter ${o.dir} --out model.gguf)`);
  const ac = new AbortController();
  let code = 130; // 128 + the signal's number, as a shell reports it
  const onInt = (sig: NodeJS.Signals) => { code = sig === 'SIGTERM' ? 143 : 130; ac.abort(); };
  process.on('SIGINT', onInt).on('SIGTERM', onInt);
  const bar = progressBar('converting adapter');
  let started = false;
  try {
    const r = await convertAdapter({
      dir: o.dir, base: resolveAdapterBase(readPeftAdapter(o.dir), o.base), out: o.out, type: o.type, name: o.name, signal: ac.signal,
      onProgress: (done, total) => {
        if (!started) { bar.start(total, 0); started = true; }
        bar.update(done, total);
      },
    });
    if (started) bar.done();
    console.log(`wrote ${o.out}: LoRA adapter for ${r.tensors / 2} weights (${r.tensors} tensors, ${r.type}), alpha ${r.alpha}; use it with --lora ${o.out}`);
  } catch (e) {
    if (started && process.stderr.isTTY) process.stderr.write('\n');
    if (ac.signal.aborted) throw new UserError('interrupted; nothing was written', code);
    throw e;
  } finally {
    process.off('SIGINT', onInt).off('SIGTERM', onInt);
  }
}
