import { checkTurns, isObject, idField, type Role, RowError, str, type Turn, Unrepresentable } from '../record.js';
import { flattenPair } from './lossy.js';
import { isEmptyText, isText, type Text, textOf } from '../text.js';
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

export function readOpenAIMessages(list: unknown, key: string): { system?: Text; turns: Turn[] } {
  if (!Array.isArray(list)) throw new RowError(`'${key}' ${list === undefined ? 'is missing' : 'must be an array'}`);
  let system: Text | undefined;
  const turns: Turn[] = [];
  list.forEach((m, i) => {
    const where = `${key}[${i}]: `;
    if (!isObject(m)) throw new RowError(`${key}[${i}] must be an object with "role" and "content"`);
    const role = textOf(str(m, 'role', where));
    const text = content(m, where);
    if (role === 'system') {
      if (i !== 0) throw new RowError(`${where}a system message must come first`);
      system = isEmptyText(text) ? undefined : text;
    } else if (role === 'user' || role === 'assistant') {
      turns.push({ role: role as Role, content: text });
    } else {
      throw new RowError(`${where}unsupported role ${JSON.stringify(role)} (system, user and assistant are)`);
    }
  });
  return { system, turns };
}

/** OpenAI chat messages: {"messages": [{"role": "system"|"user"|"assistant", "content"}]}. */
export const openai: Format = {
  name: 'openai',
  about: '{"messages": [{"role": "system"|"user"|"assistant", "content"}]}',
  fields: ['id', 'messages'],
  looksLike: (o) => Array.isArray(o.messages),
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    const m = readOpenAIMessages(o.messages, 'messages');
    return { kind: 'chat', ...idField(o, 'id'), ...(m.system ? { system: m.system } : {}), turns: checkTurns(m.turns) };
  },
  write(r, lost) {
    if (r.kind === 'text') throw new Unrepresentable('plain text has no turns');
    const chat = r.kind === 'pair' ? flattenPair(r, lost) : r;
    const out: Record<string, unknown> = {};
    if (chat.id !== undefined) out.id = chat.id;
    out.messages = [...(chat.system ? [{ role: 'system', content: chat.system }] : []), ...chat.turns.map((t) => ({ role: t.role, content: t.content }))];
    return out;
  },
};
