import { V1_SYSTEM } from './templates.js';

/** System prompt presets. "中文智者" is the one the llama3-Chinese-chat README recommends for instruct models. */
export const SYSTEM_PRESETS: Record<string, { aliases: string[]; text: string; about: string }> = {
  zhizhe: {
    aliases: ['中文智者', 'sage'],
    text: '你是一个调皮活泼的中文智者，名字叫shareAI-Llama3，喜欢用有趣的语言和适当的表情回答问题。',
    about: 'the playful Chinese sage; makes instruct models answer in lively Chinese',
  },
  v1: {
    aliases: ['default-v1'],
    text: V1_SYSTEM,
    about: "the system prompt shareAI's base+SFT v1 model was trained with",
  },
  assistant: {
    aliases: ['助手'],
    text: '你是一个乐于助人的助手，请用中文回答。',
    about: 'a plain helpful assistant that answers in Chinese',
  },
};

export function findPreset(name: string): string | undefined {
  for (const [key, p] of Object.entries(SYSTEM_PRESETS)) if (key === name || p.aliases.includes(name)) return p.text;
  return undefined;
}
