import type { TrainConfig } from '../../train/args.js';
import { chooseZero } from '../../train/checks.js';
import { DS_FILE } from '../../train/deepspeed.js';
import { findRecipe, RECIPES } from '../../train/recipes.js';
import { writeTrainYaml } from '../../train/yaml.js';
import { parseFlags } from '../flags.js';

const HELP = `llama3-zh train recipes [NAME]

The original project's fine-tuning recipes as LLaMA-Factory configs. Without NAME: the list. With NAME: where
its values come from, the data it needs, and the train.yaml \`train init --recipe NAME\` writes (for one GPU,
the recipe's own model and a data file called DATA).`;

export async function recipesCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('train recipes', args, {}, true);
  if (values.help) { console.log(HELP); return; }
  if (!positionals.length) {
    const w = Math.max(...RECIPES.map((r) => r.name.length));
    for (const r of RECIPES) console.log(`${r.name.padEnd(w)}  ${r.data === 'pair' ? 'pairs        ' : 'conversations'}  ${r.title}`);
    console.log('\nllama3-zh train recipes NAME shows one in full; llama3-zh train init --recipe NAME … writes a run folder.');
    return;
  }
  const r = findRecipe(positionals[0]);
  const config: TrainConfig = { ...r.config, model_name_or_path: r.defaultModel, dataset: 'DATA' };
  const zero = chooseZero(config, undefined, 1, undefined);
  if (zero) config.deepspeed = DS_FILE[zero];
  const out = [
    `${r.name}: ${r.title}`,
    '',
    'Where the values come from:',
    ...r.from.map((f) => `  - ${f}`),
    '',
    `Data: ${r.dataHelp}.`,
    `Model: ${r.defaultModel} unless --model is given.`,
    '',
    `train.yaml (one GPU${zero ? `; ${DS_FILE[zero]} written beside it` : ''}):`,
    '',
    writeTrainYaml(config, { comments: r.comments }).trimEnd(),
  ];
  console.log(out.join('\n'));
}
