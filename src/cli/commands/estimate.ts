import { UserError } from '../../errors.js';
import { defaultContext, estimateInference, findQuant, type InferenceEstimate, kvBytesPerElement, QUANT_TYPES } from '../../estimate/inference.js';
import { compareReadmeTable, README_COLUMNS, README_TABLE, README_TOLERANCE } from '../../estimate/readmeTable.js';
import { countParams, describeShape, NAMED_SHAPES, shapeFromParams } from '../../estimate/shape.js';
import { loadSource, type ModelSource } from '../../estimate/source.js';
import { GB, GIB, gib, int, type Term } from '../../estimate/terms.js';
import {
  estimateTraining, type ExtraModule, METHODS, type Method, parseExtras, parseMethod, parseTargets, type TrainingEstimate,
  TRAINING_DEFAULTS, type TrainingOptions,
} from '../../estimate/training.js';
import { num, parseFlags } from '../flags.js';

const HELP = `llama3-zh estimate MODEL | --params SIZE [options]

How much memory a model takes to run (llama.cpp, as llama3-zh runs it) and to fine-tune (PyTorch,
as LLaMA-Factory trains it). MODEL is a .gguf file (shape and actual tensor bytes from its header),
a Hugging Face model folder (its config.json), or a GGUF in the local store (owner/repo[/file]).
Sizes are GiB (2^30 bytes); 1 GiB = 1.074 GB.

  --params SIZE         a known shape instead of a file: ${Object.keys(NAMED_SHAPES).join(', ')}
                        (8b/70b = Llama-3, 405b = Llama-3.1, 1b/3b = Llama-3.2, 7b/13b/llama2-70b =
                        Llama-2, 30b = LLaMA-33B, 8x7b = Mixtral), or any size like 14b (a generic shape)

Inference:
  -c, --ctx N           context tokens per sequence (default: the model's, at most 8192, like chat/serve)
  --parallel N          sequences with their own context (default 1; llama3-zh serve uses 4)
  --kv-type T           KV cache type: f16 (default), q8_0, q4_0, f32, ...
  --quant Q             only this weight type (F16, Q8_0, Q4_K_M, IQ4_XS, ...)

Training:
  --method M            ${METHODS.join(', ')} (default: all five)
  --batch B             sequences per step on one device (default ${TRAINING_DEFAULTS.batch})
  --seq S               tokens per sequence (default ${TRAINING_DEFAULTS.seq})
  --lora-rank R         LoRA rank (default ${TRAINING_DEFAULTS.loraRank})
  --lora-targets LIST   all (default), attn, mlp, or e.g. q,v / q_proj,v_proj
  --train-extra LIST    also train lm_head, embed_tokens, norms (= input_layernorm,
                        post_attention_layernorm, norm) with LoRA
  --dpo                 DPO: chosen + rejected answers and a reference model

Output:
  --explain             every term with its formula and numbers
  --table               the README's training table next to our estimate for each cell
  --json                machine-readable

Example (shareAI's DPO recipe): llama3-zh estimate --params 8b --method lora --lora-rank 128 \\
  --lora-targets all --train-extra lm_head,norms --dpo --explain`;

const LORA_METHODS: Method[] = ['lora', 'qlora-8', 'qlora-4'];

export async function estimateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('estimate', args, {
    params: { type: 'string' },
    ctx: { type: 'string', short: 'c' },
    parallel: { type: 'string' },
    'kv-type': { type: 'string' },
    quant: { type: 'string' },
    method: { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    'lora-rank': { type: 'string' },
    'lora-targets': { type: 'string' },
    'train-extra': { type: 'string' },
    dpo: { type: 'boolean' },
    explain: { type: 'boolean' },
    table: { type: 'boolean' },
    json: { type: 'boolean' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (values.table) {
    const extra = Object.entries(values).filter(([k, v]) => v !== undefined && !['table', 'json'].includes(k)).map(([k]) => `--${k}`);
    if (positionals.length || extra.length) {
      throw new UserError(`--table compares the README's fixed table; it takes no MODEL or other options (got ${positionals[0] ?? extra[0]})`, 2);
    }
    return printReadmeTable(!!values.json);
  }
  if (positionals.length > 1) throw new UserError(`estimate takes one MODEL (got ${positionals.length}: ${positionals.join(' ')})`, 2);
  if (positionals.length && values.params) throw new UserError('give a MODEL or --params, not both', 2);
  if (!positionals.length && !values.params) throw new UserError('give a MODEL (.gguf file or Hugging Face folder) or --params SIZE such as 8b; see llama3-zh estimate --help', 2);

  // Check every flag before reading any file.
  const method = values.method !== undefined ? parseMethod(values.method) : undefined;
  const quant = values.quant !== undefined ? findQuant(values.quant) : undefined;
  const kvType = (values['kv-type'] ?? 'f16').toLowerCase();
  kvBytesPerElement(kvType);
  const ctxFlag = num('--ctx', values.ctx, { int: true, min: 16, max: 10_000_000 });
  const parallel = num('--parallel', values.parallel, { int: true, min: 1, max: 256 }) ?? 1;
  const loraFlags = (['lora-rank', 'lora-targets', 'train-extra'] as const).filter((k) => values[k] !== undefined);
  if (method && !LORA_METHODS.includes(method) && loraFlags.length) {
    throw new UserError(`--${loraFlags[0]} applies to ${LORA_METHODS.join(', ')}, not to --method ${method}`, 2);
  }
  const base: Omit<TrainingOptions, 'method'> = {
    batch: num('--batch', values.batch, { int: true, min: 1, max: 65536 }) ?? TRAINING_DEFAULTS.batch,
    seq: num('--seq', values.seq, { int: true, min: 1, max: 10_000_000 }) ?? TRAINING_DEFAULTS.seq,
    loraRank: num('--lora-rank', values['lora-rank'], { int: true, min: 1, max: 65536 }) ?? TRAINING_DEFAULTS.loraRank,
    loraTargets: values['lora-targets'] !== undefined ? parseTargets(values['lora-targets']) : TRAINING_DEFAULTS.loraTargets,
    extra: values['train-extra'] !== undefined ? parseExtras(values['train-extra']) : [] as ExtraModule[],
    dpo: !!values.dpo,
  };

  const src: ModelSource = values.params
    ? (() => { const shape = shapeFromParams(values.params); return { kind: 'params' as const, shape, params: countParams(shape).total }; })()
    : loadSource(positionals[0]);
  const showInference = !method || !!quant;
  const showTraining = !quant || !!method;
  const ctx = ctxFlag ?? defaultContext(src.shape);
  const inference = showInference
    ? estimateInference(src.shape, src.params, { ctx, parallel, kvType }, quant ? [quant] : QUANT_TYPES.filter((q) => q.common))
    : undefined;
  const training = showTraining ? (method ? [method] : [...METHODS]).map((m) => estimateTraining(src.shape, { ...base, method: m })) : undefined;

  if (values.json) {
    console.log(JSON.stringify({
      model: {
        kind: src.kind, path: src.path, name: src.shape.name, shape: src.shape, params: src.params,
        paramBreakdown: countParams(src.shape), weights: src.weights, fileSize: src.fileSize,
      },
      inference: inference && { ...inference, fileWeights: src.weights && src.kind === 'gguf' ? src.weights.bytes : undefined },
      training: training?.map((t) => ({ ...t, options: { ...base, method: t.method } })),
    }, null, 2));
    return;
  }
  printModel(src);
  if (inference) printInference(src, inference, !!values.explain);
  if (training) printTraining(training, base, !!values.explain);
}

function printModel(src: ModelSource) {
  const s = src.shape;
  console.log(`${s.name}: ${int(src.params)} parameters (${(src.params / 1e9).toFixed(2)}B)${s.generic ? ` — ${s.generic}` : ''}`);
  console.log(`  ${describeShape(s)}`);
  const shaped = countParams(s).total;
  if (shaped !== src.params) console.log(`  note: the Llama shape accounts for ${int(shaped)} of them (the rest: biases or tensors a Llama has not); training terms use the shape`);
  if (src.kind === 'gguf' && src.weights) console.log(`  file: ${src.path}, ${gib(src.fileSize!)}; ${src.weights.what}: ${gib(src.weights.bytes)}`);
  if (src.kind === 'hf' && src.weights) console.log(`  folder: ${src.path}; ${src.weights.what}: ${gib(src.weights.bytes)}`);
}

function printTerms(terms: Term[]) {
  for (const t of terms) console.log(`    ${t.label.padEnd(52)} ${gib(t.bytes).padStart(10)}  = ${t.formula}`);
}

function printInference(src: ModelSource, e: InferenceEstimate, explain: boolean) {
  const fileWeights = src.kind === 'gguf' ? src.weights?.bytes : undefined;
  const u = unitFor(Math.max(...e.rows.map((r) => r.total), (fileWeights ?? 0) + e.contextBytes));
  console.log(`\nInference with llama.cpp: ${e.ctx} tokens × ${e.parallel} sequence${e.parallel > 1 ? 's' : ''} (${u.name} = 2^${Math.log2(u.bytes)} bytes)`);
  for (const t of e.context) console.log(`  ${t.label.padEnd(28)} ${gib(t.bytes).padStart(9)}${explain ? `  = ${t.formula}` : ''}`);
  const rows: string[][] = [['type', 'bits/weight', `weights ${u.name}`, `total ${u.name}`, 'total GB']];
  if (fileWeights !== undefined) {
    rows.push(['this file', ((8 * fileWeights) / src.params).toFixed(2), cell(fileWeights, u), cell(fileWeights + e.contextBytes, u), ((fileWeights + e.contextBytes) / GB).toFixed(1)]);
  }
  for (const r of e.rows) rows.push([r.quant, r.bpw.toFixed(2), cell(r.weights, u), cell(r.total, u), (r.total / GB).toFixed(1)]);
  printColumns(rows, '  ');
  if (explain) {
    console.log('  weights = parameters × bits per weight / 8:');
    for (const r of e.rows) console.log(`    ${r.quant.padEnd(8)} ${int(src.params)} × ${r.bpw.toFixed(3)} / 8 = ${int(r.weights)} B (${r.source})`);
  }
  if (e.ctx > src.shape.contextLength) console.log(`  note: ${e.ctx} tokens is beyond the model's trained context of ${src.shape.contextLength}`);
  if (e.parallel === 1) console.log('  llama3-zh serve decodes 4 sequences at once by default (--parallel 4): 4 × the KV cache.');
}

function printTraining(list: TrainingEstimate[], o: Omit<TrainingOptions, 'method'>, explain: boolean) {
  const lora = list.some((e) => LORA_METHODS.includes(e.method))
    ? `, LoRA rank ${o.loraRank} on ${o.loraTargets.join(',')}${o.extra.length ? ` + ${o.extra.join(', ')}` : ''}` : '';
  const u = unitFor(Math.max(...list.map((e) => e.total)));
  console.log(`\nTraining: batch ${o.batch} × ${o.seq} tokens${o.dpo ? ', DPO' : ''}${lora}, gradient checkpointing, AdamW (${u.name} = 2^${Math.log2(u.bytes)} bytes)`);
  const group = (e: TrainingEstimate, g: Term['group']) => cell(e.terms.filter((t) => t.group === g).reduce((n, t) => n + t.bytes, 0), u);
  const rows: string[][] = [['method', 'trainable', 'weights', 'grads', 'optimizer', 'activations', 'overhead', `total ${u.name}`, 'total GB']];
  for (const e of list) {
    rows.push([e.method, int(e.trainable), group(e, 'weights'), group(e, 'gradients'), group(e, 'optimizer'), group(e, 'activations'), group(e, 'overhead'), cell(e.total, u), (e.total / GB).toFixed(1)]);
  }
  printColumns(rows, '  ');
  if (!explain) {
    console.log('  per device, without ZeRO/FSDP sharding; --explain shows every term and its formula');
    return;
  }
  for (const e of list) {
    console.log(`\n  ${e.method}: trainable ${e.trainableFormula}`);
    printTerms(e.terms);
    console.log(`    ${'total'.padEnd(52)} ${gib(e.total).padStart(10)}  = ${int(e.total)} B (${(e.total / GB).toFixed(1)} GB)`);
    for (const a of e.assumptions) console.log(`    assumes: ${a}`);
  }
}

/** GiB, unless a whole table is under 1 GiB (test models): then MiB, so that it does not read as zeros. */
function unitFor(largest: number): Unit {
  return largest < GIB ? { name: 'MiB', bytes: 2 ** 20 } : { name: 'GiB', bytes: GIB };
}
interface Unit { name: string; bytes: number }

/** A table cell with one decimal; "<0.1" rather than a misleading 0.0. */
function cell(bytes: number, u: Unit): string {
  return bytes === 0 ? '0' : bytes < 0.05 * u.bytes ? '<0.1' : (bytes / u.bytes).toFixed(1);
}

function printColumns(rows: string[][], indent: string) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(indent + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd());
}

function printReadmeTable(json: boolean) {
  const cells = compareReadmeTable();
  const worst = cells.reduce((a, b) => (Math.abs(b.diff) > Math.abs(a.diff) ? b : a));
  const outside = cells.filter((c) => Math.abs(c.diff) > README_TOLERANCE);
  const settings = `batch ${TRAINING_DEFAULTS.batch} × ${TRAINING_DEFAULTS.seq} tokens, LoRA rank ${TRAINING_DEFAULTS.loraRank} on all linear layers, gradient checkpointing, AdamW`;
  if (json) {
    console.log(JSON.stringify({ tolerance: README_TOLERANCE, settings, cells, worst, outside }, null, 2));
    return;
  }
  const rowName = (m: Method) => README_TABLE.find((r) => r.method === m)!;
  console.log("The README's training table (LLaMA-Factory's rule of thumb) → our estimate, in GB (10^9 bytes, as the README)");
  console.log(`Ours: ${settings}; 7B/13B/70B = Llama-2, 30B = LLaMA-33B, 8x7B = Mixtral.\n`);
  const rows: string[][] = [['Method', 'Bits', ...README_COLUMNS.map((c) => c.label)]];
  for (const r of README_TABLE) {
    rows.push([r.row, r.bits, ...README_COLUMNS.map((c) => {
      const cell = cells.find((x) => x.method === r.method && x.column === c.key)!;
      const pct = `${cell.diff >= 0 ? '+' : ''}${Math.round(cell.diff * 100)}%`;
      const ours = cell.oursBytes / GB;
      return `${cell.readmeGB} → ${ours < 100 ? ours.toFixed(1) : Math.round(ours)} ${pct}${Math.abs(cell.diff) > README_TOLERANCE ? '!' : ''}`;
    })]);
  }
  printColumns(rows, '');
  const w = rowName(worst.method);
  const col = README_COLUMNS.find((c) => c.key === worst.column)!.label;
  console.log(`\nWorst cell: ${w.row} ${w.bits} ${col}, README ${worst.readmeGB} GB, ours ${(worst.oursBytes / GB).toFixed(1)} GB (${worst.diff >= 0 ? '+' : ''}${(worst.diff * 100).toFixed(1)}%).`);
  console.log(outside.length
    ? `${outside.length} cell(s) (marked !) are outside ±${README_TOLERANCE * 100}%: the README's number cannot be reached by this model without bending it.`
    : `Every cell is within ±${README_TOLERANCE * 100}%. One model for all cells, no per-cell factors; llama3-zh estimate --params 7b --method lora --explain shows its terms.`);
}
