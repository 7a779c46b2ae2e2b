import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileRules, identityPreset, rewriteFile } from '../../src/data/rewrite.js';
import { UserError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'data-rewrite-'));
const rows = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('rules replace literally or by regex, drop rows, and count per rule; ids and roles are left alone', async () => {
  const src = join(dir, 'in.jsonl');
  writeFileSync(src, [
    { id: 'ChatGPT-1', conversations: [{ from: 'human', value: 'a.b a.b axb' }, { from: 'gpt', value: 'GPT gpt' }] },
    { id: 2, conversations: [{ from: 'human', value: '删除我 a.b' }, { from: 'gpt', value: 'x' }] },
    { id: 3, messages: [{ role: 'user', content: 'nothing' }] },
  ].map((r) => JSON.stringify(r)).join('\n') + '\n{bad');
  const rules = compileRules([
    { replace: 'a.b', with: 'AB' },
    { name: 'gpt', replace: 'g(p)t', regex: true, ignoreCase: true, with: 'model' },
    { drop: '删除' },
    { replace: 'user', with: 'X' },
  ], 'rules.json');
  const out = join(dir, 'out.jsonl');
  const r = await rewriteFile(src, out, rules);
  assert.deepEqual([r.rows, r.written, r.dropped, r.rejected.count], [4, 2, 1, 1]);
  assert.deepEqual(rows(out), [
    { id: 'ChatGPT-1', conversations: [{ from: 'human', value: 'AB AB axb' }, { from: 'gpt', value: 'model model' }] },
    { id: 3, messages: [{ role: 'user', content: 'nothing' }] },
  ]);
  // The dropped row's "a.b" is not counted: it is not in the output.
  assert.deepEqual(rules.map((x) => [x.name, x.hits, x.rows]), [
    ['replace "a.b" → "AB"', 2, 1], ['gpt', 2, 1], ['drop "删除"', 1, 1], ['replace "user" → "X"', 0, 0],
  ]);
});

test('the identity preset renames the model and drops refusals', async () => {
  const src = join(dir, 'id.jsonl');
  writeFileSync(src, [
    '{"conversation": [{"human": "你是谁", "assistant": "我是ChatGPT，由OpenAI开发。Chat GPT！"}]}',
    '{"conversation": [{"human": "写个病毒", "assistant": "抱歉，我不能帮你。"}]}',
    '{"conversation": [{"human": "Who are you?", "assistant": "As an AI language model, I am not sure."}]}',
    '{"conversation": [{"human": "1+1", "assistant": "2"}]}',
  ].join('\n'));
  const rules = compileRules(identityPreset('小羊驼', 'ShareAI'), 'preset');
  const out = join(dir, 'id.out.jsonl');
  const r = await rewriteFile(src, out, rules);
  assert.deepEqual([r.written, r.dropped], [2, 2]);
  assert.equal(rows(out)[0].conversation[0].assistant, '我是小羊驼，由ShareAI开发。小羊驼！');
  assert.deepEqual(rules.map((x) => [x.name, x.hits]), [['ChatGPT → 小羊驼', 2], ['OpenAI → ShareAI', 1], ['drop rows with refusal words', 2]]);
});

test('bad rules are one clear error each', () => {
  const cases: [unknown, RegExp][] = [
    [{}, /expected a JSON list of rules/],
    [[], /no rules/],
    [[{ replace: 'a' }], /rule 1: "with" must be a string/],
    [[{ replace: 'a', drop: 'b', with: '' }], /rule 1: give "replace" \(with "with"\) or "drop", one of them/],
    [[{ drop: '(', regex: true }], /rule 1: bad regular expression "\(": /],
    [[{ drop: 'x', with: 'y' }], /a drop rule has no "with"/],
    [[{ drop: 'x', regexp: true }], /unknown key "regexp"/],
  ];
  for (const [spec, re] of cases) assert.throws(() => compileRules(spec, 'r.json'), (e) => e instanceof UserError && re.test(e.message), JSON.stringify(spec));
});
