import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Run folders and trainer_log.jsonl lines written by hand, byte for byte as LLaMA-Factory writes them: its
 * LogCallback appends `json.dumps(logs)` (", " and ": " separators, Python float reprs such as 2.0 and 5e-05,
 * None values left out), so the server and the page are tested on the real format.
 */

/** Python's repr of a float: "2.0", "0.0001", "5e-05" (scientific below 1e-4 and from 1e16, two exponent digits). */
export function pyFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e16)) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(v);
}

const hms = (s: number) => `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;

/** One line of trainer_log.jsonl, newline included; 2 s per step. */
export function lfLine(step: number, total: number, v: { loss?: number; eval_loss?: number; accuracy?: number; reward?: number; lr?: number; epoch?: number } = {}): string {
  const parts: string[] = [`"current_steps": ${step}`, `"total_steps": ${total}`];
  for (const k of ['loss', 'eval_loss', 'reward', 'accuracy', 'lr', 'epoch'] as const) {
    const x = v[k];
    if (x !== undefined) parts.push(`"${k}": ${pyFloat(x)}`);
  }
  parts.push(`"percentage": ${pyFloat(Math.round((step / total) * 100 * 100) / 100)}`, `"elapsed_time": "${hms(step * 2)}"`, `"remaining_time": "${hms((total - step) * 2)}"`);
  return `{${parts.join(', ')}}\n`;
}

/** A run folder as `train init` leaves it (train.yaml with output_dir: output, llama3-zh.json), with no log yet. */
export function writeRunFolder(dir: string, o: { recipe?: string; stage?: string } = {}): { log: string; output: string } {
  mkdirSync(join(dir, 'output'), { recursive: true });
  const stage = o.stage ?? 'dpo';
  writeFileSync(join(dir, 'train.yaml'), [
    '### model', 'model_name_or_path: shenzhi-wang/Llama3-8B-Chinese-Chat', '', '### method', `stage: ${stage}`, 'do_train: true',
    'finetuning_type: lora', 'lora_rank: 128', 'lora_alpha: 256', 'pref_beta: 0.5', '', '### dataset', 'dataset_dir: data', 'dataset: dpo_zh',
    'template: llama3', '', '### output', 'output_dir: output', 'logging_steps: 10', 'learning_rate: 5.0e-06', '',
  ].join('\n'));
  writeFileSync(join(dir, 'llama3-zh.json'), JSON.stringify({
    version: 1, recipe: o.recipe ?? 'dpo-zh', model: { given: 'shenzhi-wang/Llama3-8B-Chinese-Chat', repo: 'shenzhi-wang/Llama3-8B-Chinese-Chat' },
    template: 'llama3', chatTemplate: 'llama3', datasets: [{ name: 'dpo_zh', kind: 'pair', rows: 100 }], gpus: 1, nnodes: 1, createdAt: '2026-01-01T00:00:00.000Z', tool: '0.1.0',
  }, null, 2));
  return { log: join(dir, 'output', 'trainer_log.jsonl'), output: join(dir, 'output') };
}

export function appendLog(log: string, text: string) {
  appendFileSync(log, text);
}
