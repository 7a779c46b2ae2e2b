import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { regularFileSize } from '../util/files.js';
import type { ReadLimits } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { readRows } from './io/source.js';
import { Problems } from './dataset.js';
import { mapJsonStrings } from './jsonSpans.js';

/** A rule as written in a rules file. */
export interface RuleSpec {
  name?: string;
  replace?: string;
  with?: string;
  drop?: string;
  regex?: boolean;
  ignoreCase?: boolean;
}

export interface Rule {
  name: string;
  kind: 'replace' | 'drop';
  pattern: RegExp;
  with: string;
  /** Replacements made (replace) or rows dropped (drop). */
  hits: number;
  /** Rows this rule changed or dropped. */
  rows: number;
}

/** Keys whose values are identifiers, not text: never rewritten. */
const ID_KEYS = new Set(['id', 'conversation_id', 'from', 'role', 'tool_call_id']);

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function compileRules(specs: unknown, source: string): Rule[] {
  const list = Array.isArray(specs) ? specs : typeof specs === 'object' && specs !== null && Array.isArray((specs as { rules?: unknown }).rules) ? (specs as { rules: unknown[] }).rules : undefined;
  if (!list) throw new UserError(`${source}: expected a JSON list of rules, or {"rules": [...]}`);
  if (!list.length) throw new UserError(`${source}: no rules`);
  return list.map((spec, i) => {
    const at = `${source}: rule ${i + 1}`;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new UserError(`${at}: must be an object like {"replace": "ChatGPT", "with": "…"} or {"drop": "…"}`);
    const s = spec as RuleSpec;
    const known = new Set(['name', 'replace', 'with', 'drop', 'regex', 'ignoreCase']);
    const unknown = Object.keys(s).filter((k) => !known.has(k));
    if (unknown.length) throw new UserError(`${at}: unknown key "${unknown[0]}" (keys: replace, with, drop, regex, ignoreCase, name)`);
    if ((s.replace === undefined) === (s.drop === undefined)) throw new UserError(`${at}: give "replace" (with "with") or "drop", one of them`);
    const kind = s.replace !== undefined ? 'replace' : 'drop';
    const text = s.replace ?? s.drop;
    if (typeof text !== 'string' || text === '') throw new UserError(`${at}: "${kind}" must be a non-empty string`);
    if (kind === 'replace' && typeof s.with !== 'string') throw new UserError(`${at}: "with" must be a string (the replacement; "" deletes)`);
    if (kind === 'drop' && s.with !== undefined) throw new UserError(`${at}: a drop rule has no "with"`);
    let pattern: RegExp;
    try {
      pattern = new RegExp(s.regex ? text : escapeRegex(text), `gu${s.ignoreCase ? 'i' : ''}`);
    } catch (e) {
      throw new UserError(`${at}: bad regular expression ${JSON.stringify(text)}: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
    }
    return { name: s.name ?? `${kind} ${JSON.stringify(text)}${kind === 'replace' ? ` → ${JSON.stringify(s.with)}` : ''}`, kind, pattern, with: s.with ?? '', hits: 0, rows: 0 };
  });
}

/** A rules file is a short list; anything bigger is not one (and would be read whole). */
const MAX_RULES_FILE = 16 << 20;

export function loadRules(path: string): Rule[] {
  const size = regularFileSize(path, 'rules file');
  if (size > MAX_RULES_FILE) throw new UserError(`${path} is ${(size / (1 << 20)).toFixed(0)} MiB, too big for a rules file (at most ${MAX_RULES_FILE >> 20} MiB); give the JSON list of rules`);
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw new UserError(`cannot read the rules file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new UserError(`${path} is not valid JSON: ${(e as Error).message}`); }
  return compileRules(json, path);
}

/** Words in answers that the original refusal filter dropped rows for: canned refusals and AI disclaimers. */
export const REFUSAL_WORDS = [
  '抱歉', '对不起', '我无法', '作为一个人工智能', '作为一个AI', '作为AI', 'AI语言模型', '人工智能语言模型',
  "I'm sorry", 'I am sorry', 'As an AI', 'as an AI language model', 'I cannot fulfill',
];

/**
 * The identity rewrite of the original project's scripts: the model calls itself by its own name, not
 * ChatGPT, made by its own author, not OpenAI; rows with refusals or AI disclaimers are dropped.
 */
export function identityPreset(name: string, author: string): RuleSpec[] {
  return [
    { name: `ChatGPT → ${name}`, replace: 'chat\\s?gpt', regex: true, ignoreCase: true, with: name },
    { name: `OpenAI → ${author}`, replace: 'open\\s?ai', regex: true, ignoreCase: true, with: author },
    { name: 'drop rows with refusal words', drop: REFUSAL_WORDS.map(escapeRegex).join('|'), regex: true },
  ];
}

/**
 * Tool JSON held as text: a ShareGPT function_call value, a "tools" string, an OpenAI call's "arguments". Its
 * JSON is read by LLaMA-Factory (json.loads in FunctionFormatter and ToolFormatter), so rules change only the
 * string values inside it: a rule like "," → "，" run over the text would break it and stop the training run.
 */
function rewriteJsonText(s: string, rewrite: (v: string) => string, keep: (key: string | undefined, depth: number) => boolean): string {
  try { JSON.parse(s); } catch { return rewrite(s); } // not JSON: data check rejects it; rewritten as text
  return mapJsonStrings(s, (v, key, depth) => (keep(key, depth) ? v : rewrite(v)));
}

/** In a tool definition only the descriptions are text: names, types, required and enum values are identifiers. */
const isToolText = (key: string | undefined) => key === 'description' || key === 'title';

/**
 * Apply the rules to every string of a value (ids and role names excepted), in rule order. Tool calls and tool
 * definitions keep their JSON and their identifiers: only the call arguments' strings and the tools'
 * descriptions are rewritten (a call's name must still match its tool's).
 */
function applyRules(rules: Rule[], value: unknown): { value: unknown; dropped?: Rule } {
  const touched = new Set<Rule>();
  const rewrite = (v: string): string => {
    let s = v;
    for (const r of rules) {
      if (r.kind === 'drop') {
        r.pattern.lastIndex = 0;
        if (r.pattern.test(s)) throw new Dropped(r);
        continue;
      }
      s = s.replace(r.pattern, () => { r.hits++; touched.add(r); return r.with; });
    }
    return s;
  };
  const anyValue = () => false;
  // Arguments given as an object (Hugging Face's form) are text like the JSON string form's values.
  const inside = (within: 'text' | 'tools' | 'call', k: string) =>
    within === 'text' && k === 'tools' ? 'tools' : within === 'text' && k === 'tool_calls' ? 'call' : within === 'call' && k === 'arguments' ? 'text' : within;
  /** `within`: the part of a row the value is in: plain text, a tools list, or an OpenAI tool call. */
  const walk = (v: unknown, key?: string, within: 'text' | 'tools' | 'call' = 'text', inCallTurn = false): unknown => {
    if (typeof v === 'string') {
      if (key !== undefined && ID_KEYS.has(key)) return v;
      if (key === 'arguments' && within !== 'tools') return rewriteJsonText(v, rewrite, anyValue);
      if (key === 'tools') return rewriteJsonText(v, rewrite, (k) => !isToolText(k));
      if (within === 'tools') return isToolText(key) ? rewrite(v) : v;
      if (within === 'call') return v;
      if (key === 'value' && inCallTurn) {
        const list = v.trimStart().startsWith('[');
        return rewriteJsonText(v, rewrite, (k, depth) => k === 'name' && depth === (list ? 2 : 1));
      }
      return rewrite(v);
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, key, within));
    if (typeof v === 'object' && v !== null) {
      const call = (v as Record<string, unknown>).from === 'function_call';
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k, inside(within, k), call);
      return out;
    }
    return v;
  };
  try {
    const value2 = walk(value);
    for (const r of touched) r.rows++;
    return { value: value2 };
  } catch (e) {
    if (e instanceof Dropped) {
      // A dropped row's replacements do not count: it is not in the output.
      return { value, dropped: e.rule };
    }
    throw e;
  }
}

class Dropped {
  constructor(readonly rule: Rule) {}
}

export interface RewriteReport { rows: number; written: number; dropped: number; rejected: Problems; rules: Rule[] }

export async function rewriteFile(input: string, output: string, rules: Rule[], read?: ReadLimits): Promise<RewriteReport> {
  const sink = new RowSink(output);
  const report: RewriteReport = { rows: 0, written: 0, dropped: 0, rejected: new Problems(), rules };
  // Counts of replacements in rows later dropped are taken back.
  await withSinks([sink], async () => {
    for await (const batch of readRows(input, { read })) {
      report.rows += batch.length;
      for (const r of batch) {
        if (report.rejected.addIfBroken(r)) continue;
        const before = rules.map((x) => x.hits);
        const out = applyRules(rules, r.value);
        if (out.dropped) {
          rules.forEach((x, i) => { x.hits = before[i]; });
          out.dropped.hits++;
          out.dropped.rows++;
          report.dropped++;
          continue;
        }
        sink.write(out.value as Record<string, unknown>);
      }
    }
    report.written = sink.count;
  });
  return report;
}
