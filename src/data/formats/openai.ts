import { type CallTurn, type ChatTurn, checkTurns, type FunctionCall, isObject, idField, type ResultTurn, RowError, str, type ToolDef, type ToolResult, typeName, Unrepresentable } from '../record.js';
import { flattenPair } from './lossy.js';
import { isBlank, isEmptyText, isText, type Text, textOf } from '../text.js';
import { defaultCallId } from '../toolJson.js';
import { readCallFunction, readTools, toolNames } from '../tools.js';
import type { Format } from './format.js';

/** Message content: a string, or the list-of-parts form ([{"type": "text", "text"}]). */
function content(m: Record<string, unknown>, where: string): Text {
  const c = m.content;
  if (isText(c)) return c;
  if (Array.isArray(c)) {
    return c.map((p, j) => {
      if (isObject(p) && isText(p.type) && textOf(p.type) === 'text' && isText(p.text)) return textOf(p.text);
      throw new RowError(`${where}content[${j}] is not a text part (only text is supported)`);
    }).join('');
  }
  throw new RowError(`${where}'content' ${c === undefined ? 'is missing' : 'must be a string or a list of text parts'}`);
}

/** An assistant message's tool calls: [{"id", "type": "function", "function": {"name", "arguments"}}]. */
function readToolCalls(list: unknown[], where: string, names: Set<string> | undefined, k0: number): FunctionCall[] {
  return list.map((tc, j) => {
    const at = `${where}tool_calls[${j}]`;
    if (!isObject(tc)) throw new RowError(`${at} must be {"id", "type": "function", "function": {"name", "arguments"}}, not ${typeName(tc)}`);
    if (tc.type !== undefined && !(isText(tc.type) && textOf(tc.type) === 'function')) throw new RowError(`${at}: 'type' must be "function"`);
    const id = tc.id;
    if (id !== undefined && id !== null && !isText(id)) throw new RowError(`${at}: 'id' must be a string, not ${typeName(id)}`);
    const call = readCallFunction(tc.function, at, names);
    // An id a writer would give anyway is not kept: rows without ids then read back as they were.
    return isText(id) && !isEmptyText(id) && textOf(id) !== defaultCallId(k0 + j) ? { id, ...call } : call;
  });
}

/**
 * OpenAI chat messages into turns: system first; user and assistant; an assistant message with tool_calls is a
 * call turn; the tool messages after it (one per call, matched by tool_call_id) are one result turn.
 */
export function readOpenAIMessages(list: unknown, key: string, names?: Set<string>): { system?: Text; turns: ChatTurn[] } {
  if (!Array.isArray(list)) throw new RowError(`'${key}' ${list === undefined ? 'is missing' : 'must be an array'}`);
  let system: Text | undefined;
  const turns: ChatTurn[] = [];
  let calls = 0;
  let last: CallIds | undefined;
  list.forEach((m, i) => {
    const where = `${key}[${i}]: `;
    if (!isObject(m)) throw new RowError(`${key}[${i}] must be an object with "role" and "content"`);
    const role = textOf(str(m, 'role', where));
    const tc = m.tool_calls;
    if (tc !== undefined && tc !== null && !Array.isArray(tc)) throw new RowError(`${where}'tool_calls' must be a list, not ${typeName(tc)}`);
    if (role === 'system') {
      if (i !== 0) throw new RowError(`${where}a system message must come first`);
      const text = content(m, where);
      system = isEmptyText(text) ? undefined : text;
    } else if (role === 'assistant' && tc?.length) {
      const turn: CallTurn = { role: 'call', calls: readToolCalls(tc, where, names, calls) };
      const text = m.content === undefined || m.content === null ? undefined : content(m, where);
      if (text !== undefined && !isBlank(text)) turn.content = text;
      const ids = turn.calls.map((c, j) => (c.id !== undefined ? textOf(c.id) : defaultCallId(calls + j)));
      last = { turn, at: i, ids, known: new Set(ids) };
      calls += turn.calls.length;
      turns.push(turn);
    } else if (role === 'tool') {
      const prev = turns[turns.length - 1];
      const results: ResultTurn = prev?.role === 'tool' ? prev : { role: 'tool', results: [] };
      if (results !== prev) turns.push(results);
      results.results.push(readResult(m, where, key, results, turns[turns.length - 2] === last?.turn ? last : undefined));
    } else if (role === 'user' || role === 'assistant') {
      turns.push({ role, content: content(m, where) });
    } else {
      throw new RowError(`${where}unsupported role ${JSON.stringify(role)} (system, user, assistant and tool are)`);
    }
  });
  return { system, turns };
}

/** A call turn's ids (given or the writer's defaults); a Set too, so a turn of N parallel calls matches in N steps, not N². */
interface CallIds { turn: CallTurn; at: number; ids: string[]; known: Set<string> }

/** A tool message; `call` is the call turn it answers (undefined when none is right before: checkTurns says so). */
function readResult(m: Record<string, unknown>, where: string, key: string, into: ResultTurn, call: CallIds | undefined): ToolResult {
  const result: ToolResult = { content: content(m, where) };
  const id = m.tool_call_id;
  if (id !== undefined && id !== null && !isText(id)) throw new RowError(`${where}'tool_call_id' must be a string, not ${typeName(id)}`);
  if (!call) return result;
  const k = into.results.length;
  if (k >= call.ids.length) throw new RowError(`${where}more tool results than the ${call.ids.length} call${call.ids.length === 1 ? '' : 's'} of ${key}[${call.at}]`);
  if (isText(id)) {
    if (!call.known.has(textOf(id))) throw new RowError(`${where}tool_call_id ${JSON.stringify(textOf(id))} answers no call of ${key}[${call.at}] (its ids: ${call.ids.join(', ')})`);
    if (call.ids[k] !== textOf(id)) result.callId = id;
  }
  return result;
}

/** Turns as OpenAI messages; calls without ids get defaultCallId, each result the id of the call it answers. */
export function writeOpenAIMessages(turns: ChatTurn[], system?: Text): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = system ? [{ role: 'system', content: system }] : [];
  let calls = 0;
  let ids: Text[] = [];
  for (const t of turns) {
    if (t.role === 'call') {
      ids = t.calls.map((c, j) => c.id ?? defaultCallId(calls + j));
      calls += t.calls.length;
      out.push({
        role: 'assistant', ...(t.content ? { content: t.content } : {}),
        tool_calls: t.calls.map((c, j) => ({ id: ids[j], type: 'function', function: { name: c.name, arguments: c.arguments } })),
      });
    } else if (t.role === 'tool') {
      t.results.forEach((r, j) => out.push({ role: 'tool', tool_call_id: r.callId ?? ids[j], content: r.content }));
    } else {
      out.push({ role: t.role, content: t.content });
    }
  }
  return out;
}

/** OpenAI's tools field: each function wrapped as {"type": "function", "function": {…}}. */
export const openaiTools = (tools: ToolDef[]) => tools.map((f) => ({ type: 'function', function: f }));

/** Agent-FLAN's rows hold OpenAI-style messages under "conversation" (where Firefly rows hold {human, assistant}). */
export const isRoleList = (v: unknown) => Array.isArray(v) && isObject(v[0]) && 'role' in v[0];

/**
 * OpenAI chat messages: {"messages": [{"role": "system"|"user"|"assistant"|"tool", "content", "tool_calls"?,
 * "tool_call_id"?}], "tools"?} — the chat completions shape, and OpenAI's fine-tuning rows with tool calls.
 */
export const openai: Format = {
  name: 'openai',
  about: '{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content", "tool_calls"?}], "tools"?}',
  fields: ['id', 'messages', 'tools'],
  alsoReads: ['conversation'],
  looksLike: (o) => Array.isArray(o.messages) || isRoleList(o.conversation),
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    const tools = readTools(o.tools);
    const key = o.messages === undefined && isRoleList(o.conversation) ? 'conversation' : 'messages';
    const m = readOpenAIMessages(o[key], key, toolNames(tools));
    return { kind: 'chat', ...idField(o, 'id'), ...(m.system ? { system: m.system } : {}), ...(tools ? { tools } : {}), turns: checkTurns(m.turns) };
  },
  write(r, lost) {
    if (r.kind === 'text') throw new Unrepresentable('plain text has no turns');
    const chat = r.kind === 'pair' ? flattenPair(r, lost) : r;
    const out: Record<string, unknown> = {};
    if (chat.id !== undefined) out.id = chat.id;
    out.messages = writeOpenAIMessages(chat.turns, chat.system);
    if (chat.tools) out.tools = openaiTools(chat.tools);
    return out;
  },
};
