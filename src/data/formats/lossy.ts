import { type ChatRecord, type PairRecord, resultsInCallOrder, turnTexts, type Turn } from '../record.js';
import { textOf } from '../text.js';
import { callJson, RESULTS_SEP } from '../toolJson.js';
import type { NoteLoss } from './format.js';

/** A chat format keeps a preference pair's prompt and chosen answer; the rejected answer is lost. */
export function flattenPair(r: PairRecord, lost: NoteLoss): ChatRecord {
  lost('rejected answer dropped (a chat format holds one answer)');
  return { kind: 'chat', id: r.id, system: r.system, ...(r.tools ? { tools: r.tools } : {}), turns: [...r.prompt, { role: 'assistant', content: r.chosen }] };
}

/**
 * The turns of a format without tool roles (alpaca, firefly): a tool call becomes the assistant's text (its
 * function_call JSON, after any text beside it), the tool results the user's text, so the conversation still
 * alternates and nothing said is lost; which turns were tools is.
 */
export function plainTurns(chat: ChatRecord, format: string, lost: NoteLoss): Turn[] {
  if (chat.tools?.length) lost(`tool definitions dropped (${format} rows have no tools)`);
  if (chat.turns.some((t) => t.role === 'call' || t.role === 'tool')) lost(`tool calls and results written as assistant and user text (${format} rows have no tool roles)`);
  return resultsInCallOrder(chat.turns).map((t): Turn => {
    if (t.role === 'call') return { role: 'assistant', content: t.content ? `${textOf(t.content)}\n${callJson(t.calls)}` : callJson(t.calls) };
    if (t.role === 'tool') return { role: 'user', content: t.results.length === 1 ? t.results[0].content : t.results.map((x) => textOf(x.content)).join(RESULTS_SEP) };
    return t;
  });
}

/** Chat → plain text: the contents joined by blank lines; who said what is lost. */
export function joinedText(r: ChatRecord | PairRecord, lost: NoteLoss): string {
  lost('roles dropped (plain text)');
  const chat = r.kind === 'pair' ? flattenPair(r, lost) : r;
  if (chat.tools?.length) lost('tool definitions dropped (plain text)');
  return [...(chat.system ? [textOf(chat.system)] : []), ...resultsInCallOrder(chat.turns).flatMap(turnTexts)].join('\n\n');
}
