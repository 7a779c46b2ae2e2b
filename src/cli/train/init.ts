import { UserError } from '../../errors.js';
import { initRun } from '../../train/init.js';
import { RECIPES } from '../../train/recipes.js';
import { num, parseFlags } from '../flags.js';

const HELP = `llama3-zh train init --recipe NAME --data FILE[,FILE…] --out DIR [options] [KEY=VALUE…]

Writes a run folder for LLaMA-Factory: DIR/train.yaml, DIR/data/ (the data and dataset_info.json), a DeepSpeed
ZeRO config where the run needs one, DIR/run.sh (the command for each node) and DIR/llama3-zh.json. Nothing is
written unless every check passes.

  --recipe NAME     ${RECIPES.map((r) => r.name).join(', ')} (llama3-zh train recipes)
  --model MODEL     a Hugging Face folder, a catalog name, a pulled model, or a hub repo id owner/name
                    (default: the recipe's model)
  --data FILE,…     conversations or preference pairs in any format \`llama3-zh data\` reads
  --out DIR         the run folder (new or empty)
  --gpus N          GPUs per node (default 1)
  --nnodes N        nodes (default 1); run.sh then takes the node's rank and MASTER_ADDR
  --gpu-mem GB      memory per GPU in GiB for the fit check (default: nvidia-smi's, else no fit check)
  --force           replace a folder that holds a run; write a run that does not fit
  KEY=VALUE         any LLaMA-Factory setting, over the recipe's (checked against LLaMA-Factory's own list)

Checks: every key and value; the template against the model (llama3 on a base model is refused); cutoff_len
against the data's Llama-3 token lengths; memory per GPU (ZeRO-3 splits weights, gradients and optimizer states).`;

export async function initCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('train init', args, {
    recipe: { type: 'string' }, model: { type: 'string' }, data: { type: 'string', multiple: true }, out: { type: 'string' },
    gpus: { type: 'string' }, nnodes: { type: 'string' }, 'gpu-mem': { type: 'string' }, force: { type: 'boolean' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (!values.recipe) throw new UserError(`give --recipe NAME: ${RECIPES.map((r) => r.name).join(', ')} (llama3-zh train recipes)`, 2);
  if (!values.data?.length) throw new UserError('give the training data with --data FILE[,FILE…]', 2);
  if (!values.out) throw new UserError('give the run folder with --out DIR', 2);
  await initRun({
    recipe: values.recipe,
    model: values.model,
    data: values.data.flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean),
    out: values.out,
    gpus: num('--gpus', values.gpus, { min: 1, int: true }),
    nnodes: num('--nnodes', values.nnodes, { min: 1, int: true }),
    gpuMem: num('--gpu-mem', values['gpu-mem'], { min: 1 }),
    force: values.force,
    overrides: positionals,
    say: (l) => console.log(l),
    warn: (l) => console.error(l),
  });
}
