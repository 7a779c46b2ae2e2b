import type { ChatRecord, PairRecord } from '../record.js';
import { textOf } from '../text.js';
import type { NoteLoss } from './format.js';

/** A chat format keeps a preference pair's prompt and chosen answer; the rejected answer is lost. */
export function flattenPair(r: PairRecord, lost: NoteLoss): ChatRecord {
  lost('rejected answer dropped (a chat format holds one answer)');
  return { kind: 'chat', id: r.id, system: r.system, turns: [...r.prompt, { role: 'assistant', content: r.chosen }] };
}

/** Chat → plain text: the contents joined by blank lines; who said what is lost. */
export function joinedText(r: ChatRecord | PairRecord, lost: NoteLoss): string {
  lost('roles dropped (plain text)');
  const chat = r.kind === 'pair' ? flattenPair(r, lost) : r;
  return [...(chat.system ? [textOf(chat.system)] : []), ...chat.turns.map((t) => textOf(t.content))].join('\n\n');
}
