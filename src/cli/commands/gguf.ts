import { existsSync } from 'node:fs';
import { detectTemplateName } from '../../chat/templates.js';
import { UserError } from '../../errors.js';
import {
  type Change, checkEdited, formatValue, isNoop, outputPath, parseAssignment, planEdits, readForEdit, typeName, type WriteReport,
  writeEdits,
} from '../../gguf/edit.js';
import { readGguf } from '../../gguf/reader.js';
import { summarize } from '../../gguf/summary.js';
import { checkFile } from '../../gguf/validate.js';
import { humanBytes, humanCount } from '../../util/human.js';
import { num, parseFlags } from '../flags.js';
import { progressBar } from '../progress.js';

const HELP = `llama3-zh gguf — read and make GGUF model files

  llama3-zh gguf inspect FILE [--json]
      Architecture, parameter count, tensor types, context length, RoPE base, tokenizer,
      special tokens, chat template and file size. Reads only the header.

  llama3-zh gguf synth --out FILE [--preset tiny|1b|8b] [--type f16|q8_0] [--seed N]
                       [--reply TEXT [--stop eot|end_of_text] [--leak] [--route WORD=TEXT]...
                        [--fallback TEXT]]
                       [--force]
      Write a Llama-architecture model with the real Llama-3 tokenizer and chat template.
      Without --reply the weights are random (for tests and benchmarks: 1b and 8b have
      the real shapes). With --reply the model is scripted: its greedy answer to any chat
      prompt is exactly TEXT, then the stop token (<|eot_id|>, or <|end_of_text|> like
      shareAI's v1). --leak makes it go on after the stop token with a new assistant
      header, as mis-configured models do. --route WORD=TEXT (repeatable; WORD one token)
      makes prompts that contain WORD get TEXT instead (with several words in a prompt, the
      route given last wins). --fallback TEXT is said instead where the reply's first token
      is not allowed (a grammar: tool_choice "required", JSON mode). Any text can be said,
      repeated tokens and JSON included; see docs/synth.md for the limits.

  llama3-zh gguf set FILE KEY=VALUE... [--delete KEY]... [--out PATH] [--force]
      Change metadata values. An existing key keeps its type (u8, i8, u16, i16, u32, i32,
      u64, i64, f32, f64, bool, str) and a value that does not fit it is an error; a new key
      needs its type: KEY:TYPE=VALUE (the same type names). Arrays cannot be set.
      This EDITS FILE: when the header keeps its length (every number edit does), only the
      changed bytes are written, in place, so a 5 GB model is done in a blink. Otherwise (a
      string of another length, a new or deleted key) a new file is written beside it (new
      header, tensor data copied untouched) and renamed over it: that needs room for a
      second copy. With --out the original is left alone and the result goes to PATH (a file,
      or a folder to write FILE's name into; an existing file needs --force).
      Example: llama3-zh gguf set model.gguf llama.context_length=32768 llama.rope.freq_base=1e6`;

export async function ggufCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'inspect') return inspect(rest);
  if (sub === 'synth') return synth(rest);
  if (sub === 'set') return set(rest);
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { console.log(HELP); return; }
  throw new UserError(`unknown subcommand 'gguf ${sub}'; use 'gguf inspect', 'gguf set' or 'gguf synth'`, 2);
}

async function inspect(args: string[]) {
  const { values, positionals } = parseFlags('gguf inspect', args, { json: { type: 'boolean' } }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 1) throw new UserError('usage: llama3-zh gguf inspect FILE [--json]', 2);
  const file = readGguf(positionals[0]);
  // What llama.cpp would refuse or abort on is an error here too, not a summary with "0 heads" in it.
  checkFile(file);
  const s = summarize(file, detectTemplateName);
  if (values.json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  const types = Object.entries(s.tensorTypes).map(([t, n]) => `${t}×${n}`).join(', ');
  const special = Object.entries(s.specialTokens).map(([k, v]) => `${k}=${v.id}${v.text ? ` ${v.text}` : ''}`).join(', ');
  const rows: [string, string | undefined][] = [
    ['file', `${s.path} (${humanBytes(s.fileSize)}, GGUF v${s.version})`],
    ['name', s.name],
    ['architecture', s.architecture + (s.adapter ? ` (LoRA adapter, alpha ${s.adapter.alpha})` : '')],
    ['parameters', `${humanCount(s.parameters)} in ${s.tensorCount} tensors`],
    ['tensor types', types],
    ['context length', s.contextLength?.toString()],
    ['layers × width', s.blockCount !== undefined ? `${s.blockCount} × ${s.embeddingLength}` : undefined],
    ['rope freq base', s.ropeFreqBase?.toString()],
    ['tokenizer', s.tokenizer.model ? `${s.tokenizer.model}/${s.tokenizer.pre ?? '-'}, ${s.tokenizer.vocabSize} tokens` : undefined],
    ['special tokens', special || undefined],
    ['chat template', s.chatTemplate ? `${s.chatTemplate.detected} (${s.chatTemplate.source.length} chars)` : 'none'],
  ];
  for (const [k, v] of rows) if (v !== undefined) console.log(`${k.padEnd(15)} ${v}`);
}

async function synth(args: string[]) {
  const { values } = parseFlags('gguf synth', args, {
    out: { type: 'string', short: 'o' },
    preset: { type: 'string' },
    type: { type: 'string' },
    seed: { type: 'string' },
    reply: { type: 'string' },
    stop: { type: 'string' },
    leak: { type: 'boolean' },
    route: { type: 'string', multiple: true },
    fallback: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (values.help) { console.log(HELP); return; }
  // Imported here: it brings the whole Llama-3 vocabulary, which inspect and set have no use for.
  const { SHAPES, synthModel } = await import('../../synth/model.js');
  if (!values.out) throw new UserError('gguf synth needs --out FILE', 2);
  if (existsSync(values.out) && !values.force) throw new UserError(`${values.out} already exists; pass --force to replace it`);
  const stop = values.stop ?? 'eot';
  if (stop !== 'eot' && stop !== 'end_of_text') throw new UserError(`--stop must be eot or end_of_text (got "${stop}")`, 2);
  if (values.leak && values.reply === undefined) throw new UserError('--leak needs --reply (it applies to scripted models)', 2);
  if (values.fallback !== undefined && values.reply === undefined) throw new UserError('--fallback needs --reply (it applies to scripted models)', 2);
  const preset = values.preset ?? 'tiny';
  if (!SHAPES[preset]) throw new UserError(`unknown --preset "${preset}"; choose one of: ${Object.keys(SHAPES).join(', ')}`, 2);
  const bar = progressBar(`writing ${values.out}`);
  const t0 = performance.now();
  const { shape, script, plan } = await synthModel(values.out, {
    preset,
    type: (values.type ?? 'f16') as 'f16' | 'q8_0',
    seed: num('--seed', values.seed, { int: true, min: 0 }) ?? 0,
    reply: values.reply,
    stop,
    leak: values.leak,
    fallback: values.fallback,
    routes: (values.route ?? []).map((r) => {
      const eq = r.indexOf('=');
      if (eq <= 0) throw new UserError(`--route takes WORD=REPLY (got "${r}")`, 2);
      return { when: r.slice(0, eq), reply: r.slice(eq + 1) };
    }),
    onProgress: (d, t) => bar.update(d, t),
  });
  bar.done();
  const what = script ? `scripted (${script.chain.length} programmed tokens, ${script.routes.length} routes)`
    : plan ? `scripted (${plan.units.length} programmed positions, ${plan.offsets.length} context offsets, ${plan.triggers.length} routes)`
    : 'random weights';
  console.error(`wrote ${values.out}: ${preset} (${shape.layers} layer${shape.layers === 1 ? '' : 's'} × ${shape.embd}), ${values.type ?? 'f16'}, ${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function set(args: string[]) {
  const { values, positionals } = parseFlags('gguf set', args, {
    out: { type: 'string', short: 'o' },
    delete: { type: 'string', multiple: true },
    force: { type: 'boolean' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  const [file, ...specs] = positionals;
  if (!file || (specs.length === 0 && !values.delete?.length)) {
    throw new UserError('usage: llama3-zh gguf set FILE KEY=VALUE... [--delete KEY]... [--out PATH]', 2);
  }
  const assignments = specs.map(parseAssignment);
  const src = readForEdit(file);
  const changes = planEdits(src.file, assignments, values.delete ?? []);
  checkEdited(src.file, changes);
  const out = values.out === undefined ? undefined : await outputPath(file, values.out, values.force);
  for (const c of changes) console.log(describeChange(c));
  console.log(await writeWithProgress(src, changes, out));
}

/** `llama.context_length (u32): 8192 → 32768`, `x (new str): "a"`, `y (f32): deleted`. */
export function describeChange(c: Change): string {
  if (c.type === undefined) return `${c.key}: deleted (was ${typeName(c.old!.type, c.old!.itemType)} ${formatValue(c.old)})`;
  const now = formatValue({ type: c.type, value: c.value! });
  if (!c.old) return `${c.key} (new ${typeName(c.type)}): ${now}`;
  const retyped = c.old.type !== c.type ? `${typeName(c.old.type)} → ${typeName(c.type)}` : typeName(c.type);
  return `${c.key} (${retyped}): ${isNoop(c) ? `${now} (unchanged)` : `${formatValue(c.old)} → ${now}`}`;
}

/** Write the edits with a progress bar for the tensor-data copy of a rewrite; returns the line that says what was done. */
export async function writeWithProgress(src: ReturnType<typeof readForEdit>, changes: Change[], out?: string): Promise<string> {
  let bar: ReturnType<typeof progressBar> | undefined;
  const report = await writeEdits(src, changes, {
    out,
    onProgress: (d, t) => (bar ??= progressBar(`copying tensor data to ${out ?? src.file.path}`)).update(d, t),
  });
  bar?.done();
  return describeWrite(report);
}

function describeWrite(r: WriteReport): string {
  if (r.mode === 'unchanged') return `nothing to change in ${r.path}`;
  if (r.mode === 'patched') return `patched ${r.bytes} byte${r.bytes === 1 ? '' : 's'} in place at offset ${r.offset} of ${r.path}`;
  return `wrote ${r.path}: a new header of ${humanBytes(r.headerBytes!)}, tensor data copied untouched (${humanBytes(r.dataBytes!)})`;
}
