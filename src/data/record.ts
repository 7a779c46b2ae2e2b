/**
 * The one internal shape every dataset format reads into and writes from. A format is a pair of pure
 * functions between its JSON rows and these records, so any format converts to any other.
 */
import { isBlank, isEmptyText, isText, RawText, type Text, textOf } from './text.js';

export type Role = 'user' | 'assistant';
/** Texts are strings, or a file's raw JSON string bytes when `convert` passes them through undecoded. */
export interface Turn { role: Role; content: Text }

/** A conversation for supervised fine-tuning: turns alternate user → assistant and end on the assistant. */
export interface ChatRecord { kind: 'chat'; id?: string | number; system?: Text; turns: Turn[] }
/** A preference pair for DPO/ORPO: the conversation so far (ending on the user) and two answers. */
export interface PairRecord { kind: 'pair'; id?: string | number; system?: Text; prompt: Turn[]; chosen: Text; rejected: Text }
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

/** Roles must alternate user, assistant, user, …; `endOn` is the role the conversation must end with. */
export function checkTurns(turns: Turn[], endOn: Role = 'assistant'): Turn[] {
  if (turns.length === 0) throw new RowError('no turns');
  for (let i = 0; i < turns.length; i++) {
    const t = turns[i];
    const want: Role = i % 2 === 0 ? 'user' : 'assistant';
    if (t.role !== want) {
      throw new RowError(i === 0 ? `turn 1 is from the ${t.role}; a conversation starts with the user` : `turns ${i} and ${i + 1} are both from the ${t.role}`);
    }
    if (isBlank(t.content)) throw new RowError(`turn ${i + 1}: empty ${t.role} message`);
  }
  if (turns[turns.length - 1].role !== endOn) throw new RowError(`the last turn is from the ${turns[turns.length - 1].role}; it must be from the ${endOn}`);
  return turns;
}

export function checkAnswer(v: Text, name: string): Text {
  if (isBlank(v)) throw new RowError(`empty ${name} answer`);
  return v;
}

/** Every piece of text a record holds, in reading order (for stats, dedupe, rewrite). */
export function recordTexts(r: DataRecord): string[] {
  if (r.kind === 'text') return [textOf(r.text)];
  const out = r.system ? [textOf(r.system)] : [];
  if (r.kind === 'chat') for (const t of r.turns) out.push(textOf(t.content));
  else { for (const t of r.prompt) out.push(textOf(t.content)); out.push(textOf(r.chosen), textOf(r.rejected)); }
  return out;
}

/** {id} when the row has one, {} otherwise: records carry no `id: undefined`. */
export function idField(o: Record<string, unknown>, key: string): { id?: string | number } {
  const id = optId(o, key);
  return id === undefined ? {} : { id };
}
