import { checkAnswer, type ChatTurn, checkTurns, isObject, idField, optStr, RowError, typeName, Unrepresentable } from '../record.js';
import { openaiTools, readOpenAIMessages, writeOpenAIMessages } from './openai.js';
import { readTools, toolNames } from '../tools.js';
import { isText, type Text, textOf } from '../text.js';
import type { Format } from './format.js';

const PROMPT_KEYS = ['prompt', 'question'] as const;
// answer_zh / answer_en: shareAI's DPO-zh-en-emoji, the original DPO recipe's data — {question, answer_zh,
// answer_en}, the Chinese answer preferred (as ms-swift's ShareAIDPOPreprocessor reads it).
const CHOSEN_KEYS = ['chosen', 'response_chosen', 'answer_zh'] as const;
const REJECTED_KEYS = ['rejected', 'response_rejected', 'answer_en'] as const;

function pick(o: Record<string, unknown>, keys: readonly string[]): [string, unknown] {
  for (const k of keys) if (o[k] !== undefined) return [k, o[k]];
  return [keys[0], undefined];
}

/** An answer: a string, or a message list whose last message is the assistant's (TRL's conversational form). */
function answer(o: Record<string, unknown>, keys: readonly string[]): Text {
  const [key, v] = pick(o, keys);
  if (isText(v)) return checkAnswer(v, key);
  if (Array.isArray(v)) {
    const last = v[v.length - 1];
    if (isObject(last) && isText(last.role) && textOf(last.role) === 'assistant' && isText(last.content)) return checkAnswer(last.content, key);
    throw new RowError(`'${key}' as a list must end with an assistant message`);
  }
  throw new RowError(`'${key}' ${v === undefined ? 'is missing' : `must be a string or a message list, not ${typeName(v)}`}`);
}

/**
 * Preference pairs: {"prompt", "chosen", "rejected", "system"?, "tools"?}, where the prompt is a string or a message
 * list and the answers are strings or message lists. Also read: "question" / "response_chosen" /
 * "response_rejected", shareAI's "question" / "answer_zh" (chosen) / "answer_en" (rejected), and an alpaca-style
 * "history" of [q, a] pairs.
 */
export const preference: Format = {
  name: 'preference',
  about: '{"prompt", "chosen", "rejected", "system"?} (strings or message lists)',
  fields: ['id', 'system', 'prompt', 'chosen', 'rejected', 'tools'],
  alsoReads: ['question', 'response_chosen', 'response_rejected', 'answer_zh', 'answer_en', 'history'],
  looksLike: (o) => pick(o, CHOSEN_KEYS)[1] !== undefined && pick(o, REJECTED_KEYS)[1] !== undefined && pick(o, PROMPT_KEYS)[1] !== undefined,
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    const [pkey, p] = pick(o, PROMPT_KEYS);
    let system = optStr(o, 'system');
    const tools = readTools(o.tools);
    const prompt: ChatTurn[] = [];
    if (Array.isArray(o.history)) {
      o.history.forEach((h, i) => {
        if (!Array.isArray(h) || h.length !== 2 || !isText(h[0]) || !isText(h[1])) {
          throw new RowError(`history[${i}] must be a [question, answer] pair of strings`);
        }
        prompt.push({ role: 'user', content: h[0] }, { role: 'assistant', content: h[1] });
      });
    }
    if (isText(p)) {
      prompt.push({ role: 'user', content: p });
    } else if (Array.isArray(p)) {
      const m = readOpenAIMessages(p, pkey, toolNames(tools));
      system ??= m.system;
      prompt.push(...m.turns);
    } else {
      throw new RowError(`'${pkey}' ${p === undefined ? 'is missing' : `must be a string or a message list, not ${typeName(p)}`}`);
    }
    return {
      kind: 'pair', ...idField(o, 'id'), ...(system ? { system } : {}), ...(tools ? { tools } : {}), prompt: checkTurns(prompt, 'user'),
      chosen: answer(o, CHOSEN_KEYS), rejected: answer(o, REJECTED_KEYS),
    };
  },
  write(r) {
    if (r.kind !== 'pair') throw new Unrepresentable(r.kind === 'chat' ? 'a conversation has no rejected answer' : 'plain text has no answers');
    const out: Record<string, unknown> = {};
    if (r.id !== undefined) out.id = r.id;
    if (r.system) out.system = r.system;
    const first = r.prompt[0];
    out.prompt = r.prompt.length === 1 && first.role === 'user' ? first.content : writeOpenAIMessages(r.prompt);
    out.chosen = r.chosen;
    out.rejected = r.rejected;
    if (r.tools) out.tools = openaiTools(r.tools); // as TRL's conversational rows carry them
    return out;
  },
};
