import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { UserError } from '../../errors.js';
import { readGguf } from '../../gguf/reader.js';
import { checkModel } from '../../gguf/validate.js';
import { meta, tensorElements, tensorTypeName, type GgufFile } from '../../gguf/types.js';
import { QUANT_BPW, QUANT_TYPES, quantizeInWorker } from '../../engine/llamacpp/quantize.js';
import { humanBytes } from '../../util/human.js';
import { freeBytes, outputTarget, sameFile, tempDone, tempPath } from '../../util/files.js';
import { num, parseFlags } from '../flags.js';
import { progressBar } from '../progress.js';

const HELP = `llama3-zh quantize — a smaller GGUF, with llama.cpp's own quantizer (what llama-quantize writes)

  llama3-zh quantize IN.gguf OUT.gguf TYPE [--allow-requantize] [--force] [--threads N]

TYPE (any case): ${Object.keys(QUANT_TYPES).join(', ')}
  The _M types keep some tensors at a higher type (output, some attn_v and ffn_down layers), as
  llama-quantize does. Q4_K_M is the usual choice; Q8_0 is near lossless.

Options:
  --allow-requantize  quantize a file that is already quantized (quality suffers: quantize the
                      F16/BF16 original when you have it)
  --force             replace OUT if it exists
  --threads N         threads to quantize with (default: every core)`;

/**
 * Unquantized ggml types. llama.cpp's quantizer (llama-quant.cpp) throws "requantizing from type … is disabled" for a
 * tensor of any other type it would convert unless allow_requantize is set; we refuse a file with any quantized
 * matrix up front, before a temp file is written (a little stricter: llama.cpp copies a tensor already of its target type).
 */
const UNQUANTIZED = new Set(['F32', 'F16', 'BF16']);

/**
 * The output's size, roughly: 1-d tensors stay F32 and the rest take the type's bits per weight (llama-quantize's own
 * figures), plus the header, with 10% for the higher-type tensors of the mix and fallback types of odd-width rows.
 */
function estimateOutput(f: GgufFile, type: string): number {
  let bytes = f.dataOffset;
  for (const t of f.tensors) {
    const n = tensorElements(t.dims);
    bytes += t.dims.filter((d) => d > 1).length <= 1 ? n * 4 : (n * QUANT_BPW[type]) / 8;
  }
  return Math.ceil(bytes * 1.1);
}

export async function quantizeCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('quantize', args, {
    'allow-requantize': { type: 'boolean' },
    force: { type: 'boolean', short: 'f' },
    threads: { type: 'string', short: 't' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 3) throw new UserError('usage: llama3-zh quantize IN.gguf OUT.gguf TYPE (llama3-zh quantize --help)', 2);
  const [input, output, typeArg] = positionals;
  const type = typeArg.toUpperCase();
  const ftype = QUANT_TYPES[type];
  if (ftype === undefined) throw new UserError(`unknown type '${typeArg}'; the types are: ${Object.keys(QUANT_TYPES).join(', ')}`, 2);
  const threads = num('--threads', values.threads, { int: true, min: 1, max: 1024 }) ?? availableParallelism();

  // Our reader and validator first: llama.cpp's loader aborts the whole process (GGML_ASSERT) on some bad files.
  const file = readGguf(input, { skipArrays: true });
  checkModel(file);
  const quantized = file.tensors.find((t) => t.dims.length >= 2 && !UNQUANTIZED.has(tensorTypeName(t.type)));
  if (quantized && !values['allow-requantize']) {
    const ft = meta<number>(file, 'general.file_type');
    const named = Object.entries(QUANT_TYPES).find(([, v]) => v === ft)?.[0];
    throw new UserError(`${input} is already quantized (${named ?? `${tensorTypeName(quantized.type)} tensors, e.g. ${quantized.name}`}); llama.cpp requantizes only with --allow-requantize, and quality suffers: quantize the F16/BF16 original when you have it`);
  }

  const target = outputTarget(output);
  if (sameFile(input, target)) throw new UserError(`OUT is IN (${output} is ${input}); give another output file`, 2);
  if (existsSync(target) && !values.force) throw new UserError(`${output} exists; pass --force to replace it`);
  const estimate = estimateOutput(file, type);
  const free = freeBytes(dirname(target));
  if (free !== undefined && estimate > free) {
    throw new UserError(`not enough disk space: ${type} of ${input} needs about ${humanBytes(estimate)} and ${dirname(target)} has ${humanBytes(free)} free`);
  }
  if (!existsSync(dirname(target))) throw new UserError(`cannot write ${output}: its folder does not exist`);

  const tmp = tempPath(target);
  const { result, worker } = quantizeInWorker({ input, output: tmp, ftype, nthread: threads, allowRequantize: !!values['allow-requantize'] });
  const onInt = () => {
    // The native call cannot be interrupted (terminate waits for it), so remove the temp file and end the process.
    rmSync(tmp, { force: true });
    process.exit(130);
  };
  process.on('SIGINT', onInt).on('SIGTERM', onInt);
  const bar = progressBar(`quantizing to ${type}`);
  bar.start(estimate);
  const poll = setInterval(() => {
    try { bar.update(statSync(tmp).size, Math.max(estimate, statSync(tmp).size)); } catch { /* not created yet */ }
  }, 200);
  let r;
  try {
    r = await result;
  } finally {
    clearInterval(poll);
    process.off('SIGINT', onInt).off('SIGTERM', onInt);
    await worker.terminate();
  }
  if (r.rc !== 0) {
    rmSync(tmp, { force: true });
    tempDone(tmp);
    if (process.stderr.isTTY) process.stderr.write('\n');
    // Our check above is stricter than llama.cpp's (it refuses only tensors whose type would change), so this is a
    // safety net; its message names the ggml type, and the flag is what the user can do about it.
    const hint = /requantizing from type .* is disabled/.test(r.error ?? '') ? '; pass --allow-requantize' : '';
    throw new UserError(`llama.cpp cannot quantize ${input}: ${r.error}${hint}`);
  }
  const size = statSync(tmp).size;
  bar.update(size, size);
  bar.done();
  try {
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { force: true });
    tempDone(tmp);
  }
  console.log(`wrote ${output}: ${type}, ${humanBytes(size)} (from ${humanBytes(file.fileSize)})`);
}
