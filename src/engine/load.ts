import { readModelFile } from './modelFile.js';
import type { Engine, LoadOptions } from './types.js';

/** Open an engine on a model. Today: llama.cpp in-process; a remote OpenAI-compatible backend plugs in here. */
export async function loadEngine(o: LoadOptions): Promise<Engine> {
  // The files are checked first, so that a damaged one is refused without loading llama.cpp at all.
  const file = readModelFile(o);
  // Imported when a model is loaded: node-llama-cpp takes over a second to import, and commands check their flags and data first.
  const { LlamaCppEngine } = await import('./llamacpp/LlamaCppEngine.js');
  return LlamaCppEngine.load(o, file);
}
