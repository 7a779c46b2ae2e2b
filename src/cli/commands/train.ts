import { UserError } from '../../errors.js';

const HELP = `llama3-zh train SUBCOMMAND [options]     (llama3-zh train SUBCOMMAND --help for details)

Fine-tune with LLaMA-Factory (torchrun, DeepSpeed or Ray, one GPU or many nodes): llama3-zh writes the
config right, starts the run, watches it, and brings the result back as a model to chat, serve and eval.

  recipes [NAME]                                   the original project's recipes, and what each needs
  init --recipe NAME --data FILE… --out DIR [--model MODEL] [--gpus N] [--nnodes N] [--gpu-mem GB] [--force] [KEY=VALUE…]
                                                   a run folder: train.yaml, data, DeepSpeed config, run.sh
  run DIR [--gpus LIST] [--nnodes N --node-rank R --master-addr HOST [--master-port P]] [--ray] [--fresh] [--verbose] [--dry-run]
                                                   start llamafactory-cli train, with a progress bar
  watch DIR [--plot loss.svg] [--once]             follow a run started anywhere: progress, loss chart
  export DIR (--name NAME | --out OUT.gguf) [--checkpoint N] [--type T] [--base DIR] [--force]
                                                   the trained adapter merged into its base, as a GGUF

The web page shows a live loss curve too: llama3-zh serve --train-dir DIR`;

type Sub = (args: string[]) => Promise<void>;

/** Each subcommand is its own file under cli/train/, loaded when it runs. */
const SUBCOMMANDS: Record<string, () => Promise<Sub>> = {
  recipes: async () => (await import('../train/recipes.js')).recipesCommand,
  init: async () => (await import('../train/init.js')).initCommand,
  run: async () => (await import('../train/run.js')).runCommand,
  watch: async () => (await import('../train/watch.js')).watchCommand,
  export: async () => (await import('../train/export.js')).exportCommand,
};

export async function trainCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(HELP);
    return;
  }
  const load = SUBCOMMANDS[sub];
  if (!load) throw new UserError(`unknown subcommand '${sub}'; subcommands: ${Object.keys(SUBCOMMANDS).join(', ')} (llama3-zh train --help)`, 2);
  await (await load())(rest);
}
