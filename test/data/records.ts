import type { ChatRecord, DataRecord, PairRecord, TextRecord, Turn } from '../../src/data/record.js';

/** Fixture records hold plain strings (records read by `convert` may hold raw bytes instead). */
interface PlainTurn extends Turn { content: string }
interface PlainChat extends ChatRecord { system?: string; turns: PlainTurn[] }
interface PlainPair extends PairRecord { system?: string; prompt: PlainTurn[]; chosen: string; rejected: string }
interface PlainText extends TextRecord { text: string }

/** Records with what breaks naive converters: several turns, a system prompt, Chinese, emoji, escapes. */
export const CHAT: PlainChat = {
  kind: 'chat', id: 7, system: '你是一个乐于助人的助手。Answer briefly.',
  turns: [
    { role: 'user', content: '你好，请介绍一下你自己 👋' },
    { role: 'assistant', content: '我是一个AI助手 🤖，可以回答问题。\n第二行有"引号"、反斜杠 \\ 和制表符\t。' },
    { role: 'user', content: 'Emoji with a skin tone 👍🏽 and a ZWJ family 👨‍👩‍👧, and \u2028 a line separator' },
    { role: 'assistant', content: '好的！{"json": [1, 2]} </s> <|eot_id|>' },
  ],
};
export const SINGLE: PlainChat = { kind: 'chat', turns: [{ role: 'user', content: '床前明月光的下一句是？' }, { role: 'assistant', content: '疑是地上霜。' }] };
export const PAIR: PlainPair = {
  kind: 'pair', id: 'p1', system: '用中文回答。',
  prompt: [{ role: 'user', content: '讲个笑话' }, { role: 'assistant', content: '为什么程序员分不清万圣节和圣诞节？' }, { role: 'user', content: '为什么？😄' }],
  chosen: '因为 Oct 31 == Dec 25 🎃🎄', rejected: '不知道。',
};
export const TEXT: PlainText = { kind: 'text', text: '白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。 🌄 "quoted" \\ back' };

export const ALL: DataRecord[] = [CHAT, SINGLE, PAIR, TEXT];
