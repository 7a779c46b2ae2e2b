import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { progressBar } from '../src/cli/progress.js';
import { synthModel } from '../src/synth/model.js';

/** The benchmark model: a synthesized Llama-3-shaped Q8_0 GGUF (random weights: speed does not depend on values). */
export async function benchModel(preset: string): Promise<string> {
  const dir = join(process.cwd(), '.cache', 'bench-models');
  const path = join(dir, `${preset}-q8_0.gguf`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const bar = progressBar(`synthesizing ${preset} Q8_0 model`);
    await synthModel(path, { preset, type: 'q8_0', seed: 1, stop: 'eot', onProgress: (d, t) => bar.update(d, t) });
    bar.done();
  }
  return path;
}
