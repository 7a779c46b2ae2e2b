import { existsSync } from 'node:fs';
import { UserError } from '../../errors.js';
import { useModelsDir } from '../../hub/store.js';
import { exportToFile, type ExportPlan, planExport, templateAddBos, templateJinja } from '../../train/export.js';
import { humanBytes } from '../../util/human.js';
import { outputTarget } from '../../util/files.js';
import { createWithUi } from '../convertFirst.js';
import { withInterrupt } from '../fetchModel.js';
import { num, parseFlags } from '../flags.js';
import { duration, progressBar } from '../progress.js';

const HELP = `llama3-zh train export DIR (--name NAME | --out OUT.gguf) [options]

The run's trained adapter merged into its base model (W + scale·B·A; modules_to_save such as lm_head and
the norms replace their tensors) and converted to GGUF: registered in the store as NAME, with the chat
template the run trained with, or written to OUT.gguf with that template inside. A full fine-tune
(finetuning_type full or freeze) saves the whole model, which is converted as it is.

  DIR                   the run folder (train.yaml; LLaMA-Factory's output_dir in it)
  --checkpoint N        output_dir/checkpoint-N instead of the final adapter (default: the final one in
                        output_dir, else the last checkpoint)
  --name NAME           register the model in the store as NAME (then chat -m NAME, serve NAME, eval -m NAME)
  --out FILE            write one GGUF file instead
  --type, --quantize T  f32, f16, bf16, q8_0, q4_k_m, q5_k_m, q6_k, … (default: full precision, as the
                        base model is: bf16 for a bf16 checkpoint); q4_k_m is the usual choice to run
  --base DIR            the base model's Hugging Face folder (default: train.yaml's model_name_or_path: a
                        folder, a model in the store, or the Hugging Face cache LLaMA-Factory downloaded it to)
  --force               replace an existing NAME or OUT
  -t, --threads N       threads to quantize with (default: every core)
  --models-dir DIR      the local store (default ${'$'}LLAMA3ZH_MODELS or ~/.cache/llama3-zh/models)

An interrupted export leaves nothing behind.`;

export async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('train export', args, {
    checkpoint: { type: 'string' },
    name: { type: 'string' },
    out: { type: 'string', short: 'o' },
    type: { type: 'string' },
    quantize: { type: 'string', short: 'q' },
    base: { type: 'string' },
    force: { type: 'boolean' },
    threads: { type: 'string', short: 't' },
    'models-dir': { type: 'string' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 1) throw new UserError(`usage: llama3-zh train export DIR (--name NAME | --out OUT.gguf) (got ${positionals.length ? positionals.join(' ') : 'no DIR'}; llama3-zh train export --help)`, 2);
  if ((values.name === undefined) === (values.out === undefined)) {
    throw new UserError(`give ${values.name === undefined ? 'one of' : 'only one of'} --name NAME (a model in the store) or --out OUT.gguf (a file)`, 2);
  }
  if (values.type !== undefined && values.quantize !== undefined) throw new UserError('--type and --quantize are the same option; give one', 2);
  const type = values.type ?? values.quantize;
  const checkpoint = num('--checkpoint', values.checkpoint, { int: true, min: 0 });
  const threads = num('--threads', values.threads, { int: true, min: 1, max: 1024 });
  useModelsDir(values['models-dir']);
  if (values.out !== undefined && existsSync(outputTarget(values.out)) && !values.force) throw new UserError(`${values.out} exists; pass --force to replace it`);

  const plan = planExport(positionals[0], { checkpoint, base: values.base });
  if (plan.skipped) console.error(`${plan.skipped}; exporting ${plan.label}`);
  // Said at the end: before, a failed check (a taken NAME, an adapter for another model) would not be the only line.
  const what = `${plan.label} of ${positionals[0]}${plan.adapter ? `, merged into ${plan.model}` : ''}`;
  if (values.name !== undefined) {
    const name = values.name;
    await createWithUi({
      name, from: plan.model, adapter: plan.adapter, quantize: type, force: values.force, threads,
      template: plan.template.name,
      // The stored file carries the run's template too: other tools (llama.cpp, ollama) read only the GGUF.
      chatTemplate: templateJinja(plan.template), addBos: templateAddBos(plan.template),
      templateFile: plan.template.source !== undefined ? { path: `${plan.run.configPath} (template ${plan.template.lf ?? 'saved with the checkpoint'})`, source: plan.template.source } : undefined,
    });
    console.log(summary(plan, what, name, ['chat', '-m', name], ['eval', '-m', name, '--data', 'DIR', '--tasks', 'ceval,cmmlu']));
    return;
  }
  const out = values.out!;
  await toFile(plan, out, type, threads);
  console.log(summary(plan, what, out, ['chat', '-m', out], ['create', 'NAME', '--from', out]));
}

function summary(plan: ExportPlan, what: string, made: string, chat: string[], then: string[]): string {
  const t = plan.template.name ?? (plan.template.source !== undefined ? `LLaMA-Factory's ${plan.template.lf ?? 'saved'} template (Jinja)` : 'the base model\'s');
  return `exported ${what}: ${made} (chat template ${t})\nnext:\n  llama3-zh ${chat.join(' ')}\n  llama3-zh ${then.join(' ')}`;
}

/** --out, on the terminal: a progress bar per phase, Ctrl-C leaving no file (the converter's temp files go). */
async function toFile(plan: ExportPlan, out: string, type: string | undefined, threads: number | undefined) {
  const started = performance.now();
  let bar: ReturnType<typeof progressBar> | undefined;
  let phase = '';
  const r = await withInterrupt(async (signal) => {
    try {
      return await exportToFile(plan, {
        out, type, threads, signal,
        onProgress: (done, total, p) => {
          if (p !== phase) { bar?.done(); phase = p; bar = progressBar(p === 'quantize' ? 'quantizing' : 'converting'); bar.start(total, done); }
          else bar!.update(done, total);
        },
      });
    } catch (e) {
      if (!signal.aborted) throw e;
      process.stderr.write('\n');
      throw new UserError('interrupted; nothing was written', 130);
    } finally {
      bar?.done();
    }
  });
  console.error(`wrote ${out}: GGUF ${r.type}, ${humanBytes(r.bytes)} in ${duration((performance.now() - started) / 1000)}`);
}
