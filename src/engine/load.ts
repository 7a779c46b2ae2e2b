import { LlamaCppEngine } from './llamacpp/LlamaCppEngine.js';
import type { Engine, LoadOptions } from './types.js';

/** Open an engine on a model. Today: llama.cpp in-process; a remote OpenAI-compatible backend plugs in here. */
export async function loadEngine(o: LoadOptions): Promise<Engine> {
  return LlamaCppEngine.load(o);
}
