/**
 * The one internal shape every dataset format reads into and writes from. A format is a pair of pure
 * functions between its JSON rows and these records, so any format converts to any other.
 */
import { isBlank, isEmptyText, isText, RawText, type Text, textOf } from './text.js';
import { callJson, defaultCallId, pyJson } from './toolJson.js';

export type Role = 'user' | 'assistant';
/** Texts are strings, or a file's raw JSON string bytes when `convert` passes them through undecoded. */
export interface Turn { role: Role; content: Text }

/**
 * One function call. `arguments` is the JSON text of an object, exactly as the dataset wrote it (OpenAI's
 * `arguments` string; the `arguments` member of a ShareGPT function_call value): numbers, escapes and key order
 * survive every conversion. `id` only when the dataset gave one other than the one a writer would make
 * (defaultCallId), so rows read from a format without ids and written to one with them read back the same.
 */
export interface FunctionCall { id?: Text; name: Text; arguments: Text }
/**
 * The assistant calls tools (LLaMA-Factory's function_call turn; an OpenAI assistant message with tool_calls):
 * several calls are parallel calls. `content`: text the assistant said beside them (OpenAI rows only).
 */
export interface CallTurn { role: 'call'; calls: FunctionCall[]; content?: Text }
/** One tool's answer; `callId` only when it does not answer the call at its own position. */
export interface ToolResult { content: Text; callId?: Text }
/** What the tools returned to a call turn (LLaMA-Factory's observation; OpenAI's tool messages, one per call). */
export interface ResultTurn { role: 'tool'; results: ToolResult[] }
/**
 * A turn of a conversation. LLaMA-Factory's rule (SharegptDatasetConverter): the user and tool results take
 * the odd places (1, 3, …), the assistant's answers and calls the even ones; a result follows a call.
 */
export type ChatTurn = Turn | CallTurn | ResultTurn;

/**
 * A tool the model may call, as the row defines it: OpenAI's function object {"name", "description"?,
 * "parameters", …}, every key kept in its order (the OpenAI wrapper {"type": "function", "function"} is not kept:
 * writers add it where their format has it).
 */
export type ToolDef = Record<string, unknown> & { name: Text };

/** A conversation for supervised fine-tuning: turns alternate user → assistant and end on the assistant. */
export interface ChatRecord { kind: 'chat'; id?: string | number; system?: Text; tools?: ToolDef[]; turns: ChatTurn[] }
/** A preference pair for DPO/ORPO: the conversation so far (ending on the user) and two answers. */
export interface PairRecord { kind: 'pair'; id?: string | number; system?: Text; tools?: ToolDef[]; prompt: ChatTurn[]; chosen: Text; rejected: Text }
/** A document for continued pre-training. */
export interface TextRecord { kind: 'text'; id?: string | number; text: Text }
export type DataRecord = ChatRecord | PairRecord | TextRecord;

/** Why one row cannot be read (bad shape, empty turn, wrong role order); the row is rejected, the run goes on. */
export class RowError extends Error {
  override name = 'RowError';
}

/** A value a format cannot hold at all (a pair written as plain text…): the row is left out, with this reason. */
export class Unrepresentable extends Error {
  override name = 'Unrepresentable';
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RawText);
}

/** A string field, or a RowError naming it. */
export function str(o: Record<string, unknown>, key: string, where = ''): Text {
  const v = o[key];
  if (!isText(v)) throw new RowError(`${where}'${key}' ${v === undefined ? 'is missing' : `must be a string, not ${typeName(v)}`}`);
  return v;
}

/** An optional string field; an empty one counts as absent. */
export function optStr(o: Record<string, unknown>, key: string): Text | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isText(v)) throw new RowError(`'${key}' must be a string, not ${typeName(v)}`);
  return isEmptyText(v) ? undefined : v;
}

/** An id field: a string or a number, kept as it was so it round-trips. */
export function optId(o: Record<string, unknown>, key: string): string | number | undefined {
  const v = o[key];
  return typeof v === 'number' ? v : isText(v) ? textOf(v) : undefined;
}

export function typeName(v: unknown): string {
  return isText(v) ? 'a string' : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

const SIDE: Record<ChatTurn['role'], 0 | 1> = { user: 0, tool: 0, assistant: 1, call: 1 };
const WHO: Record<ChatTurn['role'], string> = { user: 'from the user', assistant: 'from the assistant', call: 'a tool call', tool: 'a tool result' };
const NOUN: Record<ChatTurn['role'], string> = { user: 'the user', assistant: 'an answer', call: 'a tool call', tool: 'a tool result' };

/** Why turn i (0-based) may not follow turn i - 1, where both are on the same side. */
function sameSide(prev: ChatTurn, t: ChatTurn, i: number): string {
  if (prev.role === t.role && (t.role === 'user' || t.role === 'assistant')) return `turns ${i} and ${i + 1} are both from the ${t.role}`;
  if (t.role === 'call' && prev.role === 'call') return `turns ${i} and ${i + 1} are both tool calls; parallel calls belong in one turn`;
  if (t.role === 'user') return `turn ${i + 1} is from the user, right after a tool result; the assistant answers the result first`;
  return `turns ${i} and ${i + 1} are both from the assistant (${NOUN[prev.role]}, then ${NOUN[t.role]})`;
}

/**
 * Roles alternate as LLaMA-Factory requires: the user (or tool results) at turns 1, 3, …, the assistant (an answer
 * or a tool call) at 2, 4, …; and a tool result answers the tool call right before it, which LLaMA-Factory does not
 * check (a result after a text answer is a call lost in translation, as in its zh demo). `endOn` is the side the
 * conversation ends on: the assistant's for a conversation (an answer or a call is what is learned), the user's
 * for a pair's prompt. Text messages may not be empty.
 */
export function checkTurns<T extends ChatTurn>(turns: T[], endOn: Role = 'assistant'): T[] {
  if (turns.length === 0) throw new RowError('no turns');
  for (let i = 0; i < turns.length; i++) {
    const t = turns[i];
    if (t.role === 'tool' && turns[i - 1]?.role !== 'call') {
      throw new RowError(`turn ${i + 1}: a tool result with no tool call before it${i ? ` (turn ${i} is ${WHO[turns[i - 1].role]})` : ''}`);
    }
    if (SIDE[t.role] !== i % 2) {
      throw new RowError(i === 0 ? `turn 1 is ${WHO[t.role]}; a conversation starts with the user` : sameSide(turns[i - 1], t, i));
    }
    if ((t.role === 'user' || t.role === 'assistant') && isBlank(t.content)) throw new RowError(`turn ${i + 1}: empty ${t.role} message`);
  }
  const last = turns[turns.length - 1];
  if (SIDE[last.role] !== SIDE[endOn]) throw new RowError(`the last turn is ${WHO[last.role]}; it must be from the ${endOn}`);
  return turns;
}

export function checkAnswer(v: Text, name: string): Text {
  if (isBlank(v)) throw new RowError(`empty ${name} answer`);
  return v;
}

/** Every piece of text a record holds, in reading order (for stats, dedupe, rewrite); tools as their JSON. */
export function recordTexts(r: DataRecord): string[] {
  if (r.kind === 'text') return [textOf(r.text)];
  const out = r.system ? [textOf(r.system)] : [];
  if (r.tools?.length) out.push(pyJson(r.tools));
  for (const t of r.kind === 'chat' ? r.turns : r.prompt) out.push(...turnTexts(t));
  if (r.kind === 'pair') out.push(textOf(r.chosen), textOf(r.rejected));
  return out;
}

/** The texts of one turn: a call as LLaMA-Factory's function_call JSON. */
export function turnTexts(t: ChatTurn): string[] {
  if (t.role === 'call') return [...(t.content ? [textOf(t.content)] : []), callJson(t.calls)];
  if (t.role === 'tool') return t.results.map((x) => textOf(x.content));
  return [textOf(t.content)];
}

/**
 * The turns with each result turn in the order of the calls it answers, for formats that match results to calls
 * by position (ShareGPT's observation, text). OpenAI's tool messages may answer parallel calls in any order (the
 * tool_call_id says which): written as they came, the first call would be paired with the second call's result.
 * Results that do not answer each call exactly once stay as they are.
 */
export function resultsInCallOrder(turns: ChatTurn[]): ChatTurn[] {
  let k = 0;
  let ids: string[] = [];
  return turns.map((t, i) => {
    if (t.role === 'call') {
      ids = t.calls.map((c, j) => (c.id !== undefined ? textOf(c.id) : defaultCallId(k + j)));
      k += t.calls.length;
      return t;
    }
    if (t.role !== 'tool' || turns[i - 1]?.role !== 'call' || !t.results.some((r) => r.callId !== undefined) || t.results.length !== ids.length) return t;
    const byId = new Map(t.results.map((r, j) => [r.callId !== undefined ? textOf(r.callId) : ids[j], r]));
    if (byId.size !== ids.length || !ids.every((id) => byId.has(id))) return t;
    return { role: 'tool', results: ids.map((id) => ({ content: byId.get(id)!.content })) };
  });
}

/** {id} when the row has one, {} otherwise: records carry no `id: undefined`. */
export function idField(o: Record<string, unknown>, key: string): { id?: string | number } {
  const id = optId(o, key);
  return id === undefined ? {} : { id };
}
