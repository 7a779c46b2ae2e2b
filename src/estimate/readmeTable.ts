import { shapeFromParams } from './shape.js';
import { GB } from './terms.js';
import { estimateTraining, type Method, TRAINING_DEFAULTS } from './training.js';

/**
 * The training-memory table of the original README ("模型及训练推理成本"), which is LLaMA-Factory's rule of
 * thumb (its README: "* estimated"; later written as 18x / 8x / 2x / x / x/2 GB for x billion parameters,
 * so GB here means 10^9 bytes). Columns are the models of that time; the keys are our --params names.
 */
export const README_TABLE: { method: Method; row: string; bits: string; gb: Record<string, number> }[] = [
  { method: 'full-amp', row: 'Full', bits: 'AMP', gb: { '7b': 120, '13b': 240, '30b': 600, 'llama2-70b': 1200, '8x7b': 900 } },
  { method: 'full-16', row: 'Full', bits: '16', gb: { '7b': 60, '13b': 120, '30b': 300, 'llama2-70b': 600, '8x7b': 400 } },
  { method: 'lora', row: 'LoRA/GaLore/BAdam', bits: '16', gb: { '7b': 16, '13b': 32, '30b': 64, 'llama2-70b': 160, '8x7b': 120 } },
  { method: 'qlora-8', row: 'QLoRA', bits: '8', gb: { '7b': 10, '13b': 20, '30b': 40, 'llama2-70b': 80, '8x7b': 60 } },
  { method: 'qlora-4', row: 'QLoRA', bits: '4', gb: { '7b': 6, '13b': 12, '30b': 24, 'llama2-70b': 48, '8x7b': 30 } },
];

export const README_COLUMNS: { key: string; label: string }[] = [
  { key: '7b', label: '7B' }, { key: '13b', label: '13B' }, { key: '30b', label: '30B' },
  { key: 'llama2-70b', label: '70B' }, { key: '8x7b', label: '8x7B' },
];

/** How far from the README's rough numbers our model may land, as a fraction of the README's cell. */
export const README_TOLERANCE = 0.25;

export interface TableCell {
  method: Method;
  column: string;
  readmeGB: number;
  oursBytes: number;
  /** (ours − README) / README. */
  diff: number;
}

/** Our estimate for every README cell, with the table's settings (LLaMA-Factory's defaults, batch 1 × 1024 tokens). */
export function compareReadmeTable(): TableCell[] {
  const cells: TableCell[] = [];
  for (const r of README_TABLE) {
    for (const c of README_COLUMNS) {
      const e = estimateTraining(shapeFromParams(c.key), { method: r.method, ...TRAINING_DEFAULTS, extra: [], dpo: false });
      cells.push({ method: r.method, column: c.key, readmeGB: r.gb[c.key], oursBytes: e.total, diff: e.total / (r.gb[c.key] * GB) - 1 });
    }
  }
  return cells;
}
