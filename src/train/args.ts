import argsFile from './llamafactoryArgs.json' with { type: 'json' };
import { UserError } from '../errors.js';

/**
 * The keys `llamafactory-cli train` accepts, read from LLaMA-Factory's sources (llamafactoryArgs.json says which
 * version). LLaMA-Factory rejects an unknown key ("Some keys are not used by the HfArgumentParser") only after
 * Python, torch and the model have loaded, and never checks a Literal's value; we check both before writing.
 */
export interface ArgSpec {
  group: string;
  type: string;
  kind: 'literal' | 'bool' | 'int' | 'float' | 'str' | 'any';
  nullable: boolean;
  default?: unknown;
  choices?: (string | number)[];
}

export const LF_SOURCE = argsFile.source;
export const LF_ARGS: Record<string, ArgSpec> = argsFile.args as Record<string, ArgSpec>;
export const LF_TEMPLATES: readonly string[] = argsFile.templates;

export type TrainValue = string | number | boolean | null;
export type TrainConfig = Record<string, TrainValue>;

/** The closest known key, for "did you mean". */
export function closestKey(key: string): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of Object.keys(LF_ARGS)) {
    const d = editDistance(key, k);
    if (d < bestD) { best = k; bestD = d; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** One problem with one key, or undefined: an unknown key, or a value of the wrong type or outside its choices. */
export function checkArg(key: string, value: TrainValue): string | undefined {
  const spec = LF_ARGS[key];
  if (!spec) {
    const near = closestKey(key);
    return `LLaMA-Factory ${LF_SOURCE.version} has no setting "${key}"${near ? ` (did you mean ${near}?)` : ''}`;
  }
  if (value === null) return spec.nullable || spec.kind === 'any' ? undefined : `${key} cannot be null (${spec.type})`;
  switch (spec.kind) {
    case 'bool':
      return typeof value === 'boolean' ? undefined : `${key} must be true or false, not ${JSON.stringify(value)}`;
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : `${key} must be a whole number, not ${JSON.stringify(value)}`;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `${key} must be a number, not ${JSON.stringify(value)}`;
    case 'literal':
    case 'str':
      if (spec.choices && !spec.choices.includes(value as string | number)) {
        return `${key} must be one of ${spec.choices.join(', ')}, not ${JSON.stringify(value)}`;
      }
      if (spec.kind === 'str' && typeof value !== 'string') return `${key} must be text, not ${JSON.stringify(value)}`;
      return undefined;
    default:
      return undefined;
  }
}

/** Every problem in a config, one line each. `template` is checked against LLaMA-Factory's registered names. */
export function checkConfig(config: TrainConfig): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    const p = checkArg(k, v);
    if (p) problems.push(p);
  }
  const t = config.template;
  if (typeof t === 'string' && !LF_TEMPLATES.includes(t)) {
    problems.push(`template "${t}" is not one of LLaMA-Factory's templates (llama3, default, alpaca, vicuna, …)`);
  }
  return problems;
}

/**
 * A KEY=VALUE override read as YAML would read the scalar (LLaMA-Factory loads its YAML with yaml.safe_load), then
 * coerced to the key's type: `lora_rank=128` is a number, `bf16=true` a boolean, `lora_target=q_proj,v_proj` text.
 */
export function parseOverride(arg: string): [string, TrainValue] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UserError(`"${arg}" is not KEY=VALUE: give LLaMA-Factory settings as e.g. learning_rate=5e-6`);
  const key = arg.slice(0, eq).trim();
  const raw = arg.slice(eq + 1);
  const spec = LF_ARGS[key];
  if (!spec) throw new UserError(checkArg(key, raw)!);
  let value: TrainValue = raw;
  if (raw === 'null' || raw === '~') value = null;
  else if (spec.kind === 'bool') value = raw === 'true' ? true : raw === 'false' ? false : raw;
  else if (spec.kind === 'int' || spec.kind === 'float') value = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw) ? Number(raw) : raw;
  else if (spec.kind === 'literal' && spec.choices?.every((c) => typeof c === 'number')) value = Number(raw);
  else if (spec.kind === 'any' && /^[-+]?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
  const p = checkArg(key, value);
  if (p) throw new UserError(p);
  return [key, value];
}
