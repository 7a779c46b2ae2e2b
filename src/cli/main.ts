import { UserError } from '../errors.js';
type Command = (args: string[]) => Promise<void>;

/** Each command is imported when it runs: `--help` or `models` need not load llama.cpp. */
const COMMANDS: Record<string, { load: () => Promise<Command>; about: string }> = {
  chat: { load: async () => (await import('./commands/chat.js')).chatCommand, about: 'chat with a model in the terminal (streaming, multi-turn, or one-shot with -p)' },
  serve: { load: async () => (await import('./commands/serve.js')).serveCommand, about: 'serve a model over HTTP: OpenAI, ollama and simple APIs, with continuous batching' },
  models: { load: async () => (await import('./commands/models.js')).modelsCommand, about: 'the catalog of Chinese Llama-3 models, and the models in the local store' },
  pull: { load: async () => (await import('./commands/pull.js')).pullCommand, about: 'download a model from Hugging Face (or a mirror) or ModelScope: resumable, verified' },
  ls: { load: async () => (await import('./commands/ls.js')).lsCommand, about: 'list the models in the local store' },
  rm: { load: async () => (await import('./commands/rm.js')).rmCommand, about: 'delete models from the local store' },
  template: { load: async () => (await import('./commands/template.js')).templateCommand, about: 'render chat templates exactly as the model sees them' },
  gguf: { load: async () => (await import('./commands/gguf.js')).ggufCommand, about: 'inspect GGUF files, edit their metadata; synthesize test and benchmark models' },
  estimate: { load: async () => (await import('./commands/estimate.js')).estimateCommand, about: 'memory to run a model (weights by quant type, KV cache) and to fine-tune it (full, LoRA, QLoRA)' },
  eval: { load: async () => (await import('./commands/eval.js')).evalCommand, about: 'C-Eval, CMMLU, MMLU and TriviaQA scores of models, as the official harnesses score them' },
  convert: { load: async () => (await import('./commands/convert.js')).convertCommand, about: 'a Hugging Face Llama folder (safetensors) to GGUF: f16, bf16, q8_0 or any quantize type' },
  quantize: { load: async () => (await import('./commands/quantize.js')).quantizeCommand, about: "quantize a GGUF (Q4_K_M, Q8_0, …) with llama.cpp's own quantizer" },
  create: { load: async () => (await import('./commands/create.js')).createCommand, about: 'make a model in the store from a Hugging Face folder or a GGUF: convert, merge a LoRA, quantize, template' },
  'extend-context': { load: async () => (await import('./commands/extendContext.js')).extendContextCommand, about: 'a longer context for a GGUF or a Hugging Face folder (context length, RoPE base)' },
  train: { load: async () => (await import('./commands/train.js')).trainCommand, about: 'fine-tune with LLaMA-Factory: recipes, run folders, launch on one GPU or many nodes, watch, export to GGUF' },
  engine: { load: async () => (await import('./commands/engine.js')).engineCommand, about: 'which llama.cpp runs models here: binary, CPU library, threads, repacking' },
  web: { load: async () => (await import('./commands/web.js')).webCommand, about: 'the model in the browser: export a static site (phones, laptops, offline) that runs it with WebAssembly' },
  data: { load: async () => (await import('./commands/data.js')).dataCommand, about: 'training data: convert formats, check, stats with Llama-3 tokens, sample, mix, dedupe, rewrite, export' },
};

const HELP = `llama3-zh — Chinese Llama-3 models: chat, serve, download, prepare data, evaluate, GGUF tools

Usage: llama3-zh COMMAND [options]     (llama3-zh COMMAND --help for details)

${Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(14)} ${c.about}`).join('\n')}`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../../../package.json').version);
    return 0;
  }
  const command = COMMANDS[cmd];
  if (!command) {
    console.error(`llama3-zh: unknown command '${cmd}'; commands: ${Object.keys(COMMANDS).join(', ')} (llama3-zh --help)`);
    return 2;
  }
  try {
    await (await command.load())(args);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`llama3-zh ${cmd}: ${e.message}`);
      return e.exitCode;
    }
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return 0;
    // A bug of ours, not the user's: one line, and the stack only on request.
    console.error(`llama3-zh ${cmd}: internal error: ${(e as Error).message ?? e} (set LLAMA3ZH_DEBUG=1 for details)`);
    if (process.env.LLAMA3ZH_DEBUG) console.error(e);
    return 70;
  }
}
