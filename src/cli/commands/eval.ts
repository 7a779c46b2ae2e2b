import { mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { clientApiKey } from '../apiKey.js';
import { UserError } from '../../errors.js';
import { homeDir } from '../../hub/store.js';
import { type EvalModel, localModel } from '../../eval/model.js';
import { STYLES, type Style } from '../../eval/prompts.js';
import { remoteModel } from '../../eval/remote.js';
import { markdownReport, summarize } from '../../eval/report.js';
import { type ModelResults, readResults, resultsFileName } from '../../eval/results.js';
import { runEval } from '../../eval/runner.js';
import { loadTask, parseTasks, SCORED_SPLITS } from '../../eval/tasks.js';
import { skippedLine, TASKS, type TaskData } from '../../eval/types.js';
import { outputTarget, writeFileAtomic } from '../../util/files.js';
import { num, parseFlags } from '../flags.js';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, openModel } from '../modelFlags.js';
import { progressBar } from '../progress.js';

const HELP = `llama3-zh eval — C-Eval, CMMLU, MMLU and TriviaQA, scored the way the official harnesses score them

  llama3-zh eval -m MODEL [-m MODEL2 …] --data DIR [--tasks ceval,cmmlu,mmlu,triviaqa] [options]
  llama3-zh eval --base-url URL --name NAME --data DIR [options]     a remote OpenAI-compatible server

Benchmarks:
  --tasks LIST              ${TASKS.join(', ')} (default: every one found under --data)
  --data DIR                the unpacked official releases: DIR/ceval/{dev,val,test}/…,
                            DIR/cmmlu/{dev,test}/…, DIR/mmlu/{dev,val,test}/…, DIR/triviaqa/wikipedia-dev.json
                            (default ${'$'}LLAMA3ZH_HOME/eval, i.e. ~/.cache/llama3-zh/eval)
  --split S                 val, test or dev (default: C-Eval val, CMMLU and MMLU test, TriviaQA val)
  --shots N                 few-shot examples, the first N of dev (default 5; TriviaQA 8)
  --subjects LIST           only these subjects (file names, e.g. computer_network,logic)
  --limit N                 at most N questions per subject (TriviaQA: in all)
  --style official|chat     official: the reference prompts; chat: the shots as chat turns in the
                            model's template, for instruct models (default official)

Output:
  --out DIR                 results: DIR/<model>.json (every item's prediction and letter
                            log-probabilities) and DIR/report.md (default eval-results)
  --resume                  continue the run in --out (Ctrl-C keeps what is done)
  --no-prefix-cache         evaluate every prompt in full (to measure what prefix reuse brings)

Remote:
  --base-url URL            an OpenAI-compatible server (vLLM, llama.cpp server, llama3-zh serve):
                            /v1/completions with logprobs; generation for TriviaQA
  --name NAME               the model name to send (required with --base-url) and to report
                            (also for one -m: default its file name or repo id)
  --api-key KEY             bearer token (default ${'$'}LLAMA3_ZH_API_KEY, then ${'$'}OPENAI_API_KEY)

${MODEL_FLAGS_HELP}

Scoring: multiple choice by the most likely of the four letters as the next token after the
prompt (one forward pass per question; "B" after 答案：, " B" after MMLU's "Answer:");
TriviaQA by greedy answers to the end of the line, exact match and F1 after the official
normalisation. Averages: macro (mean over subjects) in the table, micro (over questions) below.`;

const dim = (s: string) => (process.stderr.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

export async function evalCommand(args: string[]): Promise<void> {
  const { values } = parseFlags('eval', args, {
    ...MODEL_FLAGS,
    model: { type: 'string', short: 'm', multiple: true },
    tasks: { type: 'string' },
    data: { type: 'string' },
    split: { type: 'string' },
    shots: { type: 'string' },
    subjects: { type: 'string' },
    limit: { type: 'string' },
    style: { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'boolean' },
    'no-prefix-cache': { type: 'boolean' },
    'base-url': { type: 'string' },
    name: { type: 'string' },
    'api-key': { type: 'string' },
  });
  if (values.help) { console.log(HELP); return; }
  const style = (values.style ?? 'official') as Style;
  if (!STYLES.includes(style)) throw new UserError(`unknown --style "${values.style}"; choose official or chat`, 2);
  const shots = num('--shots', values.shots, { int: true, min: 0, max: 64 });
  const limit = num('--limit', values.limit, { int: true, min: 1 });
  const subjects = values.subjects?.split(',').map((s) => s.trim()).filter(Boolean);
  const models = values.model ?? [];
  const remote = values['base-url'];
  if (remote && models.length) throw new UserError('give either -m MODEL or --base-url URL, not both', 2);
  if (remote && !values.name) throw new UserError('--base-url needs --name: the model name the server knows', 2);
  if (values.name && models.length > 1) throw new UserError('--name names one model; with several -m, each is named by its file or repo id', 2);
  if (!remote && !models.length) throw new UserError("give a model with -m MODEL (or a server with --base-url); see 'llama3-zh eval --help'", 2);
  if (remote && style === 'chat') throw new UserError('--style chat needs the model\'s template, which a remote server does not give; use --style official (or serve the chat model with its template and use official prompts)', 2);
  const data = values.data ?? join(homeDir(), 'eval');
  const outDir = values.out ?? 'eval-results';

  // Load every benchmark before any model, so a data problem shows before minutes of loading.
  const names = values.tasks ? parseTasks(values.tasks) : undefined;
  const tasks: TaskData[] = [];
  for (const t of names ?? TASKS) {
    // Without --tasks, --split picks the benchmarks that have that split.
    if (!names && values.split && !SCORED_SPLITS[t].includes(values.split)) continue;
    try {
      tasks.push(loadTask(t, { data, split: values.split, shots, subjects, limit }));
    } catch (e) {
      // Without --tasks, a benchmark that is not there is simply not run.
      if (names || !(e instanceof UserError) || !/^no \S+ data under/.test(e.message)) throw e;
    }
  }
  if (!tasks.length) throw new UserError(`no benchmark data under ${data}; unpack C-Eval, CMMLU, MMLU or TriviaQA there (see 'llama3-zh eval --help'), or give --data`);
  for (const t of tasks) {
    const n = t.kind === 'mcq' ? t.subjects.reduce((a, s) => a + s.items.length, 0) : t.items.length;
    const where = t.kind === 'mcq' ? `${t.subjects.length} subject${t.subjects.length === 1 ? '' : 's'}, ` : '';
    console.error(dim(`${t.task}: ${where}${n} questions (${t.split}, ${t.kind === 'mcq' ? t.shots : t.shotCount}-shot)${t.skipped.length ? `; skipped ${t.skipped.length}:` : ''}`));
    for (const s of t.skipped.slice(0, 5)) console.error(dim(`  ${skippedLine(s)}`));
    if (t.skipped.length > 5) console.error(dim(`  … and ${t.skipped.length - 5} more (all in the results file)`));
  }
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create --out ${outDir}: ${(e as Error).message}`);
  }

  // Names and results files of all models first: a clash or a finished run is refused before any loading.
  const runs = (remote ? [values.name!] : models).map((spec) => {
    const name = values.name ?? displayName(spec);
    return { spec, name, file: join(outDir, resultsFileName(name)) };
  });
  for (const [i, r] of runs.entries()) {
    const twin = runs.findIndex((o) => o.file === r.file);
    if (twin !== i) throw new UserError(`-m ${runs[twin].spec} and -m ${r.spec} would both write ${r.file}; rename one of the files`, 2);
    if (!values.resume && readResults(r.file)) throw new UserError(`${r.file} already holds results; add --resume to continue that run, or use another --out`);
    // Every file the run will write must be writable before the first question, not after the last.
    outputTarget(r.file);
  }
  for (const f of ['report.md', 'summary.json']) outputTarget(join(outDir, f));

  const ac = new AbortController();
  const onInt = () => {
    if (ac.signal.aborted) process.exit(130);
    console.error('\nstopping after the current question (Ctrl-C again to quit at once)…');
    ac.abort();
  };
  process.on('SIGINT', onInt);
  const all: ModelResults[] = [];
  try {
    for (const { spec, name, file } of runs) {
      if (ac.signal.aborted) break;
      let model: EvalModel;
      if (remote) {
        model = remoteModel({ baseUrl: remote, name: spec, apiKey: clientApiKey(values['api-key']).apiKey });
      } else {
        console.error(dim(`loading ${spec}…`));
        model = localModel(name, await openModel({ ...values, model: spec }, { command: 'eval' }));
      }
      try {
        const bar = progressBar(`${name}`, 'items');
        const r = await runEval({
          model, tasks, style, file, resume: values.resume, reuseCache: !values['no-prefix-cache'], signal: ac.signal, progress: {
            start: (t, a) => bar.start(t, a), update: (d) => bar.update(d), done: () => bar.done(),
          },
        });
        all.push(r.results);
        const rate = r.seconds > 0 ? r.ran / r.seconds : 0;
        console.error(dim(`${name}: ${r.ran} questions in ${r.seconds.toFixed(1)} s (${rate.toFixed(2)} questions/s); results in ${file}`));
        if (r.interrupted) {
          console.error(`interrupted: ${r.done} of ${r.total} questions done and saved in ${file}; run the same command with --resume to continue`);
          process.exitCode = 130;
        }
      } finally {
        await model.close();
      }
    }
  } finally {
    process.off('SIGINT', onInt);
  }
  if (!all.length) return;
  // The report covers every model whose results are in --out, so runs made one model at a time add up to one table.
  const others = readdirSync(outDir).filter((f) => f.endsWith('.json') && f !== 'summary.json').sort()
    .map((f) => { try { return readResults(join(outDir, f)); } catch { return undefined; } })
    .filter((r): r is ModelResults => r !== undefined && !all.some((a) => a.model === r.model));
  const reported = [...all, ...others];
  const report = markdownReport(reported);
  writeFileAtomic(join(outDir, 'report.md'), report);
  writeFileAtomic(join(outDir, 'summary.json'), JSON.stringify(reported.map((r) => ({ model: r.model, tasks: summarize(r) })), null, 1) + '\n');
  process.stdout.write(report);
}

/** The name a model goes by in reports: the file name without .gguf, or the name or repo id as given. */
function displayName(spec: string): string {
  return spec.toLowerCase().endsWith('.gguf') ? basename(spec).slice(0, -5) : spec;
}
