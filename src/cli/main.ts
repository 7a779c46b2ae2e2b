import { UserError } from '../errors.js';
import { chatCommand } from './commands/chat.js';
import { extendContextCommand } from './commands/extendContext.js';
import { ggufCommand } from './commands/gguf.js';
import { serveCommand } from './commands/serve.js';
import { templateCommand } from './commands/template.js';

const COMMANDS: Record<string, { run: (args: string[]) => Promise<void>; about: string }> = {
  chat: { run: chatCommand, about: 'chat with a model in the terminal (streaming, multi-turn, or one-shot with -p)' },
  serve: { run: serveCommand, about: 'serve a model over HTTP: OpenAI, ollama and simple APIs, with continuous batching' },
  template: { run: templateCommand, about: 'render chat templates exactly as the model sees them' },
  gguf: { run: ggufCommand, about: 'inspect GGUF files, edit their metadata; synthesize test and benchmark models' },
  'extend-context': { run: extendContextCommand, about: 'a longer context for a GGUF or a Hugging Face folder (context length, RoPE base)' },
};

const HELP = `llama3-zh — Chinese Llama-3 models: chat, serve, templates, GGUF tools

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
    await command.run(args);
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
