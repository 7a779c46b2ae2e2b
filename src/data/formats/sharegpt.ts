import { checkAnswer, type ChatTurn, checkTurns, isObject, idField, optStr, resultsInCallOrder, RowError, str, type ToolResult, typeName, Unrepresentable } from '../record.js';
import { isEmptyText, isText, type Text, textOf } from '../text.js';
import { callJson, pyJson, RESULTS_SEP } from '../toolJson.js';
import { readCallValue, readTools, toolNames } from '../tools.js';
import { type Format, type NoteLoss, perRow } from './format.js';

type Tag = ChatTurn['role'] | 'system';
// function_call and observation: LLaMA-Factory's default function_tag and observation_tag (its glaive_toolcall data).
const ROLES: Record<string, Tag> = {
  human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', chatgpt: 'assistant', system: 'system',
  function_call: 'call', observation: 'tool',
};

function readMessages(list: unknown, key: string, names: Set<string> | undefined): { system?: Text; turns: ChatTurn[] } {
  if (!Array.isArray(list)) throw new RowError(`'${key}' ${list === undefined ? 'is missing' : 'must be an array'}`);
  let system: Text | undefined;
  const turns: ChatTurn[] = [];
  list.forEach((m, i) => {
    const where = `${key}[${i}]: `;
    if (!isObject(m)) throw new RowError(`${key}[${i}] must be an object with "from" and "value"`);
    const from = str(m, 'from', where);
    const role = ROLES[textOf(from)];
    if (!role) throw new RowError(`${where}unknown role "from": ${JSON.stringify(from)} (known: human, gpt, system, function_call, observation)`);
    const value = str(m, 'value', where);
    if (role === 'system') {
      if (i !== 0) throw new RowError(`${where}a system message must come first`);
      system = isEmptyText(value) ? undefined : value;
    } else if (role === 'call') {
      turns.push({ role, calls: readCallValue(value, where, names) });
    } else if (role === 'tool') {
      turns.push({ role, results: splitResults(value, turns[turns.length - 1]) });
    } else {
      turns.push({ role, content: value });
    }
  });
  return { system, turns };
}

/** An observation after N parallel calls holds N results joined as LLaMA-Factory joins them; otherwise one. */
function splitResults(value: Text, before: ChatTurn | undefined): ToolResult[] {
  if (before?.role === 'call' && before.calls.length > 1) {
    const parts = textOf(value).split(RESULTS_SEP);
    if (parts.length === before.calls.length) return parts.map((content) => ({ content }));
  }
  return [{ content: value }];
}

function writeTurn(t: ChatTurn, lost: NoteLoss): { from: string; value: Text } {
  if (t.role === 'call') {
    if (t.content) lost('assistant text beside tool calls dropped (a function_call turn holds only the calls)');
    if (t.calls.some((c) => c.id !== undefined)) lost(IDS_LOST);
    return { from: 'function_call', value: callJson(t.calls) };
  }
  if (t.role === 'tool') {
    if (t.results.some((r) => r.callId !== undefined)) lost(IDS_LOST);
    return { from: 'observation', value: t.results.length === 1 ? t.results[0].content : t.results.map((r) => textOf(r.content)).join(RESULTS_SEP) };
  }
  return { from: t.role === 'user' ? 'human' : 'gpt', value: t.content };
}
const IDS_LOST = 'tool call ids dropped (ShareGPT matches results to calls by position)';

function answer(o: Record<string, unknown>, key: string): Text {
  const v = o[key];
  if (isText(v)) return checkAnswer(v, key);
  if (isObject(v)) {
    // LLaMA-Factory also ranks calls (function_call answers); read as text they would train as prose.
    if (isText(v.from) && textOf(v.from) === 'function_call') throw new RowError(`'${key}': a function_call answer is not supported; chosen and rejected are gpt answers`);
    return checkAnswer(str(v, 'value', `${key}: `), key);
  }
  throw new RowError(`'${key}' must be {"from": "gpt", "value": …}`);
}

/**
 * ShareGPT: {"conversations": [{"from": "human"|"gpt"|"system"|"function_call"|"observation", "value"}],
 * "system"?, "tools"?}, the tools a JSON string of the function list (LLaMA-Factory's glaive_toolcall form); with
 * "chosen" and "rejected" beside it, the ranking form LLaMA-Factory reads for DPO.
 */
export const sharegpt: Format = {
  name: 'sharegpt',
  about: '{"conversations": [{"from": "human"|"gpt"|"system"|"function_call"|"observation", "value"}], "tools"?}; with "chosen"/"rejected", the ranking form',
  fields: ['id', 'system', 'conversations', 'tools', 'chosen', 'rejected'],
  looksLike: (o) => Array.isArray(o.conversations),
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    const tools = readTools(o.tools);
    const m = readMessages(o.conversations, 'conversations', toolNames(tools));
    const system = optStr(o, 'system') ?? m.system;
    const head = { ...idField(o, 'id'), ...(system ? { system } : {}), ...(tools ? { tools } : {}) };
    if (o.chosen !== undefined || o.rejected !== undefined) {
      return { kind: 'pair', ...head, prompt: checkTurns(m.turns, 'user'), chosen: answer(o, 'chosen'), rejected: answer(o, 'rejected') };
    }
    return { kind: 'chat', ...head, turns: checkTurns(m.turns) };
  },
  // The tools column is read as a list too (converted rows may hold one), but LLaMA-Factory's ToolFormatter
  // json.loads it: a list is a TypeError there (it catches only JSONDecodeError) that stops the training run.
  checkAsIs: (o) => (o.tools !== undefined && o.tools !== null && !isText(o.tools)
    ? `'tools' must be a JSON string holding the list of functions, as LLaMA-Factory reads it (it json.loads the column), not ${typeName(o.tools)}; data export and data convert --to sharegpt write it so`
    : undefined),
  write(r, lost) {
    if (r.kind === 'text') throw new Unrepresentable('plain text has no turns');
    const out: Record<string, unknown> = {};
    if (r.id !== undefined) out.id = r.id;
    if (r.system) out.system = r.system;
    const once = perRow(lost);
    out.conversations = resultsInCallOrder(r.kind === 'chat' ? r.turns : r.prompt).map((t) => writeTurn(t, once));
    // LLaMA-Factory json.loads the tools column (ToolFormatter): a string, written as glaive's rows write it.
    if (r.tools) out.tools = pyJson(r.tools);
    if (r.kind === 'pair') {
      out.chosen = { from: 'gpt', value: r.chosen };
      out.rejected = { from: 'gpt', value: r.rejected };
    }
    return out;
  },
};
