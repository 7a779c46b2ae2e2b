import { LF_ARGS, type TrainConfig, type TrainValue } from './args.js';

/**
 * train.yaml as LLaMA-Factory's examples write it: one `key: value` a line, grouped under the examples' section
 * comments (### model, ### method, ### dataset, ### output, ### train). We write it ourselves rather than through a
 * YAML library so that the numbers come out the way PyYAML reads them (see formatValue).
 */
export const SECTIONS = ['model', 'method', 'dataset', 'output', 'train'] as const;
export type Section = (typeof SECTIONS)[number];

/** Keys whose section is not the one their argument group gives (the examples put them elsewhere). */
const SECTION_OF: Record<string, Section> = {
  deepspeed: 'method',
  do_train: 'method',
  output_dir: 'output', logging_steps: 'output', save_steps: 'output', plot_loss: 'output',
  overwrite_output_dir: 'output', save_only_model: 'output', report_to: 'output',
  dataloader_num_workers: 'dataset',
};

const GROUP_SECTION: Record<string, Section> = {
  ModelArguments: 'model', FinetuningArguments: 'method', DataArguments: 'dataset', GeneratingArguments: 'train', TrainingArguments: 'train',
};

/** The examples' order within each section; keys not listed (overrides) follow in the order given. */
const ORDER = [
  'model_name_or_path', 'quantization_bit', 'quantization_method', 'trust_remote_code',
  'stage', 'do_train', 'finetuning_type', 'lora_rank', 'lora_alpha', 'lora_dropout', 'lora_target', 'additional_target', 'pref_beta', 'pref_loss', 'deepspeed',
  'dataset_dir', 'dataset', 'template', 'cutoff_len', 'max_samples', 'preprocessing_num_workers', 'dataloader_num_workers',
  'output_dir', 'logging_steps', 'save_steps', 'plot_loss', 'overwrite_output_dir', 'save_only_model', 'report_to',
  'per_device_train_batch_size', 'gradient_accumulation_steps', 'learning_rate', 'num_train_epochs', 'lr_scheduler_type', 'warmup_ratio', 'bf16', 'ddp_timeout',
];

/** Floats the examples write with a dot even when whole (num_train_epochs: 3.0); other whole numbers stay whole (logging_steps: 10). */
const WHOLE_AS_FLOAT = new Set(['num_train_epochs']);

export function sectionOf(key: string): Section {
  return SECTION_OF[key] ?? GROUP_SECTION[LF_ARGS[key]?.group ?? ''] ?? 'train';
}

/** Words PyYAML (YAML 1.1) reads as booleans or null: such text must be quoted to stay text. */
const YAML11_WORDS = /^(y|n|yes|no|on|off|true|false|null|~|\.inf|\.nan)$/i;

/**
 * One value as YAML. A float is written with a dot and, when small, a signed two-digit exponent (5.0e-06,
 * 1.0e-04, 3.0): PyYAML's YAML 1.1 float pattern needs the dot and the sign, and reads `5e-6` as the STRING
 * "5e-6", which transformers then rejects. Text that YAML would read as something else is double-quoted (a JSON
 * string is a valid YAML one).
 */
export function formatValue(key: string, v: TrainValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return LF_ARGS[key]?.kind === 'float' && (!Number.isInteger(v) || WHOLE_AS_FLOAT.has(key)) ? formatFloat(v) : String(v);
  const plain = /^[A-Za-z_./][A-Za-z0-9_./@+,:-]*$/.test(v) && !YAML11_WORDS.test(v) && !/^[-+.]?\d/.test(v) && !/:$/.test(v);
  return plain ? v : quote(v);
}

/**
 * A JSON string is a YAML double-quoted one, but JSON leaves raw what PyYAML's reader refuses in any YAML stream
 * (DEL and the C1 controls: "unacceptable character #x007f"; U+FEFF, U+FFFE, U+FFFF) or reads as a line break and
 * folds into a space (U+0085, U+2028, U+2029): those are written as \u escapes, which both read back exactly.
 */
function quote(v: string): string {
  return JSON.stringify(v).replace(/[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatFloat(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '.inf' : v < 0 ? '-.inf' : '.nan';
  if (v === 0 || (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e15)) {
    const s = String(v);
    return /[.e]/.test(s) ? s : `${s}.0`;
  }
  const [m, e] = v.toExponential().split('e');
  const mant = m.includes('.') ? m : `${m}.0`;
  const exp = Number(e);
  return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/**
 * The whole file: a header of comment lines, then the sections in order, each key in the order the config holds
 * it (the examples' order first), with its comment (why it has that value) after it where one is given.
 */
export function writeTrainYaml(config: TrainConfig, o: { header?: string[]; comments?: Record<string, string> } = {}): string {
  const out: string[] = (o.header ?? []).map((l) => `# ${l}`.trimEnd());
  for (const section of SECTIONS) {
    const rank = (k: string) => { const i = ORDER.indexOf(k); return i < 0 ? ORDER.length : i; };
    const keys = Object.keys(config).filter((k) => sectionOf(k) === section).sort((a, b) => rank(a) - rank(b));
    if (!keys.length) continue;
    if (out.length) out.push('');
    out.push(`### ${section}`);
    for (const k of keys) {
      const c = o.comments?.[k];
      out.push(`${k}: ${formatValue(k, config[k])}${c ? `  # ${c}` : ''}`);
    }
  }
  return out.join('\n') + '\n';
}
