import { checkTurns, isObject, idField, optStr, RowError, str, type Turn, Unrepresentable } from '../record.js';
import { flattenPair, plainTurns } from './lossy.js';
import { isText, type Text, textOf } from '../text.js';
import type { Format } from './format.js';

/**
 * Alpaca: {"instruction", "input", "output", "system"?, "history"?: [[question, answer], …]}. The user's
 * message is the instruction, then a newline and the input when there is one (as LLaMA-Factory joins them).
 */
export const alpaca: Format = {
  name: 'alpaca',
  about: '{"instruction", "input", "output", "system"?, "history"?: [[q, a], …]}',
  fields: ['id', 'system', 'instruction', 'input', 'output', 'history'],
  looksLike: (o) => isText(o.instruction) && 'output' in o,
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    const instruction = str(o, 'instruction');
    const input = optStr(o, 'input') ?? '';
    const output = str(o, 'output');
    const turns: Turn[] = [];
    const history = o.history;
    if (history !== undefined && history !== null) {
      if (!Array.isArray(history)) throw new RowError(`'history' must be a list of [question, answer] pairs`);
      history.forEach((h, i) => {
        if (!Array.isArray(h) || h.length !== 2 || !isText(h[0]) || !isText(h[1])) {
          throw new RowError(`history[${i}] must be a [question, answer] pair of strings`);
        }
        turns.push({ role: 'user', content: h[0] }, { role: 'assistant', content: h[1] });
      });
    }
    turns.push({ role: 'user', content: input ? (textOf(instruction) ? `${textOf(instruction)}\n${textOf(input)}` : input) : instruction });
    turns.push({ role: 'assistant', content: output });
    const system = optStr(o, 'system');
    return { kind: 'chat', ...idField(o, 'id'), ...(system ? { system } : {}), turns: checkTurns(turns) };
  },
  write(r, lost) {
    if (r.kind === 'text') throw new Unrepresentable('plain text has no turns');
    const chat = r.kind === 'pair' ? flattenPair(r, lost) : r;
    const turns = plainTurns(chat, 'alpaca', lost);
    const n = turns.length;
    const out: Record<string, unknown> = {};
    if (chat.id !== undefined) out.id = chat.id;
    if (chat.system) out.system = chat.system;
    out.instruction = turns[n - 2].content;
    out.input = '';
    out.output = turns[n - 1].content;
    if (n > 2) {
      const history: [Text, Text][] = [];
      for (let i = 0; i + 3 < n; i += 2) history.push([turns[i].content, turns[i + 1].content]);
      out.history = history;
    }
    return out;
  },
};
