import { existsSync } from 'node:fs';
import { chatModel, type ChatModel } from '../chat/model.js';
import { TEMPLATE_NAMES } from '../chat/templates.js';
import { readSmallFile } from '../util/files.js';
import { UserError } from '../errors.js';
import { loadEngine } from '../engine/load.js';
import type { LoraAdapter } from '../engine/types.js';
import { DEFAULT_MODEL_NAME } from '../hub/catalog.js';
import { defaultStored, type ResolvedModel } from '../hub/resolve.js';
import { useModelsDir } from '../hub/store.js';
import { ensureModel, parseSource } from './fetchModel.js';
import { num } from './flags.js';

/** Flags every command that runs a model takes. */
export const MODEL_FLAGS = {
  model: { type: 'string', short: 'm' },
  template: { type: 'string' },
  'template-file': { type: 'string' },
  'special-tokens-in-content': { type: 'boolean' },
  'ctx-size': { type: 'string', short: 'c' },
  threads: { type: 'string', short: 't' },
  lora: { type: 'string', multiple: true },
  'rope-freq-base': { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  source: { type: 'string' },
  'models-dir': { type: 'string' },
} as const;

export const MODEL_FLAGS_HELP = `Model:
  -m, --model MODEL         a .gguf file, a name from 'llama3-zh models' or 'llama3-zh ls', a
                            repo id (owner/name[:QUANT]), or a Hugging Face (safetensors)
                            folder; one not downloaded yet is pulled first, and a folder is
                            converted to Q4_K_M first and kept in the store (asking, unless
                            --yes) (default: ${DEFAULT_MODEL_NAME} if pulled, else the demo model)
  -y, --yes                 pull or convert the model without asking
  --source hf|modelscope    the hub to pull it from (default hf; HF_ENDPOINT is honoured)
  --models-dir DIR          the local store (default ${'$'}LLAMA3ZH_MODELS or ~/.cache/llama3-zh/models)
  --template NAME           ${TEMPLATE_NAMES.join(', ')} (default: detected from the GGUF)
  --template-file FILE      a Jinja chat template file
  --special-tokens-in-content
                            read special-token texts such as <|eot_id|> inside message
                            content as those tokens (unsafe: whoever writes a message can
                            end its turn and write a system turn); by default content is
                            plain text and only the template's own markup has special tokens
  -c, --ctx-size N          context tokens (default: the model's, at most 8192; at most
                            4194304 in all, with --parallel)
  -t, --threads N           CPU threads (default: all cores)
  --lora FILE[:SCALE]       a LoRA adapter GGUF, repeatable (scale defaults to 1)
  --rope-freq-base N        override the RoPE frequency base (rope_theta); with -c 32768 and
                            1000000, the README's 32K trick without editing the model
                            (llama3-zh extend-context writes it into the file)`;

export interface ModelFlagValues {
  model?: string;
  template?: string;
  'template-file'?: string;
  'special-tokens-in-content'?: boolean;
  'ctx-size'?: string;
  threads?: string;
  lora?: string[];
  'rope-freq-base'?: string;
  yes?: boolean;
  source?: string;
  'models-dir'?: string;
}

/** FILE or FILE:SCALE (the last colon, so that C:\\x.gguf:0.5 works). */
export function parseLora(spec: string, flag = '--lora', where = ''): LoraAdapter {
  const m = /^(.+):([^:\\/]*)$/.exec(spec);
  const [path, scale] = !existsSync(spec) && m ? [m[1], num(`${flag} scale`, m[2], { min: 0, max: 100 })!] : [spec, 1];
  if (!existsSync(path)) throw new UserError(`LoRA adapter not found: ${path}${where}`);
  return { path, scale };
}

export function checkTemplateFlags(v: ModelFlagValues) {
  if (v.template && !TEMPLATE_NAMES.includes(v.template)) {
    throw new UserError(`unknown template "${v.template}"; choose one of: ${TEMPLATE_NAMES.join(', ')}`, 2);
  }
}

export function readTemplateFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  return readSmallFile(path, 'template file');
}

/**
 * The model the flags name, fetched if needed: a path, a stored model, a hub model (pulled after
 * asking, or with --yes), or without -m the default model if pulled, else the demo model.
 */
export async function chooseModel(v: ModelFlagValues, command = 'chat'): Promise<ResolvedModel & { demoNotice?: string }> {
  useModelsDir(v['models-dir']);
  const source = parseSource(v.source);
  if (v.model) return ensureModel(v.model, { yes: v.yes, source, command });
  const stored = defaultStored();
  if (stored) return stored;
  return {
    // Imported only here: it brings the whole Llama-3 vocabulary, which flag errors and --help need not load.
    path: await (await import('../hub/demoModel.js')).ensureDemoModel(),
    name: 'llama3-zh-demo',
    demoNotice:
      `No model given and the default model is not downloaded, so this is the built-in DEMO model: a tiny scripted\n` +
      `model that answers every question with the same sentence. To chat for real:\n` +
      `  llama3-zh pull ${DEFAULT_MODEL_NAME}     (4.9 GB; set HF_ENDPOINT=https://hf-mirror.com or add --source modelscope in China)`,
  };
}

/** Resolve and load the model the flags name, wired to its template (chat/model.ts). */
export async function openModel(v: ModelFlagValues, extra: { parallel?: number; model?: ResolvedModel & { demoNotice?: string }; command?: string; embeddingContextSize?: number } = {}): Promise<ChatModel> {
  checkTemplateFlags(v);
  const fileSource = readTemplateFile(v['template-file']);
  // Check the flags before anything slow (making the demo model, loading gigabytes).
  const contextSize = num('--ctx-size', v['ctx-size'], { int: true, min: 16 });
  const threads = num('--threads', v.threads, { int: true, min: 1, max: 512 });
  const lora = v.lora?.map((s) => parseLora(s));
  const ropeFreqBase = num('--rope-freq-base', v['rope-freq-base'], { min: 1 });
  const chosen = extra.model ?? await chooseModel(v, extra.command);
  const path = chosen.path;
  const demoNotice = chosen.demoNotice;
  const engine = await loadEngine({
    modelPath: path,
    contextSize,
    threads,
    lora: chosen.lora || lora ? [...(chosen.lora ?? []), ...(lora ?? [])] : undefined,
    ropeFreqBase,
    parallel: extra.parallel,
    embeddingContextSize: extra.embeddingContextSize,
  });
  try {
    return chatModel(engine, {
      // A created model's recorded template first; a catalog model's is known to be right (shareAI's v1 needs
      // llama3-v1, whatever its GGUF says). --template and --template-file beat both.
      templateName: v.template ?? chosen.template ?? chosen.catalog?.template,
      templateSource: fileSource ?? (v.template === undefined ? chosen.templateSource : undefined),
      defaultSystem: chosen.system,
      specialTokensInContent: v['special-tokens-in-content'],
      demoNotice,
    });
  } catch (e) {
    await engine.close();
    throw e;
  }
}
