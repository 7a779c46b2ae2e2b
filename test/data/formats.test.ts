import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alpaca, detectFormat, firefly, FORMATS, openai, preference, sharegpt, text } from '../../src/data/formats/index.js';
import type { Format } from '../../src/data/formats/index.js';
import { type DataRecord, RowError, type Turn, Unrepresentable } from '../../src/data/record.js';
import { ALL, CHAT, PAIR, SINGLE, TEXT } from './records.js';

/** Which formats hold which kinds of record without loss. */
const HOLDS: Record<string, DataRecord['kind'][]> = {
  firefly: ['chat'], sharegpt: ['chat', 'pair'], openai: ['chat'], alpaca: ['chat'], preference: ['pair'], text: ['text'],
};
const viaJson = (o: unknown) => JSON.parse(JSON.stringify(o));

test('every format writes and reads back every record it can hold, exactly', () => {
  for (const f of FORMATS) {
    for (const r of ALL) {
      if (!HOLDS[f.name].includes(r.kind)) continue;
      const lost: string[] = [];
      const row = viaJson(f.write(r, (w) => lost.push(w)));
      assert.deepEqual(lost, [], `${f.name} lost something of a ${r.kind}`);
      assert.deepEqual(f.read(row), r, `${f.name} round trip of ${r.kind}`);
    }
  }
});

test('every pair of formats round-trips: A → B → A gives the same row', () => {
  let pairs = 0;
  for (const a of FORMATS) {
    for (const b of FORMATS) {
      for (const r of ALL) {
        if (!HOLDS[a.name].includes(r.kind) || !HOLDS[b.name].includes(r.kind)) continue;
        const rowA = viaJson(a.write(r, () => assert.fail('lossy')));
        const rowB = viaJson(b.write(a.read(rowA), () => assert.fail('lossy')));
        assert.deepEqual(viaJson(a.write(b.read(rowB), () => {})), rowA, `${a.name} → ${b.name} → ${a.name}`);
        pairs++;
      }
    }
  }
  assert.equal(pairs, 4 * 4 * 2 + 2 * 2 + 1); // chat: 4 formats × 2 records; pair: 2 formats; text: 1
});

test('the rows each format writes look as its users expect', () => {
  assert.deepEqual(firefly.write(SINGLE, () => {}), { conversation: [{ human: '床前明月光的下一句是？', assistant: '疑是地上霜。' }] });
  assert.deepEqual(sharegpt.write(PAIR, () => {}), {
    id: 'p1', system: '用中文回答。',
    conversations: [{ from: 'human', value: '讲个笑话' }, { from: 'gpt', value: '为什么程序员分不清万圣节和圣诞节？' }, { from: 'human', value: '为什么？😄' }],
    chosen: { from: 'gpt', value: '因为 Oct 31 == Dec 25 🎃🎄' }, rejected: { from: 'gpt', value: '不知道。' },
  });
  assert.deepEqual(openai.write(SINGLE, () => {}), { messages: [{ role: 'user', content: '床前明月光的下一句是？' }, { role: 'assistant', content: '疑是地上霜。' }] });
  assert.deepEqual(alpaca.write(CHAT, () => {}), {
    id: 7, system: CHAT.system, instruction: CHAT.turns[2].content, input: '', output: CHAT.turns[3].content,
    history: [[CHAT.turns[0].content, CHAT.turns[1].content]],
  });
  assert.deepEqual(preference.write({ ...PAIR, prompt: PAIR.prompt.slice(2), id: undefined, system: undefined }, () => {}), { prompt: '为什么？😄', chosen: PAIR.chosen, rejected: PAIR.rejected });
  assert.deepEqual(text.write(TEXT, () => {}), { text: TEXT.text });
});

test('alpaca joins instruction and input with a newline, as LLaMA-Factory does', () => {
  assert.deepEqual(alpaca.read({ instruction: '翻译成英文', input: '你好', output: 'Hello' }), {
    kind: 'chat', turns: [{ role: 'user', content: '翻译成英文\n你好' }, { role: 'assistant', content: 'Hello' }],
  });
});

test('lossy writes say what they lose; impossible ones refuse', () => {
  const lost: string[] = [];
  assert.deepEqual(firefly.write(PAIR, (w) => lost.push(w)).conversation, [
    { human: '讲个笑话', assistant: '为什么程序员分不清万圣节和圣诞节？' }, { human: '为什么？😄', assistant: '因为 Oct 31 == Dec 25 🎃🎄' },
  ]);
  assert.deepEqual(lost, ['rejected answer dropped (a chat format holds one answer)']);
  const textLost: string[] = [];
  assert.equal(text.write(SINGLE, (w) => textLost.push(w)).text, '床前明月光的下一句是？\n\n疑是地上霜。');
  assert.deepEqual(textLost, ['roles dropped (plain text)']);
  assert.throws(() => preference.write(CHAT, () => {}), (e) => e instanceof Unrepresentable && e.message === 'a conversation has no rejected answer');
  for (const f of [firefly, sharegpt, openai, alpaca]) assert.throws(() => f.write(TEXT, () => {}), Unrepresentable);
});

test('readers reject bad rows with a reason that names the problem', () => {
  const cases: [Format, unknown, string][] = [
    [firefly, { conversation: [{ human: 'q', assistant: '' }] }, 'turn 2: empty assistant message'],
    [firefly, { conversation: [{ human: 'q' }] }, "conversation[0]: 'assistant' is missing"],
    [firefly, { conversation: 'x' }, "'conversation' must be an array"],
    [firefly, { conversation: [] }, 'no turns'],
    [sharegpt, { conversations: [{ from: 'gpt', value: 'a' }] }, 'turn 1 is from the assistant; a conversation starts with the user'],
    [sharegpt, { conversations: [{ from: 'human', value: 'a' }, { from: 'human', value: 'b' }, { from: 'gpt', value: 'c' }] }, 'turns 1 and 2 are both from the user'],
    [sharegpt, { conversations: [{ from: 'human', value: 'a' }] }, 'the last turn is from the user; it must be from the assistant'],
    [sharegpt, { conversations: [{ from: 'bot', value: 'a' }] }, 'conversations[0]: unknown role "from": "bot" (known: human, gpt, system, function_call, observation)'],
    [sharegpt, { conversations: [{ from: 'human', value: 'a' }, { from: 'system', value: 's' }] }, 'conversations[1]: a system message must come first'],
    [openai, { messages: [{ role: 'function', content: 'x' }] }, 'messages[0]: unsupported role "function" (system, user, assistant and tool are)'],
    [openai, { messages: [{ role: 'user', content: 3 }] }, "messages[0]: 'content' must be a string or a list of text parts"],
    [alpaca, { instruction: 'i', output: 5 }, "'output' must be a string, not a number"],
    [preference, { prompt: 'q', chosen: 'a', rejected: ' ' }, 'empty rejected answer'],
    [preference, { prompt: 'q', chosen: 'a' }, "'rejected' is missing"],
    [text, { text: '' }, 'empty text'],
    [text, [1], 'a row must be a JSON object'],
  ];
  for (const [f, row, reason] of cases) {
    assert.throws(() => f.read(row), (e) => e instanceof RowError && e.message === reason, `${f.name} ${JSON.stringify(row)}`);
  }
});

test('preference reads the layouts DPO sets ship in', () => {
  const trl = preference.read({
    prompt: [{ role: 'system', content: 's' }, { role: 'user', content: 'q' }],
    chosen: [{ role: 'assistant', content: 'good' }], rejected: [{ role: 'assistant', content: 'bad' }],
  });
  assert.deepEqual(trl, { kind: 'pair', system: 's', prompt: [{ role: 'user', content: 'q' }], chosen: 'good', rejected: 'bad' });
  const dpoEnZh = preference.read({ system: '', history: [['h1', 'a1']], question: 'q', response_chosen: 'good', response_rejected: 'bad' });
  assert.deepEqual(dpoEnZh.kind === 'pair' && dpoEnZh.prompt.map((t) => (t as Turn).content), ['h1', 'a1', 'q']);
  // shareAI/DPO-zh-en-emoji, the original DPO recipe's data: the Chinese answer is the chosen one
  const shareai = { question: '你好，你是谁？', answer_zh: '你好！我是一个中文助手😊', answer_en: "Hello! I'm an assistant." };
  assert.deepEqual(preference.read(shareai), { kind: 'pair', prompt: [{ role: 'user', content: '你好，你是谁？' }], chosen: '你好！我是一个中文助手😊', rejected: "Hello! I'm an assistant." });
  assert.equal(detectFormat([shareai, shareai])?.name, 'preference');
  const ranking = sharegpt.read({ conversations: [{ from: 'human', value: 'q' }], chosen: { from: 'gpt', value: 'good' }, rejected: { from: 'gpt', value: 'bad' } });
  assert.equal(ranking.kind, 'pair');
});

test('detection goes by the keys of most of the first rows', () => {
  assert.equal(detectFormat([{ conversation: [] }, { conversation: [] }, { x: 1 }])?.name, 'firefly');
  assert.equal(detectFormat([{ conversations: [], chosen: {}, rejected: {} }])?.name, 'sharegpt');
  assert.equal(detectFormat([{ prompt: 'q', chosen: 'a', rejected: 'b' }])?.name, 'preference');
  assert.equal(detectFormat([{ instruction: 'i', input: '', output: 'o' }])?.name, 'alpaca');
  assert.equal(detectFormat([{ messages: [] }])?.name, 'openai');
  assert.equal(detectFormat([{ text: 'doc' }])?.name, 'text');
  assert.equal(detectFormat([{ a: 1 }, 'x', null]), undefined);
});
