import { assertNotInput } from './paths.js';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors.js';
import { regularFileSize, writeFileAtomic } from '../util/files.js';
import { sharegpt, text, type FormatName } from './formats/index.js';
import { MAX_DEPTH, type ReadLimits, tooDeep } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { openDataset, Problems, Tally } from './dataset.js';
import { type DataRecord, RowError } from './record.js';
import { defaultToolPromptProblem } from './tools.js';

const SHAREGPT_TAGS = { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system' };
/** All seven tags, in the order of LLaMA-Factory's DatasetAttr; the two tool tags are its defaults, as glaive_toolcall uses them. */
const TOOL_TAGS = { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', observation_tag: 'observation', function_tag: 'function_call', system_tag: 'system' };

/** What the rows of one exported file hold, for its entry. */
export interface ExportedColumns {
  /** Some row has a system prompt. */
  system?: boolean;
  /** Some row has a tools list (an empty one included). */
  tools?: boolean;
  /** Some row has tool calls or tool results. */
  toolTurns?: boolean;
}

/**
 * The dataset_info.json entry LLaMA-Factory needs to read a file we wrote. A column is named only when some row
 * has it: LLaMA-Factory's SharegptDatasetConverter reads example[columns.system] (and columns.tools) whenever the
 * column is named, and a JSON file none of whose rows has "system" has no such column (KeyError: 'system'). Tool
 * data gets the observation and function tags too, as LLaMA-Factory's own glaive_toolcall entries read them.
 */
export function datasetInfoEntry(kind: DataRecord['kind'], fileName: string, has: ExportedColumns = { system: true }): Record<string, unknown> {
  if (kind === 'text') return { file_name: fileName, columns: { prompt: 'text' } };
  const columns = { ...(has.system ? { system: 'system' } : {}), ...(has.tools ? { tools: 'tools' } : {}) };
  const tags = has.tools || has.toolTurns ? TOOL_TAGS : SHAREGPT_TAGS;
  if (kind === 'pair') {
    return { file_name: fileName, formatting: 'sharegpt', ranking: true, columns: { messages: 'conversations', chosen: 'chosen', rejected: 'rejected', ...columns }, tags };
  }
  return { file_name: fileName, formatting: 'sharegpt', columns: { messages: 'conversations', ...columns }, tags };
}

export interface ExportedDataset {
  input: string;
  name: string;
  file: string;
  from: FormatName;
  kind: DataRecord['kind'];
  rows: number;
  written: number;
  rejected: Problems;
  /** Rows of another kind than the file's first rows (a pair in an SFT file…), left out. */
  otherKind: Tally;
  /** Rows written with something ShareGPT cannot hold left out (text beside a tool call, call ids), by what. */
  lost: Tally;
  /** Some row has tools or tool turns: the entry has the tools column and the tool tags. */
  tools: boolean;
  /** Rows whose tools LLaMA-Factory's default tool prompt cannot write (train init refuses them under that prompt): the first one and why. */
  defaultToolPrompt?: { rows: number; line: number; reason: string };
}

/** LLaMA-Factory's own dataset_info.json is about 30 KB. */
const MAX_INFO_FILE = 64 << 20;

export const datasetName = (path: string) => basename(path).replace(/(\.(jsonl|ndjson|json|csv|txt|parquet))?(\.gz)?$/i, '').replace(/[^\p{L}\p{N}_.-]+/gu, '_');

/**
 * Write each input into DIR as LLaMA-Factory reads it (ShareGPT; the ranking form for preference pairs;
 * {"text"} for pre-training text) and add an entry per dataset to DIR/dataset_info.json, keeping the
 * entries already there. Every file is complete before dataset_info.json names it.
 *
 * Tool data goes as ShareGPT with function_call / observation turns and the tools column, the form of
 * LLaMA-Factory's glaive_toolcall, also when it came as OpenAI messages: LLaMA-Factory's "openai" formatting
 * (OpenAIDatasetConverter) passes tool_calls[].function on with `arguments` still a JSON string, which
 * FunctionFormatter json.dumps again (the model would learn the arguments as one quoted string), and it adds
 * "detailed thinking off" to the system prompt.
 */
export async function exportLlamaFactory(inputs: string[], dir: string, o: { names?: string[]; read?: ReadLimits } = {}): Promise<ExportedDataset[]> {
  const names = o.names ?? inputs.map(datasetName);
  const dup = names.find((nm, i) => names.indexOf(nm) !== i);
  if (dup) throw new UserError(`two inputs would both be the dataset "${dup}"; give --name with one name per input`, 2);
  const created = !existsSync(dir);
  try { mkdirSync(dir, { recursive: true }); } catch (e) { throw new UserError(`cannot create ${dir}: ${(e as Error).message}`); }
  try {
    return await exportInto(inputs, dir, names, o.read);
  } catch (e) {
    // A failed export leaves nothing behind: not even the folder it made (rmdir removes only an empty one).
    if (created) try { rmdirSync(dir); } catch { /* not empty: files were there before */ }
    throw e;
  }
}

async function exportInto(inputs: string[], dir: string, names: string[], read: ReadLimits | undefined): Promise<ExportedDataset[]> {
  // The exported files go next to dataset_info.json; none of them may be one of the inputs (LLaMA-Factory's
  // data folder is where people keep their datasets), which would be replaced before it is read.
  for (const nm of names) assertNotInput(join(dir, `${nm}.jsonl`), inputs, '--llamafactory');
  const infoPath = join(dir, 'dataset_info.json');
  let info: Record<string, unknown> = {};
  if (existsSync(infoPath)) {
    // A FIFO or device here would block or never end the read; a huge file is no dataset list.
    const size = regularFileSize(infoPath, 'dataset_info.json');
    if (size > MAX_INFO_FILE) throw new UserError(`${infoPath} is ${(size / (1 << 20)).toFixed(0)} MiB, too big for a dataset_info.json (at most ${MAX_INFO_FILE >> 20} MiB); fix or move it, it is not overwritten`);
    try { info = JSON.parse(readFileSync(infoPath, 'utf8')); } catch (e) {
      throw new UserError(`${infoPath} is not valid JSON (${(e as Error).message}); fix or move it, it is not overwritten`);
    }
    if (typeof info !== 'object' || info === null || Array.isArray(info)) throw new UserError(`${infoPath} must hold a JSON object of datasets; fix or move it`);
    // It is written back with JSON.stringify, which overflows the stack on deep nesting.
    if (tooDeep(info)) throw new UserError(`${infoPath} is nested deeper than ${MAX_DEPTH} levels, which no dataset_info.json is; fix or move it, it is not overwritten`);
  }
  const done: ExportedDataset[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const ds = await openDataset(inputs[i], { read });
    const file = `${names[i]}.jsonl`;
    const sink = new RowSink(join(dir, file));
    const ex: ExportedDataset = { input: inputs[i], name: names[i], file, from: ds.format.name, kind: 'chat', rows: 0, written: 0, rejected: new Problems(), otherKind: new Tally(), lost: new Tally(), tools: false };
    let kind: DataRecord['kind'] | undefined;
    const has: ExportedColumns = {};
    await withSinks([sink], async () => {
      for await (const batch of ds.batches) {
        ex.rows += batch.length;
        for (const r of batch) {
          if (ex.rejected.addIfBroken(r)) continue;
          let rec: DataRecord;
          try { rec = ds.format.read(r.value); } catch (e) {
            if (e instanceof RowError) { ex.rejected.add({ line: r.line, reason: e.message }); continue; }
            throw e;
          }
          kind ??= rec.kind;
          if (rec.kind !== kind) { ex.otherKind.add(`${rec.kind} rows in a ${kind} dataset`); continue; }
          if (rec.kind !== 'text') {
            if (rec.system) has.system = true;
            if (rec.tools) has.tools = true;
            if (!has.toolTurns && (rec.kind === 'chat' ? rec.turns : rec.prompt).some((t) => t.role === 'call' || t.role === 'tool')) has.toolTurns = true;
            const why = rec.tools?.length ? defaultToolPromptProblem(rec.tools) : undefined;
            if (why) { if (ex.defaultToolPrompt) ex.defaultToolPrompt.rows++; else ex.defaultToolPrompt = { rows: 1, line: r.line, reason: why }; }
          }
          sink.write((kind === 'text' ? text : sharegpt).write(rec, (what) => ex.lost.add(what)));
        }
      }
      if (!sink.count) throw new UserError(`${inputs[i]} has no usable rows to export`);
    });
    ex.kind = kind!;
    ex.written = sink.count;
    ex.tools = !!(has.tools || has.toolTurns);
    info[names[i]] = datasetInfoEntry(ex.kind, file, has);
    done.push(ex);
  }
  writeFileAtomic(infoPath, JSON.stringify(info, null, 2) + '\n');
  return done;
}
