import { checkAnswer, checkTurns, isObject, idField, optStr, type Role, RowError, str, type Turn, Unrepresentable } from '../record.js';
import { isEmptyText, isText, type Text, textOf } from '../text.js';
import type { Format } from './format.js';

const ROLES: Record<string, Role | 'system'> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', chatgpt: 'assistant', system: 'system' };

function readMessages(list: unknown, key: string): { system?: Text; turns: Turn[] } {
  if (!Array.isArray(list)) throw new RowError(`'${key}' ${list === undefined ? 'is missing' : 'must be an array'}`);
  let system: Text | undefined;
  const turns: Turn[] = [];
  list.forEach((m, i) => {
    if (!isObject(m)) throw new RowError(`${key}[${i}] must be an object with "from" and "value"`);
    const from = str(m, 'from', `${key}[${i}]: `);
    const role = ROLES[textOf(from)];
    if (!role) throw new RowError(`${key}[${i}]: unknown role "from": ${JSON.stringify(from)} (known: human, gpt, system)`);
    const value = str(m, 'value', `${key}[${i}]: `);
    if (role === 'system') {
      if (i !== 0) throw new RowError(`${key}[${i}]: a system message must come first`);
      system = isEmptyText(value) ? undefined : value;
    } else {
      turns.push({ role, content: value });
    }
  });
  return { system, turns };
}

function answer(o: Record<string, unknown>, key: string): Text {
  const v = o[key];
  if (isText(v)) return checkAnswer(v, key);
  if (isObject(v)) return checkAnswer(str(v, 'value', `${key}: `), key);
  throw new RowError(`'${key}' must be {"from": "gpt", "value": …}`);
}

/**
 * ShareGPT: {"conversations": [{"from": "human"|"gpt"|"system", "value"}], "system"?}; with "chosen" and
 * "rejected" beside it, the ranking form LLaMA-Factory reads for DPO.
 */
export const sharegpt: Format = {
  name: 'sharegpt',
  about: '{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}; with "chosen"/"rejected", the ranking form',
  fields: ['id', 'system', 'conversations', 'chosen', 'rejected'],
  looksLike: (o) => Array.isArray(o.conversations),
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    const m = readMessages(o.conversations, 'conversations');
    const system = optStr(o, 'system') ?? m.system;
    const id = idField(o, 'id');
    if (o.chosen !== undefined || o.rejected !== undefined) {
      return { kind: 'pair', ...id, ...(system ? { system } : {}), prompt: checkTurns(m.turns, 'user'), chosen: answer(o, 'chosen'), rejected: answer(o, 'rejected') };
    }
    return { kind: 'chat', ...id, ...(system ? { system } : {}), turns: checkTurns(m.turns) };
  },
  write(r) {
    if (r.kind === 'text') throw new Unrepresentable('plain text has no turns');
    const out: Record<string, unknown> = {};
    if (r.id !== undefined) out.id = r.id;
    if (r.system) out.system = r.system;
    const turns = r.kind === 'chat' ? r.turns : r.prompt;
    out.conversations = turns.map((t) => ({ from: t.role === 'user' ? 'human' : 'gpt', value: t.content }));
    if (r.kind === 'pair') {
      out.chosen = { from: 'gpt', value: r.chosen };
      out.rejected = { from: 'gpt', value: r.rejected };
    }
    return out;
  },
};
