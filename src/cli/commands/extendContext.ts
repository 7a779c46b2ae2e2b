import { existsSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { UserError } from '../../errors.js';
import { planGgufContext } from '../../context/gguf.js';
import { editedConfigText, planHfContext, readHfConfig, writeHfConfig } from '../../context/hfConfig.js';
import type { ContextPlan } from '../../context/plan.js';
import { checkEdited, outputPath, readForEdit } from '../../gguf/edit.js';
import { checkFile } from '../../gguf/validate.js';
import { meta } from '../../gguf/types.js';
import { findStored, looksLikePath, parseModelRef } from '../../hub/modelRef.js';
import { num, parseFlags } from '../flags.js';
import { writeWithProgress } from './gguf.js';

const HELP = `llama3-zh extend-context — a longer context for a model (the original README's 32K trick)

  llama3-zh extend-context MODEL --ctx N [--rope-theta X] [--out PATH] [--dry-run] [--force]

MODEL is a Hugging Face model folder (with config.json) or a .gguf file.
  folder  sets max_position_embeddings and rope_theta in config.json, as the README says to
          do by hand. Only those two values change in the text (key order, indentation and
          number style stay). The original is kept as config.json.orig; an existing backup
          is never overwritten, as it holds the true original.
  GGUF    sets <arch>.context_length and <arch>.rope.freq_base (arch from
          general.architecture). When both keys exist the file is patched in place (a few
          bytes); a file without a RoPE base key is rewritten with it (tensor data copied
          untouched, then renamed over the original).

Options:
  --ctx N           the new context length, e.g. 32768
  --rope-theta X    the RoPE base (rope_theta). Default: 1000000 up to 32768 tokens, 4000000
                    beyond: the values the original README reports for 32K and 96K. The
                    default never lowers the model's own base, and leaves it as it is when N
                    is not above the model's context.
  --out PATH        leave MODEL alone. GGUF: write the new file to PATH. Folder: make folder
                    PATH with the new config.json and symbolic links to the model's other files
  --dry-run         print the old and new values; write nothing
  --force           let --out replace an existing file

RoPE scaling: Llama-3.1 models already reach 131072 tokens with the "llama3" RoPE scaling they
were trained with (rope_scaling in config.json, a rope_freqs tensor in a GGUF), computed for
their base of 500000. For them --rope-theta is refused (it would break that scaling), a --ctx
they already reach changes nothing, and a larger one raises only the context length.

To try a longer context without changing any file, chat and serve take the same two values:
  llama3-zh chat -m model.gguf --ctx-size 32768 --rope-freq-base 1000000`;

export async function extendContextCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('extend-context', args, {
    ctx: { type: 'string' },
    'rope-theta': { type: 'string' },
    out: { type: 'string', short: 'o' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 1) throw new UserError('usage: llama3-zh extend-context MODEL --ctx N [--rope-theta X] [--out PATH] [--dry-run]', 2);
  if (values.ctx === undefined) throw new UserError('extend-context needs --ctx N, e.g. --ctx 32768', 2);
  const want = {
    ctx: num('--ctx', values.ctx, { int: true, min: 16, max: 4294967295 })!,
    ropeTheta: num('--rope-theta', values['rope-theta'], { min: 1 }),
  };
  let model = positionals[0];
  // The config.json itself names its folder.
  if (basename(model) === 'config.json' && existsSync(model) && statSync(model).isFile()) model = dirname(model);
  // A model in the store, by the name chat and ls use: its GGUF, or its safetensors folder.
  if (!existsSync(model) && !looksLikePath(model)) {
    const ref = parseModelRef(model);
    const stored = ref.kind === 'hub' ? findStored(ref) : undefined;
    if (!stored) throw new UserError(`${model} is not in the store (llama3-zh ls lists what is); give a .gguf file or a model folder`);
    model = stored.format === 'gguf' ? stored.path : dirname(stored.path);
  }
  const o = { out: values.out, dryRun: !!values['dry-run'], force: !!values.force };
  if (existsSync(model) && statSync(model).isDirectory()) return extendFolder(model, want, o);
  return extendGguf(model, want, o);
}

interface Opts {
  out?: string;
  dryRun: boolean;
  force: boolean;
}

type Want = { ctx: number; ropeTheta?: number };

async function extendGguf(path: string, want: Want, o: Opts) {
  const src = readForEdit(path);
  // Not a repair tool: a file llama.cpp would refuse or abort on is refused as it is, and so is the result.
  checkFile(src.file);
  const { plan, changes, ctxKey, thetaKey } = planGgufContext(src.file, want);
  checkEdited(src.file, changes);
  const out = o.out === undefined ? undefined : await outputPath(path, o.out, o.force);
  console.log(`${path} (GGUF, ${meta<string>(src.file, 'general.architecture')})`);
  if (!printPlan(plan, ctxKey, thetaKey, 'llama.cpp uses 10000', o.dryRun)) return;
  console.log(await writeWithProgress(src, changes, out));
}

async function extendFolder(dir: string, want: Want, o: Opts) {
  const cfg = readHfConfig(dir);
  const plan = planHfContext(cfg, want);
  console.log(cfg.path);
  if (!printPlan(plan, 'max_position_embeddings', 'rope_theta', 'transformers uses 10000', o.dryRun)) return;
  const report = writeHfConfig(cfg, editedConfigText(cfg, plan), { out: o.out, force: o.force });
  if (report.linked) {
    const n = report.linked.names.length;
    console.log(`wrote ${report.path}; ${n ? `linked the model's ${n} other file${n === 1 ? '' : 's'} into ${dirname(report.path)} (${report.linked.how === 'hardlink' ? 'hard links' : report.linked.how === 'mixed' ? 'symbolic and hard links' : 'symbolic links'})` : 'no other files to link'}`);
  } else {
    console.log(`${report.backupMade ? `kept the original as ${report.backup}` : `${report.backup} already holds the original (kept)`}; wrote ${report.path}`);
  }
}

/** Print old → new and the notes; false when there is nothing to write (no change, or a dry run). */
function printPlan(plan: ContextPlan, ctxKey: string, thetaKey: string, thetaDefault: string, dryRun: boolean): boolean {
  const width = Math.max(ctxKey.length, thetaKey.length) + 2;
  const old = (v: number | undefined, dflt?: string) => (v === undefined ? `(none${dflt ? `; ${dflt}` : ''})` : String(v));
  if (plan.ctx) console.log(`  ${ctxKey.padEnd(width)} ${old(plan.ctx.old)} → ${plan.ctx.new}`);
  if (plan.theta) console.log(`  ${thetaKey.padEnd(width)} ${old(plan.theta.old, thetaDefault)} → ${plan.theta.new}  (${plan.theta.why})`);
  for (const n of plan.notes) console.error(`note: ${n}`);
  if (!plan.ctx && !plan.theta) {
    if (!plan.notes.length) console.log('nothing to change: the model already has these values');
    return false;
  }
  if (dryRun) {
    console.log('dry run: nothing written');
    return false;
  }
  return true;
}
