import { join } from 'node:path';
import { checkFile } from '../../data/check.js';
import { convertFile } from '../../data/convert.js';
import { FORMATS, formatByName } from '../../data/formats/index.js';
import { DEFAULT_MAX_LINE_MB, type ReadLimits } from '../../data/io/limits.js';
import { inspectSource } from '../../data/io/source.js';
import { assertDistinct, assertNotInput, stem } from '../../data/paths.js';
import { dedupeFile } from '../../data/dedupe.js';
import { exportLlamaFactory } from '../../data/export.js';
import { mixFiles, parseMixSource } from '../../data/mix.js';
import { parseSeed } from '../../data/random.js';
import { compileRules, identityPreset, loadRules, REFUSAL_WORDS } from '../../data/rewrite.js';
import { rewriteFile } from '../../data/rewrite.js';
import { sampleFraction, sampleN } from '../../data/sample.js';
import { splitFile } from '../../data/split.js';
import { svgHistogram, terminalHistogram } from '../../data/plot.js';
import { statsFile } from '../../data/stats.js';
import { UserError } from '../../errors.js';
import { writeFileAtomic } from '../../util/files.js';
import { num, parseFlags } from '../flags.js';
import { progressBar } from '../progress.js';

const FORMAT_LIST = FORMATS.map((f) => `  ${f.name.padEnd(11)} ${f.about}`).join('\n');

const HELP = `llama3-zh data SUBCOMMAND [options]     (llama3-zh data SUBCOMMAND --help for details)

Training data for Chinese Llama-3 fine-tunes: convert, check, count, sample, mix, clean.
Files: .jsonl, .json (an array), .csv, .parquet, .txt, each optionally gzipped (.gz); the
format of the rows is detected from the first rows, or given with --from.

  convert IN --to FORMAT [-o OUT]      another format, losing nothing the target can hold
  check IN                             find broken rows; write the valid and the rejected ones apart
  stats IN                             rows, turns, Llama-3 tokens, percentiles, histogram
  sample IN -n N | --fraction F        a random sample, the same for the same --seed
  split IN --val F                     train and validation files
  mix A:W B:W … -n N -o OUT            several datasets mixed by weight, shuffled
  dedupe IN                            exact and near-duplicate rows removed (MinHash)
  rewrite IN --rules FILE | --preset identity   replace words, drop rows
  export IN… --llamafactory DIR        the files and the dataset_info.json LLaMA-Factory reads

Formats:
${FORMAT_LIST}`;

/** The flags every subcommand that reads data files has: the limits of src/data/io/limits.ts. */
const READ_FLAGS = { 'max-line-mb': { type: 'string' }, 'allow-broken': { type: 'boolean' } } as const;
const READ_HELP = `
  --max-line-mb N  refuse a line, CSV record or JSON array element longer than N MiB (default
                   ${DEFAULT_MAX_LINE_MB}): a damaged file or a gzip bomb stops at its line number, not in memory
  --allow-broken   read a file that is cut short (a JSON array or a CSV quote never closed, gzip
                   ending early) up to the cut, which counts as one broken row; without it, exit 1`;

function readLimits(values: { 'max-line-mb'?: string; 'allow-broken'?: boolean }): ReadLimits {
  // V8's longest string is about 512 Mi characters: a line must fit in one.
  const mb = num('--max-line-mb', values['max-line-mb'], { int: true, min: 1, max: 256 }) ?? DEFAULT_MAX_LINE_MB;
  return { maxLine: mb * (1 << 20), allowBroken: values['allow-broken'] === true };
}

type Sub = (args: string[]) => Promise<void>;
const SUBCOMMANDS: Record<string, Sub> = { convert, check, stats, sample, split, mix, dedupe, rewrite, export: exportCommand };

export async function dataCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { console.log(HELP); return; }
  const run = SUBCOMMANDS[sub];
  if (!run) throw new UserError(`unknown subcommand '${sub}'; subcommands: ${Object.keys(SUBCOMMANDS).join(', ')} (llama3-zh data --help)`, 2);
  await run(rest);
}

/** A progress bar over the bytes of the input, on a terminal only (logs and pipes stay clean). */
function progress(label: string, size: number) {
  if (!process.stderr.isTTY || size < 32 << 20) return { onBytes: undefined, done() {} };
  const bar = progressBar(label);
  bar.start(size);
  let done = 0;
  return { onBytes: (n: number) => { done += n; bar.update(done); }, done: () => bar.done() };
}

function oneInput(cmd: string, positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new UserError(positionals.length ? `data ${cmd} takes one input file (got ${positionals.length}: ${positionals.join(' ')})` : `usage: ${usage}`, 2);
  return positionals[0];
}

const n = (x: number) => x.toLocaleString('en-US');
const plural = (k: number, one: string, many = `${one}s`) => `${n(k)} ${k === 1 ? one : many}`;

const CONVERT_HELP = `llama3-zh data convert IN --to FORMAT [-o OUT] [--from FORMAT]

Convert a dataset to another format. System prompts, multi-turn conversations and ids carry over
wherever the target can hold them; what it cannot is counted and said (a preference pair written to a
chat format keeps the chosen answer; a conversation cannot become a preference pair). Broken rows are
reported with line, column and reason and skipped; they never stop the run.

  --to FORMAT      ${FORMATS.map((f) => f.name).join(', ')}
  --from FORMAT    the input's format, when detection from the first rows is not wanted
  -o, --out OUT    .jsonl, .json or .csv, optionally .gz (default: IN's name + .FORMAT.jsonl)${READ_HELP}

Example: llama3-zh data convert firefly.jsonl --to sharegpt -o sharegpt.jsonl`;

async function convert(args: string[]) {
  const { values, positionals } = parseFlags('data convert', args, { ...READ_FLAGS, to: { type: 'string' }, from: { type: 'string' }, out: { type: 'string', short: 'o' } }, true);
  if (values.help) { console.log(CONVERT_HELP); return; }
  const input = oneInput('convert', positionals, 'llama3-zh data convert IN --to FORMAT [-o OUT]');
  if (!values.to) throw new UserError(`give --to with one of ${FORMATS.map((f) => f.name).join(', ')}`, 2);
  const to = formatByName(values.to, '--to');
  const from = values.from !== undefined ? formatByName(values.from, '--from') : undefined;
  const out = values.out ?? `${stem(input)}.${to.name}.jsonl`;
  assertNotInput(out, [input]);
  const bar = progress('convert', inspectSource(input).size);
  const r = await convertFile(input, out, { from, to, onBytes: bar.onBytes, read: readLimits(values) });
  bar.done();
  console.log(`${input} (${r.from}) → ${out} (${r.to}): ${plural(r.written, 'row')} written of ${n(r.rows)}`);
  for (const [what, k] of r.lost.counts) console.log(`  kept with a loss: ${plural(k, 'row')}: ${what}`);
  for (const [why, k] of r.dropped.counts) console.log(`  left out: ${plural(k, 'row')}: ${why}`);
  if (r.rejected.count) {
    console.log(`  rejected: ${plural(r.rejected.count, 'row')} (data check writes them all to a file):`);
    for (const l of r.rejected.lines(input)) console.log(`    ${l}`);
  }
  if (r.written === 0) throw new UserError(`no row of ${input} could be written as ${r.to}`);
}

const CHECK_HELP = `llama3-zh data check IN [--valid OUT] [--rejected OUT] [--from FORMAT] [--dry-run]

Check every row: JSON syntax, the format's fields, empty messages, the order of roles (user first,
then alternating, the assistant last, as LLaMA-Factory requires; and tool results right after a tool call,
which LLaMA-Factory does not check: a result after a text answer would train as the user's turn),
tool calls (valid JSON, a function of the row's tools, object arguments), the tools list (functions with a
name and parameters), duplicate ids. Each problem is printed as IN:LINE[:COLUMN]:
REASON (the first 20, then a count). The valid rows are written unchanged to one new file, the
rejected ones with their line and reason to another; the input is never changed. Exits 1 when any
row was rejected.

  --valid OUT      default: IN's name + .valid.jsonl
  --rejected OUT   default: IN's name + .rejected.jsonl; each line {"line", "column"?, "reason", "row"}
  --from FORMAT    the input's format (default: detected)
  --dry-run        report only; write no files
  --json           the report as JSON${READ_HELP}`;

async function check(args: string[]) {
  const { values, positionals } = parseFlags('data check', args, { ...READ_FLAGS,
    valid: { type: 'string' }, rejected: { type: 'string' }, from: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' },
  }, true);
  if (values.help) { console.log(CHECK_HELP); return; }
  const input = oneInput('check', positionals, 'llama3-zh data check IN');
  const from = values.from !== undefined ? formatByName(values.from, '--from') : undefined;
  const dry = !!values['dry-run'];
  if (dry && (values.valid || values.rejected)) throw new UserError('--dry-run writes no files; leave out --valid and --rejected', 2);
  const valid = dry ? undefined : values.valid ?? `${stem(input)}.valid.jsonl`;
  const rejected = dry ? undefined : values.rejected ?? `${stem(input)}.rejected.jsonl`;
  if (valid) assertNotInput(valid, [input], '--valid');
  if (rejected) assertNotInput(rejected, [input], '--rejected');
  assertDistinct([['--valid', valid], ['--rejected', rejected]]);
  const bar = progress('check', inspectSource(input).size);
  const r = await checkFile(input, { from, valid, rejected, onBytes: bar.onBytes, keep: 20, read: readLimits(values) });
  bar.done();
  if (values.json) {
    console.log(JSON.stringify({ input, format: r.format, rows: r.rows, valid: r.valid, rejected: r.problems.count, kinds: r.kinds, problems: r.problems.first, validFile: valid, rejectedFile: rejected }, null, 2));
  } else {
    console.log(`${input} (${r.format}): ${n(r.rows)} rows, ${n(r.valid)} valid, ${n(r.problems.count)} rejected${r.kinds.total ? ` (${[...r.kinds.counts].map(([k, c]) => `${k}: ${n(c)}`).join(', ')})` : ''}`);
    for (const l of r.problems.lines(input)) console.log(`  ${l}`);
    if (valid) console.log(`valid rows → ${valid}`);
    if (rejected) console.log(`rejected rows → ${rejected}`);
  }
  if (r.problems.count) process.exitCode = 1;
}

const STATS_HELP = `llama3-zh data stats IN [--cutoff N] [--plot OUT.svg] [--no-tokens] [--from FORMAT] [--json]

Rows, turns, tool use (rows with tools, calls, parallel calls, tool results, distinct functions),
characters, the share of Chinese characters, and the length of each row in Llama-3
tokens, counted with the real Llama-3 tokenizer as the official chat template lays the row out
(BOS, a header and <|eot_id|> around each message; for a preference pair the prompt and the longer
answer; tools, calls and results as LLaMA-Factory's llama3 template writes them). Prints
percentiles, a histogram, and how many rows a trainer's cutoff length would cut.

  --cutoff N       the cutoff length to count rows over (default 2048, LLaMA-Factory's cutoff_len)
  --plot OUT.svg   also draw the histogram as an SVG image
  --no-tokens      count characters instead of tokens (much faster on very large files)
  --from FORMAT    the input's format (default: detected)
  --json           the report as JSON${READ_HELP}`;

async function stats(args: string[]) {
  const { values, positionals } = parseFlags('data stats', args, { ...READ_FLAGS,
    cutoff: { type: 'string' }, plot: { type: 'string' }, 'no-tokens': { type: 'boolean' }, from: { type: 'string' }, json: { type: 'boolean' },
  }, true);
  if (values.help) { console.log(STATS_HELP); return; }
  const input = oneInput('stats', positionals, 'llama3-zh data stats IN');
  const from = values.from !== undefined ? formatByName(values.from, '--from') : undefined;
  const cutoff = num('--cutoff', values.cutoff, { int: true, min: 1, max: 10_000_000 }) ?? 2048;
  if (values.plot !== undefined) {
    if (!/\.svg$/i.test(values.plot)) throw new UserError(`--plot ${values.plot}: only SVG images are drawn; give a name ending in .svg`, 2);
    assertNotInput(values.plot, [input], '--plot');
  }
  const bar = progress('stats', inspectSource(input).size);
  const r = await statsFile(input, { from, tokens: !values['no-tokens'], cutoff, onBytes: bar.onBytes, read: readLimits(values) });
  bar.done();
  if (values.plot) {
    writeFileAtomic(values.plot, svgHistogram(r.histogram, { title: `${input}: ${n(r.counted)} rows, ${r.unit} per row`, unit: r.unit === 'tokens' ? 'Llama-3 tokens' : 'characters', cutoff }));
  }
  const hanShare = r.chars.nonSpace ? (100 * r.chars.han) / r.chars.nonSpace : 0;
  if (values.json) {
    const { rejected, ...rest } = r;
    console.log(JSON.stringify({ input, ...rest, rejected: rejected.count, problems: rejected.first, chineseShare: +hanShare.toFixed(2), plot: values.plot }, null, 2));
    return;
  }
  const p = r.percentiles;
  console.log(`${input} (${r.format}): ${plural(r.counted, 'row')}${r.rejected.count ? ` (${plural(r.rejected.count, 'broken row')} not counted; see data check)` : ''}`);
  if (r.format !== 'text') console.log(`  turns        ${n(r.turns)} (${r.counted ? (r.turns / r.counted).toFixed(2) : 0} per row); ${plural(r.withSystem, 'row')} with a system prompt${r.pairs ? `; ${plural(r.pairs, 'preference pair')}` : ''}`);
  const t = r.tools;
  if (t.rows || t.calls || t.observations) {
    console.log(`  tools        ${plural(t.rows, 'row')} with tools (${plural(t.names, 'function')}, ${n(t.called)} called); ${plural(t.calls, 'call')}` +
      `${t.parallel ? ` (${plural(t.parallel, 'turn')} of parallel calls)` : ''}; ${plural(t.observations, 'tool result turn')}`);
  }
  console.log(`  characters   ${n(r.chars.chars)}; Chinese ${hanShare.toFixed(1)}% of the non-blank ones`);
  if (r.unit === 'tokens') console.log(`  tokens       ${n(r.total)} (Llama-3 tokenizer, official chat template)`);
  console.log(`  per row      min ${n(r.min)}  mean ${r.mean.toFixed(1)}  p50 ${n(p.p50)}  p90 ${n(p.p90)}  p95 ${n(p.p95)}  p99 ${n(p.p99)}  max ${n(r.max)}`);
  console.log(`  ${`over ${n(cutoff)}`.padEnd(12)} ${plural(r.overCutoff, 'row')} (${r.counted ? ((100 * r.overCutoff) / r.counted).toFixed(2) : '0.00'}%)`);
  if (r.histogram.length) {
    console.log(`\n${r.unit} per row:`);
    for (const l of terminalHistogram(r.histogram, cutoff)) console.log(l);
  }
  if (values.plot) console.log(`\nhistogram → ${values.plot}`);
}

const SAMPLE_HELP = `llama3-zh data sample IN (-n N | --fraction F) [--seed S] [-o OUT]

A uniform random sample of the rows, the same for the same seed, in file order. Rows are copied
unchanged (any format); broken lines are skipped and reported.

  -n N             exactly N rows (all of them if the file has fewer), by reservoir sampling in one
                   pass: memory holds N rows, never the whole file
  --fraction F     exactly round(F × rows) rows (0 < F ≤ 1): one pass counts, a second streams the
                   chosen rows out, so memory stays flat whatever F is
  --seed S         a whole number (default 42)
  -o, --out OUT    default: IN's name + .sample.jsonl${READ_HELP}`;

async function sample(args: string[]) {
  const { values, positionals } = parseFlags('data sample', args, { ...READ_FLAGS, n: { type: 'string', short: 'n' }, fraction: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string', short: 'o' } }, true);
  if (values.help) { console.log(SAMPLE_HELP); return; }
  const input = oneInput('sample', positionals, 'llama3-zh data sample IN -n N | --fraction F');
  if ((values.n === undefined) === (values.fraction === undefined)) throw new UserError('give -n N or --fraction F (one of them)', 2);
  const count = num('-n', values.n, { int: true, min: 1, max: 1e9 });
  const fraction = num('--fraction', values.fraction, { min: 0, max: 1 });
  if (fraction === 0) throw new UserError('--fraction must be above 0', 2);
  const seed = parseSeed(values.seed);
  const out = values.out ?? `${stem(input)}.sample.jsonl`;
  assertNotInput(out, [input]);
  inspectSource(input);
  const r = count !== undefined ? await sampleN(input, out, count, seed, readLimits(values)) : await sampleFraction(input, out, fraction!, seed, readLimits(values));
  console.log(`${input}: ${plural(r.written, 'row')} of ${n(r.valid)} → ${out} (seed ${seed})${count !== undefined && r.valid < count ? `; the file has only ${plural(r.valid, 'row')}` : ''}`);
  if (r.rejected.count) {
    console.log(`  skipped ${plural(r.rejected.count, 'broken row')}:`);
    for (const l of r.rejected.lines(input)) console.log(`    ${l}`);
  }
}

const SPLIT_HELP = `llama3-zh data split IN --val V [--seed S] [--train OUT] [--valid OUT]

Split the rows into a training and a validation file, at random but the same for the same seed; both
keep file order. Streams: memory stays flat.

  --val V          the validation share: a fraction (0.02 = 2%, rounded to a whole row count) or a
                   number of rows (500)
  --seed S         a whole number (default 42)
  --train OUT      default: IN's name + .train.jsonl
  --valid OUT      default: IN's name + .val.jsonl${READ_HELP}`;

async function split(args: string[]) {
  const { values, positionals } = parseFlags('data split', args, { ...READ_FLAGS, val: { type: 'string' }, seed: { type: 'string' }, train: { type: 'string' }, valid: { type: 'string' } }, true);
  if (values.help) { console.log(SPLIT_HELP); return; }
  const input = oneInput('split', positionals, 'llama3-zh data split IN --val 0.02');
  if (values.val === undefined) throw new UserError('give --val: a fraction such as 0.02 or a number of rows such as 500', 2);
  const val = num('--val', values.val, { min: 0, max: 1e9 })!;
  if (val === 0 || (val > 1 && !Number.isInteger(val))) throw new UserError(`--val must be a fraction between 0 and 1 or a whole number of rows (got ${values.val})`, 2);
  const seed = parseSeed(values.seed);
  const train = values.train ?? `${stem(input)}.train.jsonl`;
  const valid = values.valid ?? `${stem(input)}.val.jsonl`;
  assertNotInput(train, [input], '--train');
  assertNotInput(valid, [input], '--valid');
  assertDistinct([['--train', train], ['--valid', valid]]);
  inspectSource(input);
  const r = await splitFile(input, { val, seed, train, valid, read: readLimits(values) });
  console.log(`${input}: ${n(r.valid)} rows → ${n(r.train)} train (${train}), ${n(r.val)} validation (${valid}); seed ${seed}`);
  if (r.rejected.count) {
    console.log(`  skipped ${plural(r.rejected.count, 'broken row')}:`);
    for (const l of r.rejected.lines(input)) console.log(`    ${l}`);
  }
}

const MIX_HELP = `llama3-zh data mix IN[:WEIGHT]... -n N -o OUT [--to FORMAT] [--seed S]

Mix datasets by weight into one shuffled file of exactly N rows, all in one format. Each source gives
round(N × its weight / the sum of weights) rows (the rounding leftovers go to the largest remainders),
drawn at random; a source smaller than its share is repeated (every row the same number of times,
the rest drawn at random). Sources may be in different formats.

  IN:WEIGHT        a file and its weight (default 1), e.g. firefly.jsonl:0.5 ruozhiba.json:0.2
  -n N             rows in the mix
  -o, --out OUT    the mixed file (.jsonl, .json, .csv, optionally .gz)
  --to FORMAT      the format of the mix (default: the first source's)
  --seed S         a whole number (default 42)${READ_HELP}

The N rows are held in memory to shuffle them (about the size of the output file).`;

async function mix(args: string[]) {
  const { values, positionals } = parseFlags('data mix', args, { ...READ_FLAGS, n: { type: 'string', short: 'n' }, out: { type: 'string', short: 'o' }, to: { type: 'string' }, seed: { type: 'string' } }, true);
  if (values.help) { console.log(MIX_HELP); return; }
  if (!positionals.length) throw new UserError('usage: llama3-zh data mix A.jsonl:0.7 B.jsonl:0.3 -n N -o OUT', 2);
  if (values.n === undefined) throw new UserError('give -n N, the number of rows in the mix', 2);
  if (!values.out) throw new UserError('give -o OUT, the file to write the mix to', 2);
  const count = num('-n', values.n, { int: true, min: 1, max: 1e9 })!;
  const to = values.to !== undefined ? formatByName(values.to, '--to') : undefined;
  const sources = positionals.map(parseMixSource);
  for (const s of sources) inspectSource(s.path);
  assertNotInput(values.out, sources.map((s) => s.path));
  const seed = parseSeed(values.seed);
  const r = await mixFiles(sources, values.out, { n: count, seed, to, read: readLimits(values) });
  console.log(`${plural(r.written, 'row')} (${r.to}) → ${values.out}; seed ${seed}`);
  for (const s of r.sources) {
    const times = s.usable ? s.taken / s.usable : 0;
    console.log(`  ${s.path} (${s.format}, weight ${s.weight}): ${n(s.taken)} rows drawn from ${n(s.usable)}${times > 1 ? ` (each used ${times.toFixed(2)}× on average)` : ''}` +
      `${s.rejected.count ? `; ${plural(s.rejected.count, 'broken row')} skipped` : ''}${s.dropped.total ? `; ${plural(s.dropped.total, 'row')} not representable as ${r.to}` : ''}`);
    for (const [what, k] of s.lost.counts) console.log(`    kept with a loss: ${plural(k, 'row')}: ${what}`);
  }
}

const REWRITE_HELP = `llama3-zh data rewrite IN (--rules FILE | --preset identity) [-o OUT] [--print-rules]

Replace text and drop rows by rules, in every string of every row (ids and role names excepted), in
the order the rules are given. Prints how many times each rule fired. Tool calls and tool definitions
stay valid JSON: only the strings inside a call's arguments and the tools' descriptions are rewritten.

  --rules FILE      a JSON list of rules, each one of
                      {"replace": "ChatGPT", "with": "Llama3-Chinese"}    literal text
                      {"replace": "chat\\\\s?gpt", "regex": true, "ignoreCase": true, "with": "…"}
                      {"drop": "抱歉"}                                    drop rows that contain it
                    (optional "name" labels a rule in the report)
  --preset identity the original project's identity rewrite: ChatGPT → --name, OpenAI → --author,
                    and rows with refusal words dropped (${REFUSAL_WORDS.slice(0, 4).join(', ')}, …)
  --name NAME       the model's name for --preset identity (default Llama3-Chinese)
  --author NAME     who made it, for --preset identity (default: the same as --name)
  --print-rules     print the rules as JSON (a start for your own rules file) and exit
  -o, --out OUT     default: IN's name + .rewritten.jsonl${READ_HELP}`;

async function rewrite(args: string[]) {
  const { values, positionals } = parseFlags('data rewrite', args, { ...READ_FLAGS,
    rules: { type: 'string' }, preset: { type: 'string' }, name: { type: 'string' }, author: { type: 'string' }, 'print-rules': { type: 'boolean' }, out: { type: 'string', short: 'o' },
  }, true);
  if (values.help) { console.log(REWRITE_HELP); return; }
  if ((values.rules === undefined) === (values.preset === undefined)) throw new UserError('give --rules FILE or --preset identity (one of them)', 2);
  if (values.preset !== undefined && values.preset !== 'identity') throw new UserError(`unknown preset ${JSON.stringify(values.preset)}; presets: identity`, 2);
  if (values.rules !== undefined && (values.name !== undefined || values.author !== undefined)) throw new UserError('--name and --author go with --preset identity', 2);
  const name = values.name ?? 'Llama3-Chinese';
  const specs = values.preset ? identityPreset(name, values.author ?? name) : undefined;
  const rules = specs ? compileRules(specs, '--preset identity') : loadRules(values.rules!);
  if (values['print-rules']) {
    console.log(JSON.stringify(specs ?? rules.map((r) => ({ name: r.name, [r.kind]: r.pattern.source, ...(r.kind === 'replace' ? { with: r.with } : {}), regex: true, ...(r.pattern.ignoreCase ? { ignoreCase: true } : {}) })), null, 2));
    return;
  }
  const input = oneInput('rewrite', positionals, 'llama3-zh data rewrite IN --rules FILE');
  const out = values.out ?? `${stem(input)}.rewritten.jsonl`;
  assertNotInput(out, [input]);
  const bar = progress('rewrite', inspectSource(input).size);
  const r = await rewriteFile(input, out, rules, readLimits(values));
  bar.done();
  console.log(`${input}: ${plural(r.written, 'row')} written of ${n(r.rows)} → ${out}; ${plural(r.dropped, 'row')} dropped`);
  const w = Math.max(...rules.map((x) => displayWidth(x.name)));
  for (const x of rules) {
    console.log(`  ${x.name}${' '.repeat(w - displayWidth(x.name))}  ${x.kind === 'replace' ? `${plural(x.hits, 'replacement')} in ${plural(x.rows, 'row')}` : `${plural(x.rows, 'row')} dropped`}`);
  }
  if (r.rejected.count) {
    console.log(`  skipped ${plural(r.rejected.count, 'broken row')}:`);
    for (const l of r.rejected.lines(input)) console.log(`    ${l}`);
  }
}

/** Terminal columns a string takes: CJK and emoji are two wide. */
function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    w += (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || c >= 0x1f300 ? 2 : 1;
  }
  return w;
}

const DEDUPE_HELP = `llama3-zh data dedupe IN [-o OUT] [--threshold T] [--shingle K] [--exact-only] [--removed FILE]

Remove duplicate rows, keeping the first of each group, in one pass:
  exact   the same text after normalising (NFKC, lower case, spaces and punctuation removed;
          ids and role names ignored), and the same tool calls and tools as JSON (-5 is not 5)
  near    MinHash over character K-shingles (64 hash functions, LSH bands), which works for Chinese;
          a row goes when its estimated Jaccard similarity to a kept row reaches T

  --threshold T    near-duplicate similarity, 0.5–1 (default 0.7)
  --shingle K      characters per shingle (default 3: Chinese words are 1–4 characters)
  --exact-only     exact duplicates only (faster, less memory)
  --removed FILE   also write the removed rows: {"line", "duplicate_of", "kind", "similarity"?, "row"}
  -o, --out OUT    default: IN's name + .dedup.jsonl${READ_HELP}

Memory grows with the rows kept: a hash each, and for near duplicates a 128-byte signature and an
entry in each band table (--exact-only needs much less).`;

async function dedupe(args: string[]) {
  const { values, positionals } = parseFlags('data dedupe', args, { ...READ_FLAGS,
    out: { type: 'string', short: 'o' }, threshold: { type: 'string' }, shingle: { type: 'string' }, 'exact-only': { type: 'boolean' }, removed: { type: 'string' },
  }, true);
  if (values.help) { console.log(DEDUPE_HELP); return; }
  const input = oneInput('dedupe', positionals, 'llama3-zh data dedupe IN');
  const threshold = num('--threshold', values.threshold, { min: 0.5, max: 1 }) ?? 0.7;
  const shingle = num('--shingle', values.shingle, { int: true, min: 1, max: 64 }) ?? 3;
  if (values['exact-only'] && (values.threshold !== undefined || values.shingle !== undefined)) throw new UserError('--threshold and --shingle are for near duplicates; leave them out with --exact-only', 2);
  const out = values.out ?? `${stem(input)}.dedup.jsonl`;
  assertNotInput(out, [input]);
  if (values.removed) assertNotInput(values.removed, [input], '--removed');
  assertDistinct([['-o', out], ['--removed', values.removed]]);
  const bar = progress('dedupe', inspectSource(input).size);
  const r = await dedupeFile(input, out, { near: !values['exact-only'], threshold, shingle, removed: values.removed, read: readLimits(values) });
  bar.done();
  console.log(`${input}: ${plural(r.kept, 'row')} kept of ${n(r.rows)} → ${out}`);
  console.log(`  exact duplicates  ${n(r.exact)}`);
  if (!values['exact-only']) console.log(`  near duplicates   ${n(r.near)} (MinHash, ${shingle}-character shingles, Jaccard ≥ ${threshold}; ${r.bands} bands × ${r.rowsPerBand})`);
  for (const e of r.examples) console.log(`    line ${e.line} ${e.kind === 'exact' ? '=' : '≈'} line ${e.of}${e.similarity !== undefined ? ` (${e.similarity.toFixed(2)})` : ''}`);
  if (r.exact + r.near > r.examples.length) console.log(`    … and ${n(r.exact + r.near - r.examples.length)} more${values.removed ? ` (all in ${values.removed})` : ' (--removed FILE lists them all)'}`);
  if (r.rejected.count) {
    console.log(`  skipped ${plural(r.rejected.count, 'broken row')}:`);
    for (const l of r.rejected.lines(input)) console.log(`    ${l}`);
  }
}

const EXPORT_HELP = `llama3-zh data export IN... --llamafactory DIR [--name NAME,...]

Write datasets where LLaMA-Factory reads them: each input becomes DIR/NAME.jsonl in ShareGPT form
(conversations with from/value, system prompts in "system"; tool calls and results as function_call and
observation turns with the tools in "tools", as LLaMA-Factory's glaive_toolcall data; preference pairs in
the ranking form with "chosen" and "rejected"; plain text as {"text"}), and DIR/dataset_info.json gets an entry for each,
with the formatting, ranking, columns and tags that say how to read it. Entries already in
dataset_info.json are kept. Then train with dataset_dir: DIR and dataset: NAME.

  --llamafactory DIR   the dataset folder (created if missing)
  --name NAME,...      dataset names, one per input (default: each file's name without extensions)${READ_HELP}`;

async function exportCommand(args: string[]) {
  const { values, positionals } = parseFlags('data export', args, { ...READ_FLAGS, llamafactory: { type: 'string' }, name: { type: 'string' } }, true);
  if (values.help) { console.log(EXPORT_HELP); return; }
  if (!positionals.length) throw new UserError('usage: llama3-zh data export IN... --llamafactory DIR', 2);
  if (!values.llamafactory) throw new UserError('give --llamafactory DIR, the folder to write the datasets and dataset_info.json to', 2);
  const names = values.name?.split(',').map((x) => x.trim());
  if (names && names.length !== positionals.length) throw new UserError(`--name gives ${names.length} name${names.length === 1 ? '' : 's'} for ${positionals.length} input${positionals.length === 1 ? '' : 's'}; give one per input`, 2);
  if (names?.some((x) => !/^[\p{L}\p{N}_.-]+$/u.test(x))) throw new UserError('--name: names are letters, digits, _ . and - only', 2);
  for (const p of positionals) inspectSource(p);
  const r = await exportLlamaFactory(positionals, values.llamafactory, { names, read: readLimits(values) });
  for (const d of r) {
    const what = d.kind === 'pair' ? 'sharegpt, ranking' : d.kind === 'text' ? 'text, for pre-training' : 'sharegpt';
    const tools = d.tools ? ', with tools' : '';
    console.log(`${d.input} (${d.from}) → ${join(values.llamafactory, d.file)}: ${plural(d.written, 'row')} (${what}${tools}); dataset "${d.name}"`);
    for (const [k, c] of d.lost.counts) console.log(`  kept with a loss: ${plural(c, 'row')}: ${k}`);
    for (const [k, c] of d.otherKind.counts) console.log(`  left out ${plural(c, 'row')}: ${k}`);
    if (d.rejected.count) {
      console.log(`  rejected ${plural(d.rejected.count, 'row')}:`);
      for (const l of d.rejected.lines(d.input)) console.log(`    ${l}`);
    }
  }
  console.log(`${join(values.llamafactory, 'dataset_info.json')}: ${r.map((d) => d.name).join(', ')}`);
  console.log(`train with: dataset_dir: ${values.llamafactory}, dataset: ${r.map((d) => d.name).join(',')}`);
}
