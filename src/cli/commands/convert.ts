import { existsSync, statSync } from 'node:fs';
import { UserError } from '../../errors.js';
import { CONVERT_TYPES, convertModel, type TensorHook } from '../../convert/convert.js';
import { humanBytes } from '../../util/human.js';
import { outputTarget } from '../../util/files.js';
import { num, parseFlags } from '../flags.js';
import { progressBar } from '../progress.js';
import { ADAPTER_FLAGS, ADAPTER_HELP, adapterHook, convertAdapterCommand, isPeftFolder } from '../adapterConvert.js';

const HELP = `llama3-zh convert — a Hugging Face Llama folder to GGUF, as llama.cpp's convert_hf_to_gguf.py writes it

  llama3-zh convert SRC --out OUT.gguf [--type TYPE] [--threads N] [--force]

SRC: a Hugging Face model folder (config.json, model.safetensors or shards with
  model.safetensors.index.json, tokenizer.json): LlamaForCausalLM (Llama-2, 3, 3.1, 3.2) or MistralForCausalLM.

Options:
  --out FILE      the GGUF to write (required)
  --type TYPE     ${CONVERT_TYPES.join(', ')}
                  (default auto: bf16 for a bf16 checkpoint, else f16, as llama.cpp's --outtype auto;
                  a quantize type converts to 16 bits first, then runs llama.cpp's own quantizer)
  --name NAME     general.name in the GGUF (default: from config.json or the folder name)
  --threads N     threads to quantize with (default: every core)
  --force         replace OUT if it exists
${ADAPTER_HELP}`;

/**
 * What SRC names. Today a folder path; helper "create" extends this with store and catalog names (a model pulled
 * with safetensors only resolves to its folder in the store).
 */
export function resolveSource(src: string): string {
  if (!existsSync(src)) throw new UserError(`no such model folder: ${src}`);
  if (!statSync(src).isDirectory()) throw new UserError(`${src} is not a folder; convert takes a Hugging Face model folder (config.json + safetensors)`);
  return src;
}

export async function convertCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('convert', args, {
    out: { type: 'string', short: 'o' },
    type: { type: 'string', short: 't' },
    name: { type: 'string' },
    threads: { type: 'string' },
    force: { type: 'boolean', short: 'f' },
    // `--adapter DIR` merges a PEFT adapter before converting; `--base SRC` with a PEFT folder as SRC writes a
    // llama.cpp LoRA GGUF (cli/adapterConvert.ts).
    ...ADAPTER_FLAGS,
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 1 || !values.out) throw new UserError('usage: llama3-zh convert SRC --out OUT.gguf [--type TYPE] (llama3-zh convert --help)', 2);
  const threads = num('--threads', values.threads, { int: true, min: 1, max: 1024 });
  // The type first: a typo is answered before a multi-gigabyte folder is read.
  if (values.type !== undefined && !CONVERT_TYPES.includes(values.type.toLowerCase())) {
    throw new UserError(`unknown type '${values.type}'; the types are: ${CONVERT_TYPES.join(', ')}`, 2);
  }
  const src = resolveSource(positionals[0]);
  const out = values.out;
  if (existsSync(outputTarget(out)) && !values.force) throw new UserError(`${out} exists; pass --force to replace it`);
  if (isPeftFolder(src, values.base)) return convertAdapterCommand({ dir: src, base: values.base, out, type: values.type, name: values.name, adapter: values.adapter });
  if (values.base !== undefined) throw new UserError(`--base is for a PEFT adapter folder as SRC (${src} has no adapter_config.json); to merge an adapter into ${src}, pass --adapter DIR`);
  const hook: TensorHook | undefined = adapterHook(values.adapter, src);

  const ac = new AbortController();
  // Converting stops at the next chunk; llama.cpp's quantizer cannot be interrupted, so then the process ends
  // (util/files' exit handler removes the temp files, as quantize does).
  // The shell's convention: 128 + the signal's number (SIGINT 2 → 130, SIGTERM 15 → 143).
  let code = 130;
  const onInt = (sig: NodeJS.Signals) => { code = sig === 'SIGTERM' ? 143 : 130; return phase === 'quantize' ? process.exit(code) : ac.abort(); };
  process.on('SIGINT', onInt).on('SIGTERM', onInt);
  let bar: ReturnType<typeof progressBar> | undefined;
  let phase = '';
  try {
    const r = await convertModel({
      src, out, type: values.type, name: values.name, threads, hook, signal: ac.signal,
      onProgress: (done, total, p) => {
        if (p !== phase) {
          bar?.done();
          phase = p;
          bar = progressBar(p === 'convert' ? 'converting' : 'quantizing');
          bar.start(total, done);
        } else bar!.update(done, total);
      },
    });
    bar?.done();
    console.log(`wrote ${out}: ${r.type}, ${humanBytes(r.bytes)}`);
  } catch (e) {
    if (bar && process.stderr.isTTY) process.stderr.write('\n');
    if (ac.signal.aborted) throw new UserError('interrupted; nothing was written', code);
    throw e;
  } finally {
    process.off('SIGINT', onInt).off('SIGTERM', onInt);
  }
}
