import { UserError } from '../errors.js';
import { readGguf } from '../gguf/reader.js';
import { readSplitModel } from '../gguf/splitModel.js';
import { type GgufFile, meta } from '../gguf/types.js';
import { checkAdapter, checkModel } from '../gguf/validate.js';
import type { LoadOptions, LoraAdapter } from './types.js';

/**
 * Read and check a model's header and its adapters' before llama.cpp opens them: a missing, truncated or
 * non-GGUF file gets a clear error, and so does a damaged one, which llama.cpp would not just refuse but
 * abort the whole process on (see gguf/validate.ts). A split model is checked whole, all its parts' tensors
 * together. No node-llama-cpp here: it takes over a second to import.
 */
export function readModelFile(o: Pick<LoadOptions, 'modelPath' | 'lora'>): GgufFile {
  // A split model's first part: its checks need the tensors of every part (llama.cpp opens them by name).
  const file = readSplitModel(o.modelPath, { skipArrays: true });
  if (meta<string>(file, 'general.type') === 'adapter') {
    throw new UserError(`${o.modelPath} is a LoRA adapter, not a model; load a base model and pass the adapter with --lora`);
  }
  checkModel(file);
  checkAdapters(o.lora ?? [], file);
  return file;
}

/**
 * A clear error for a file given as a LoRA adapter that is not one (llama.cpp would only log it), is damaged, or
 * does not fit `base` (llama.cpp says only "Failed to initialize LoRA adapter", or aborts; see gguf/validate.ts).
 */
export function checkAdapters(lora: LoraAdapter[], base: GgufFile) {
  for (const a of lora) {
    const f = readGguf(a.path, { skipArrays: true });
    if (meta<string>(f, 'general.type') !== 'adapter') {
      throw new UserError(`${a.path} is not a LoRA adapter (its general.type is not "adapter"); give an adapter GGUF`);
    }
    checkAdapter(f, base);
  }
}
