import { TEMPLATE_NAMES } from '../../chat/templates.js';
import { UserError } from '../../errors.js';
import { useModelsDir } from '../../hub/store.js';
import { readSmallFile } from '../../util/files.js';
import { createWithUi } from '../convertFirst.js';
import { num, parseFlags } from '../flags.js';

const HELP = `llama3-zh create NAME --from SRC [options]

Make a model in the local store, as 'ollama create' does: convert a Hugging Face folder (merging a
PEFT LoRA adapter into it), or take a GGUF, quantize it, and register it as NAME with its chat
template and system prompt. Then 'llama3-zh chat -m NAME', 'serve NAME', 'eval -m NAME', 'ls' and
'rm NAME' know it.

  --from SRC             a Hugging Face folder (config.json + safetensors), a .gguf file, a name
                         from 'llama3-zh ls' or a catalog name that is downloaded
  --adapter DIR          a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors),
                         merged into the weights (W + scale·B·A); modules_to_save replace their
                         tensors. Without --from, its base model is looked up in the store and the
                         catalog from adapter_config.json's base_model_name_or_path
  --quantize TYPE        the GGUF type: f32, f16, bf16, q8_0, q4_k_m, q5_k_m, q6_k, … (default:
                         full precision, as the checkpoint is: bf16 for a bf16 checkpoint, as
                         llama.cpp's convert_hf_to_gguf --outtype auto and ollama create without
                         --quantize do; a GGUF is kept as it is). q4_k_m is the usual choice to run
  --template NAME        ${TEMPLATE_NAMES.join(', ')} (default: the source's: a catalog model's, else
                         detected from the chat template in the tokenizer)
  --template-file F      a Jinja chat template (HF chat_template syntax); checked: it must render a
                         conversation, and is kept with the model
  --system TEXT          the system prompt for conversations that bring none of their own
  --force                replace a model already called NAME
  -t, --threads N        threads to quantize with (default: every core)
  --models-dir DIR       the local store (default ${'$'}LLAMA3ZH_MODELS or ~/.cache/llama3-zh/models)

NAME: letters, digits, '.', '_', '-' (kept as local/NAME in the store), or owner/name; not a
catalog model's name. An interrupted create leaves nothing behind.`;

export async function createCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('create', args, {
    from: { type: 'string', short: 'f' },
    adapter: { type: 'string' },
    quantize: { type: 'string', short: 'q' },
    template: { type: 'string' },
    'template-file': { type: 'string' },
    system: { type: 'string', short: 's' },
    force: { type: 'boolean' },
    threads: { type: 'string', short: 't' },
    'models-dir': { type: 'string' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 1) throw new UserError(`usage: llama3-zh create NAME --from SRC (got ${positionals.length ? positionals.join(' ') : 'no NAME'}; llama3-zh create --help)`, 2);
  if (values.from === undefined && values.adapter === undefined) {
    throw new UserError('create needs --from SRC: a Hugging Face folder, a GGUF file, a store name or a catalog name', 2);
  }
  if (values.system !== undefined && !values.system.trim()) throw new UserError('--system is empty; leave it out for no system prompt', 2);
  const threads = num('--threads', values.threads, { int: true, min: 1, max: 1024 });
  useModelsDir(values['models-dir']);
  const file = values['template-file'];
  await createWithUi({
    name: positionals[0],
    from: values.from,
    adapter: values.adapter,
    quantize: values.quantize,
    template: values.template,
    templateFile: file === undefined ? undefined : { path: file, source: readSmallFile(file, 'template file') },
    system: values.system,
    force: values.force,
    threads,
  });
}
