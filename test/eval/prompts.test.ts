import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { letterPrefix, mcqPrompt, qaPrompt } from '../../src/eval/prompts.js';
import { loadTask } from '../../src/eval/tasks.js';
import type { McqItem, McqTaskData, QaTaskData } from '../../src/eval/types.js';
import { ROOT } from '../helpers/models.js';

const DATA = join(ROOT, 'test', 'fixtures', 'eval');
const item = (question: string, choices: string[], answer: 'A' | 'B' | 'C' | 'D'): McqItem =>
  ({ id: '0', question, choices: choices as McqItem['choices'], answer, file: 'f', line: 1 });
const q1 = item('1+1=?', ['1', '2', '3', '4'], 'B');
const q2 = item('2+2=?', ['4', '5', '6', '7'], 'A');

test('C-Eval official: header, shots ending 答案：X and a blank line, the question ending 答案：', () => {
  const p = mcqPrompt('ceval', 'official', { key: 'logic', name: '逻辑学', category: 'Humanities' }, [q1], q2);
  assert.equal(p.text, '以下是中国关于逻辑学考试的单项选择题，请选出其中的正确答案。\n\n1+1=?\nA. 1\nB. 2\nC. 3\nD. 4\n答案：B\n\n2+2=?\nA. 4\nB. 5\nC. 6\nD. 7\n答案：');
  assert.equal(p.sharedPrefix, '以下是中国关于逻辑学考试的单项选择题，请选出其中的正确答案。\n\n1+1=?\nA. 1\nB. 2\nC. 3\nD. 4\n答案：B\n\n');
  assert.equal(p.messages, undefined);
  assert.equal(letterPrefix('ceval', 'official'), '');
});

test('CMMLU official: 以下是关于…的单项选择题, 题目： and 答案是：', () => {
  const p = mcqPrompt('cmmlu', 'official', { key: 'agronomy', name: '农学', category: 'Other' }, [q1], q2);
  assert.equal(p.text, '以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n题目：1+1=?\nA. 1\nB. 2\nC. 3\nD. 4\n答案是：B\n\n题目：2+2=?\nA. 4\nB. 5\nC. 6\nD. 7\n答案是：');
});

test('MMLU official: the English header, "Answer: X" shots, the letter scored as " X"', () => {
  const p = mcqPrompt('mmlu', 'official', { key: 'abstract_algebra', name: 'abstract algebra', category: 'STEM' }, [q1], q2);
  assert.equal(p.text, 'The following are multiple choice questions (with answers) about abstract algebra.\n\n1+1=?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n2+2=?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer:');
  assert.equal(letterPrefix('mmlu', 'official'), ' ');
  assert.equal(letterPrefix('mmlu', 'chat'), '');
});

test('5-shot C-Eval from the fixture files: the whole prompt byte for byte', () => {
  const d = loadTask('ceval', { data: DATA, subjects: ['computer_network'] }) as McqTaskData;
  const s = d.subjects[0];
  const p = mcqPrompt('ceval', 'official', s.subject, s.shots, s.items[2]);
  assert.equal(p.text, [
    '以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。', '',
    'TCP/IP 模型中，IP 协议位于哪一层？', 'A. 网络层', 'B. 传输层', 'C. 应用层', 'D. 物理层', '答案：A', '',
    'HTTP 默认使用的端口号是____。', 'A. 21', 'B. 25', 'C. 80', 'D. 110', '答案：C', '',
    '以下哪个不是私有 IP 地址？', 'A. 10.0.0.1', 'B. 172.16.0.1', 'C. 192.168.1.1', 'D. 8.8.8.8', '答案：D', '',
    'DNS 的主要作用是____。', 'A. 分配 IP 地址', 'B. 把域名解析为 IP 地址', 'C. 加密数据', 'D. 路由选择', '答案：B', '',
    '以太网使用的介质访问控制方法是____。', 'A. CSMA/CD', 'B. 令牌环', 'C. TDMA', 'D. FDMA', '答案：A', '',
    '下列协议中，', '属于传输层的是____。', 'A. IP', 'B. TCP', 'C. ARP', 'D. ICMP', '答案：',
  ].join('\n'));
});

test('chat style: shots as user/assistant turns of the model template, the header in the first user turn', () => {
  const p = mcqPrompt('ceval', 'chat', { key: 'logic', name: '逻辑学', category: 'Humanities' }, [q1], q2, NATIVE_TEMPLATES.llama3);
  const H = (r: string) => `<|start_header_id|>${r}<|end_header_id|>\n\n`;
  const shared = `<|begin_of_text|>${H('user')}以下是中国关于逻辑学考试的单项选择题，请选出其中的正确答案。\n\n1+1=?\nA. 1\nB. 2\nC. 3\nD. 4\n答案：<|eot_id|>${H('assistant')}B<|eot_id|>`;
  assert.equal(p.text, `${shared}${H('user')}2+2=?\nA. 4\nB. 5\nC. 6\nD. 7\n答案：<|eot_id|>${H('assistant')}`);
  assert.equal(p.sharedPrefix, shared);
  assert.deepEqual(p.messages, [
    { role: 'user', content: '以下是中国关于逻辑学考试的单项选择题，请选出其中的正确答案。\n\n1+1=?\nA. 1\nB. 2\nC. 3\nD. 4\n答案：' },
    { role: 'assistant', content: 'B' },
    { role: 'user', content: '2+2=?\nA. 4\nB. 5\nC. 6\nD. 7\n答案：' },
  ]);
  const zero = mcqPrompt('ceval', 'chat', { key: 'logic', name: '逻辑学', category: 'Humanities' }, [], q2, NATIVE_TEMPLATES.llama3);
  assert.equal(zero.text, `<|begin_of_text|>${H('user')}以下是中国关于逻辑学考试的单项选择题，请选出其中的正确答案。\n\n2+2=?\nA. 4\nB. 5\nC. 6\nD. 7\n答案：<|eot_id|>${H('assistant')}`);
});

test('TriviaQA: "Question: …\\nAnswer: value" shots, the question ending "Answer:"', () => {
  const d = loadTask('triviaqa', { data: DATA, shots: 2 }) as QaTaskData;
  const p = qaPrompt('official', d.shots, d.items[0]);
  assert.equal(p.text, 'Question: Shot question 0?\nAnswer: Shot answer 0\n\nQuestion: Shot question 1?\nAnswer: Shot answer 1\n\nQuestion: Shot question 2?\nAnswer:');
});
