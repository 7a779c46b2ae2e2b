/**
 * Prompts exactly as the reference implementations write them (see the README for the byte-level formats):
 * C-Eval's official evaluator, CMMLU's src/mp_utils.py, MMLU's evaluate.py (with one space before the subject,
 * as lm-evaluation-harness and OpenCompass write it; the original script writes two), and TriviaQA in the
 * lm-evaluation-harness way. The chat style puts each example in a user turn and its answer in an assistant
 * turn of the model's own template, the first user turn opening with the benchmark's header (as
 * LLaMA-Factory's evaluator does).
 */
import type { ChatTemplate } from '../chat/templates.js';
import type { Message } from '../chat/messages.js';
import { LETTERS, type McqItem, type McqTaskData, type QaItem, type Subject } from './types.js';

export const STYLES = ['official', 'chat'] as const;
export type Style = (typeof STYLES)[number];
export type McqTask = McqTaskData['task'];

export function mcqHeader(task: McqTask, subject: Subject): string {
  if (task === 'ceval') return `以下是中国关于${subject.name}考试的单项选择题，请选出其中的正确答案。\n\n`;
  if (task === 'cmmlu') return `以下是关于${subject.name}的单项选择题，请直接给出正确答案的选项。\n\n`;
  return `The following are multiple choice questions (with answers) about ${subject.name}.\n\n`;
}

/** One question up to where its answer goes: "…\n答案：", "…\n答案是：" or "…\nAnswer:". */
export function mcqQuestion(task: McqTask, item: McqItem): string {
  const choices = item.choices.map((c, i) => `\n${LETTERS[i]}. ${c}`).join('');
  if (task === 'ceval') return `${item.question}${choices}\n答案：`;
  if (task === 'cmmlu') return `题目：${item.question}${choices}\n答案是：`;
  return `${item.question}${choices}\nAnswer:`;
}

/**
 * What goes between the answer cue and the letter. MMLU's shots read "Answer: B", so the letter is the
 * Llama-3 token " B" (as MMLU's evaluate.py and lm-evaluation-harness score it); C-Eval and CMMLU write
 * "答案：B" and score the bare letter token "B". In the chat style the answer is the whole assistant turn: "B".
 */
export function letterPrefix(task: McqTask, style: Style): string {
  return task === 'mmlu' && style === 'official' ? ' ' : '';
}

export interface RenderedPrompt {
  /** The prompt text (for a chat-style prompt, the template's rendering of `messages`). */
  text: string;
  /**
   * The conversation of a chat-style prompt: its tokens come from the template (chat/tokens.ts), so a question
   * that quotes <|eot_id|> stays text. Absent for plain prompts, which are text throughout.
   */
  messages?: Message[];
  /** The part every question of the subject shares (header and shots): evaluated once, then reused. */
  sharedPrefix: string;
}

export function mcqPrompt(task: McqTask, style: Style, subject: Subject, shots: McqItem[], item: McqItem, template?: ChatTemplate): RenderedPrompt {
  const sep = letterPrefix(task, style);
  if (style === 'official') {
    const prefix = mcqHeader(task, subject) + shots.map((s) => `${mcqQuestion(task, s)}${sep}${s.answer}\n\n`).join('');
    return { text: prefix + mcqQuestion(task, item), sharedPrefix: prefix };
  }
  return chatPrompt(template!, mcqHeader(task, subject), shots.map((s) => [mcqQuestion(task, s), s.answer]), mcqQuestion(task, item));
}

function chatPrompt(template: ChatTemplate, header: string, shots: Array<[string, string]>, question: string): RenderedPrompt {
  const messages: Message[] = [];
  for (const [q, a] of shots) messages.push({ role: 'user', content: q }, { role: 'assistant', content: a });
  messages.push({ role: 'user', content: question });
  messages[0] = { role: 'user', content: header + messages[0].content };
  const text = template.render(messages, true);
  // Everything before the last user turn is shared (with no shots the header rides in that turn).
  const last = template.render(messages.slice(0, -1), false);
  return { text, messages, sharedPrefix: shots.length && text.startsWith(last) ? last : '' };
}

export function qaQuestion(item: QaItem): string {
  return `Question: ${item.question}\nAnswer:`;
}

export function qaPrompt(style: Style, shots: QaItem[], item: QaItem, template?: ChatTemplate): RenderedPrompt {
  if (style === 'official') {
    const prefix = shots.map((s) => `${qaQuestion(s)} ${s.aliases[0]}\n\n`).join('');
    return { text: prefix + qaQuestion(item), sharedPrefix: prefix };
  }
  return chatPrompt(template!, '', shots.map((s) => [qaQuestion(s), s.aliases[0]]), qaQuestion(item));
}
