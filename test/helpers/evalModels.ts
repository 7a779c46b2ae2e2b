import { testModel } from './models.js';

/**
 * A scripted model whose next token is known wherever a benchmark prompt ends: after "：" (C-Eval's 答案：,
 * CMMLU's 答案是：) it says "B", after ":" (MMLU's Answer:) " A", after a chat template's assistant header "C".
 * The routes only add those chains; their trigger words (猫, 狗) are in no fixture.
 */
export const letterModel = () => testModel({ reply: 'C', routes: [{ when: '猫', reply: '答案：B' }, { when: '狗', reply: 'Answer: A' }] });

/** Answers every TriviaQA-style prompt ("…Answer:") with " Paris". */
export const parisModel = () => testModel({ reply: 'Answer: Paris' });
