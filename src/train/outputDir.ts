import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What LLaMA-Factory leaves in output_dir, read the way it and transformers read it: checkpoint-N folders
 * (transformers' get_last_checkpoint: `^checkpoint-(\d+)$`, folders only, the highest N), and the final model
 * written at the end of training (a PEFT adapter, or the whole model for finetuning_type full).
 */

/** The step numbers of output_dir's checkpoint-N folders, in ascending order. */
export function checkpointSteps(outputDir: string): number[] {
  if (!existsSync(outputDir)) return [];
  const steps: number[] = [];
  for (const e of readdirSync(outputDir)) {
    const m = /^checkpoint-(\d+)$/.exec(e);
    if (!m) continue;
    try {
      if (statSync(join(outputDir, e)).isDirectory()) steps.push(Number(m[1]));
    } catch {
      // removed while we looked (save_total_limit rotates checkpoints)
    }
  }
  return steps.sort((a, b) => a - b);
}

/** The checkpoint LLaMA-Factory resumes from: the last checkpoint-N, or undefined. */
export function lastCheckpoint(outputDir: string): number | undefined {
  return checkpointSteps(outputDir).at(-1);
}

/**
 * LLaMA-Factory's CHECKPOINT_NAMES (extras/constants.py): with one of these in output_dir and no checkpoint-N,
 * it refuses to start ("Output directory already exists and is not empty. Please set `overwrite_output_dir`.").
 */
export const CHECKPOINT_NAMES = [
  'adapter_model.safetensors', 'adapter_model.bin', 'model.safetensors.index.json', 'model.safetensors',
  'pytorch_model.bin.index.json', 'pytorch_model.bin',
];

/** The final model's weights file in output_dir (the adapter, or a full model), or undefined while training. */
export function finalModel(outputDir: string): string | undefined {
  return CHECKPOINT_NAMES.find((n) => existsSync(join(outputDir, n)));
}
