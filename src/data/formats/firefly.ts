import { checkTurns, isObject, idField, optStr, RowError, str, type Turn, Unrepresentable } from '../record.js';
import { flattenPair, plainTurns } from './lossy.js';
import { isRoleList } from './openai.js';
import type { Text } from '../text.js';
import type { Format } from './format.js';

/** Firefly: {"conversation_id", "category", "system"?, "conversation": [{"human", "assistant"}, …]}. */
export const firefly: Format = {
  name: 'firefly',
  about: '{"conversation": [{"human", "assistant"}, …], "system"?} (YeungNLP/firefly-train-1.1M)',
  fields: ['conversation_id', 'system', 'conversation'],
  // Agent-FLAN's "conversation" holds {role, content} messages: an openai row, not this.
  looksLike: (o) => Array.isArray(o.conversation) && !isRoleList(o.conversation),
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    const conv = o.conversation;
    if (!Array.isArray(conv)) throw new RowError(`'conversation' ${conv === undefined ? 'is missing' : 'must be an array'}`);
    const turns: Turn[] = [];
    conv.forEach((pair, i) => {
      if (!isObject(pair)) throw new RowError(`conversation[${i}] must be an object with "human" and "assistant"`);
      turns.push({ role: 'user', content: str(pair, 'human', `conversation[${i}]: `) });
      turns.push({ role: 'assistant', content: str(pair, 'assistant', `conversation[${i}]: `) });
    });
    const system = optStr(o, 'system');
    return { kind: 'chat', ...idField(o, 'conversation_id'), ...(system ? { system } : {}), turns: checkTurns(turns) };
  },
  write(r, lost) {
    if (r.kind === 'text') throw new Unrepresentable('plain text has no turns');
    const chat = r.kind === 'pair' ? flattenPair(r, lost) : r;
    const turns = plainTurns(chat, 'firefly', lost);
    const conversation: { human: Text; assistant: Text }[] = [];
    for (let i = 0; i + 1 < turns.length; i += 2) conversation.push({ human: turns[i].content, assistant: turns[i + 1].content });
    const out: Record<string, unknown> = {};
    if (chat.id !== undefined) out.conversation_id = chat.id;
    if (chat.system) out.system = chat.system;
    out.conversation = conversation;
    return out;
  },
};
