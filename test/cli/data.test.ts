import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'data-cli-'));
const data = (...args: string[]) => runCli(['data', ...args]);
const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const FIREFLY = [
  '{"conversation_id": 1, "category": "Brainstorming", "conversation": [{"human": "你好", "assistant": "你好！😀"}]}',
  '{"conversation_id": 2, "system": "你是助手", "conversation": [{"human": "1+1=?", "assistant": "2"}, {"human": "为什么\\n\\"引号\\"", "assistant": "规则\\t如此"}]}',
  '{"conversation_id": 3, "conversation": [{"human": "x", "assistant": ""}]}',
  '{"conversation_id": 4, "conversation": [{"human": "x", "assistant": "y"},}',
  '',
  '{"conversation_id": 1, "conversation": [{"human": "重复", "assistant": "id"}]}',
].join('\n');

test('data convert: firefly → sharegpt → firefly keeps system prompts, turns and ids; broken rows are reported, not fatal', async () => {
  const src = join(dir, 'ff.jsonl');
  writeFileSync(src, FIREFLY);
  const sg = join(dir, 'sg.jsonl');
  const r = await data('convert', src, '--to', 'sharegpt', '-o', sg);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    `${src} (firefly) → ${sg} (sharegpt): 3 rows written of 5`,
    '  kept with a loss: 1 row: field "category" not carried over (firefly rows do not use it)',
    '  rejected: 2 rows (data check writes them all to a file):',
    `    ${src}:3: turn 2: empty assistant message`,
    `    ${src}:4:74: JSON: unexpected "}"`,
    '',
  ].join('\n'));
  assert.deepEqual(lines(sg)[1], {
    id: 2, system: '你是助手',
    conversations: [{ from: 'human', value: '1+1=?' }, { from: 'gpt', value: '2' }, { from: 'human', value: '为什么\n"引号"' }, { from: 'gpt', value: '规则\t如此' }],
  });
  const back = join(dir, 'back.json');
  const b = await data('convert', sg, '--to', 'firefly', '-o', back);
  assert.equal(b.code, 0, b.stderr);
  const orig = FIREFLY.split('\n').filter((_, i) => [0, 1, 5].includes(i)).map((l) => JSON.parse(l)).map(({ category: _c, ...rest }) => rest);
  assert.deepEqual(JSON.parse(readFileSync(back, 'utf8')), orig);

  const pref = await data('convert', sg, '--to', 'preference', '-o', join(dir, 'p.jsonl'));
  assertOneLineError(pref, /^llama3-zh data: no row of .*sg\.jsonl could be written as preference$/);
  assert.match(pref.stdout, /left out: 3 rows: a conversation has no rejected answer \(a preference row cannot hold it\)/);
  assert.equal(existsSync(join(dir, 'p.jsonl')), false);
});

test('data check writes valid and rejected rows to new files and leaves the input alone', async () => {
  const src = join(dir, 'check.jsonl');
  writeFileSync(src, FIREFLY);
  const r = await data('check', src);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, [
    `${src} (firefly): 5 rows, 2 valid, 3 rejected (schema: 1, JSON: 1, duplicate id: 1)`,
    `  ${src}:3: turn 2: empty assistant message`,
    `  ${src}:4:74: JSON: unexpected "}"`,
    `  ${src}:6: duplicate id 1 (first on line 1)`,
    `valid rows → ${join(dir, 'check.valid.jsonl')}`,
    `rejected rows → ${join(dir, 'check.rejected.jsonl')}`,
    '',
  ].join('\n'));
  assert.equal(readFileSync(src, 'utf8'), FIREFLY);
  assert.deepEqual(lines(join(dir, 'check.valid.jsonl')), FIREFLY.split('\n').slice(0, 2).map((l) => JSON.parse(l)));
  const rej = lines(join(dir, 'check.rejected.jsonl'));
  assert.deepEqual(rej.map((x) => [x.line, x.column, x.reason]), [[3, undefined, 'turn 2: empty assistant message'], [4, 74, 'JSON: unexpected "}"'], [6, undefined, 'duplicate id 1 (first on line 1)']]);
  assert.equal(rej[1].row, FIREFLY.split('\n')[3]);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);

  const clean = await data('check', join(dir, 'check.valid.jsonl'), '--dry-run');
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /: 2 rows, 2 valid, 0 rejected\n$/);
});

test('data: bad input is one line and a non-zero exit', async () => {
  const src = join(dir, 'ok.jsonl');
  writeFileSync(src, '{"text": "一"}\n');
  assertOneLineError(await data('convert', join(dir, 'missing.jsonl'), '--to', 'sharegpt'), /^llama3-zh data: no such data file: .*missing\.jsonl$/);
  assertOneLineError(await data('convert', src, '--to', 'sharegtp'), /^llama3-zh data: --to "sharegtp" is not a format; formats: firefly, sharegpt, alpaca, openai, preference, text$/);
  assertOneLineError(await data('convert', src, '--to', 'text', '-o', src), /is the input file; write to a new file \(the input is never changed\)$/);
  assertOneLineError(await data('convert', src, '--to', 'text', '-o', join(dir, 'x.parquet')), /writing \.parquet is not supported/);
  assertOneLineError(await data('convert', src, '--to', 'text', '-o', join(dir, 'nodir', 'x.jsonl')), /cannot write .*x\.jsonl: its folder does not exist$/);
  assertOneLineError(await data('frobnicate'), /^llama3-zh data: unknown subcommand 'frobnicate'/);
  writeFileSync(join(dir, 'odd.jsonl'), '{"foo": 1}\n');
  assertOneLineError(await data('convert', join(dir, 'odd.jsonl'), '--to', 'text'), /cannot tell the format of .*odd\.jsonl from its first rows \(keys: foo\); give --from/);
  writeFileSync(join(dir, 'cut.jsonl.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
  assertOneLineError(await data('check', join(dir, 'cut.jsonl.gz')), /gzip data is broken or cut short/);
});

test('data stats prints tokens, percentiles, the histogram, and draws an SVG', async () => {
  const src = join(dir, 'stats.jsonl');
  writeFileSync(src, FIREFLY);
  const svg = join(dir, 'h.svg');
  const r = await data('stats', src, '--cutoff', '20', '--plot', svg);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    `${src} (firefly): 3 rows (2 broken rows not counted; see data check)`,
    '  turns        8 (2.67 per row); 1 row with a system prompt',
    // 33 characters; 19 of the 31 non-blank ones (all but \n and \t) are Han
    '  characters   33; Chinese 61.3% of the non-blank ones',
    '  tokens       77 (Llama-3 tokenizer, official chat template)',
    '  per row      min 14  mean 25.7  p50 18  p90 45  p95 45  p99 45  max 45',
    '  over 20      1 row (33.33%)',
    '',
    'tokens per row:',
    '   0–31 ████████████████████████████████████████ 2  (partly over cutoff)',
    '  32–63 ████████████████████                     1  (over cutoff)',
    '',
    `histogram → ${svg}`,
    '',
  ].join('\n'));
  assert.match(readFileSync(svg, 'utf8'), /<svg [^>]*>[\s\S]*cutoff 20[\s\S]*<\/svg>\n$/);
  const j = JSON.parse((await data('stats', src, '--json', '--no-tokens')).stdout);
  assert.equal(j.unit, 'characters');
  assert.equal(j.total, 33);
  assertOneLineError(await data('stats', src, '--plot', join(dir, 'h.png')), /only SVG images are drawn; give a name ending in \.svg$/);
});

test('data sample, split and mix from the command line: exact counts, same seed same rows', async () => {
  const src = join(dir, 'many.jsonl');
  writeFileSync(src, Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: i, text: `行${i}` })).join('\n'));
  const s1 = await data('sample', src, '-n', '30', '--seed', '3', '-o', join(dir, 's1.jsonl'));
  assert.equal(s1.code, 0, s1.stderr);
  assert.equal(s1.stdout, `${src}: 30 rows of 300 → ${join(dir, 's1.jsonl')} (seed 3)\n`);
  await data('sample', src, '-n', '30', '--seed', '3', '-o', join(dir, 's2.jsonl'));
  assert.equal(readFileSync(join(dir, 's1.jsonl'), 'utf8'), readFileSync(join(dir, 's2.jsonl'), 'utf8'));
  const f = await data('sample', src, '--fraction', '0.1');
  assert.equal(f.stdout, `${src}: 30 rows of 300 → ${join(dir, 'many.sample.jsonl')} (seed 42)\n`);
  const sp = await data('split', src, '--val', '0.05');
  assert.equal(sp.stdout, `${src}: 300 rows → 285 train (${join(dir, 'many.train.jsonl')}), 15 validation (${join(dir, 'many.val.jsonl')}); seed 42\n`);
  const m = await data('mix', `${src}:3`, `${join(dir, 'many.val.jsonl')}:1`, '-n', '40', '-o', join(dir, 'mixed.jsonl'));
  assert.equal(m.code, 0, m.stderr);
  assert.equal(m.stdout, [
    `40 rows (text) → ${join(dir, 'mixed.jsonl')}; seed 42`,
    `  ${src} (text, weight 3): 30 rows drawn from 300`,
    `  ${join(dir, 'many.val.jsonl')} (text, weight 1): 10 rows drawn from 15`,
    '',
  ].join('\n'));
  assertOneLineError(await data('sample', src), /^llama3-zh data: give -n N or --fraction F \(one of them\)$/);
  assertOneLineError(await data('sample', src, '-n', '0'), /-n must be a whole number from 1/);
  assertOneLineError(await data('split', src, '--val', '2.5'), /--val must be a fraction between 0 and 1 or a whole number of rows \(got 2\.5\)/);
  assertOneLineError(await data('mix', src, '-n', '5'), /give -o OUT/);
  assertOneLineError(await data('sample', src, '-n', '3', '--seed', 'abc'), /--seed must be a whole number/);
});

test('data rewrite: a rules file or the identity preset, with counts per rule', async () => {
  const src = join(dir, 'rw.jsonl');
  writeFileSync(src, '{"conversation": [{"human": "你是谁", "assistant": "我是ChatGPT。"}]}\n{"conversation": [{"human": "q", "assistant": "对不起，我无法回答。"}]}\n');
  const r = await data('rewrite', src, '--preset', 'identity', '--name', '小羊驼', '-o', join(dir, 'rw.out.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    `${src}: 1 row written of 2 → ${join(dir, 'rw.out.jsonl')}; 1 row dropped`,
    '  ChatGPT → 小羊驼              1 replacement in 1 row',
    '  OpenAI → 小羊驼               0 replacements in 0 rows',
    '  drop rows with refusal words  1 row dropped',
    '',
  ].join('\n'));
  assert.equal(readFileSync(join(dir, 'rw.out.jsonl'), 'utf8'), '{"conversation":[{"human":"你是谁","assistant":"我是小羊驼。"}]}\n');
  const rules = join(dir, 'rules.json');
  writeFileSync(rules, JSON.stringify([{ replace: '我是', with: '俺是' }]));
  const f = await data('rewrite', src, '--rules', rules);
  assert.match(f.stdout, /^ {2}replace "我是" → "俺是" {2}1 replacement in 1 row$/m);
  writeFileSync(rules, '[{"replace": "x"');
  assertOneLineError(await data('rewrite', src, '--rules', rules), /rules\.json is not valid JSON/);
  assertOneLineError(await data('rewrite', src), /give --rules FILE or --preset identity/);
});

test('data dedupe removes exact and near duplicates of Chinese rows and says which', async () => {
  const src = join(dir, 'dd.jsonl');
  const a = '长城是中国古代的军事防御工程，始建于春秋战国时期，秦始皇统一六国后将各段连接起来，明朝时大规模重修，全长两万多公里。';
  writeFileSync(src, [
    { id: 1, conversation: [{ human: '请介绍一下长城的历史。', assistant: a }] },
    { id: 2, conversation: [{ human: '请介绍一下长城的历史！', assistant: a.replace('，', '， ') }] },
    { id: 3, conversation: [{ human: '请介绍一下长城的历史。', assistant: a.replace('将', '把').replace('明朝', '明代') }] },
    { id: 4, conversation: [{ human: '请介绍一下故宫的历史。', assistant: '故宫是明清两代的皇家宫殿，始建于明成祖永乐四年，位于北京中轴线的中心。' }] },
  ].map((r) => JSON.stringify(r)).join('\n'));
  const r = await data('dedupe', src, '-o', join(dir, 'dd.out.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    `${src}: 2 rows kept of 4 → ${join(dir, 'dd.out.jsonl')}`,
    '  exact duplicates  1',
    '  near duplicates   1 (MinHash, 3-character shingles, Jaccard ≥ 0.7; 16 bands × 4)',
    '    line 2 = line 1',
    '    line 3 ≈ line 1 (0.81)',
    '',
  ].join('\n'));
  assert.deepEqual(lines(join(dir, 'dd.out.jsonl')).map((x) => x.id), [1, 4]);
  assertOneLineError(await data('dedupe', src, '--threshold', '0.2'), /--threshold must be a number from 0\.5 to 1/);
});

test('data export --llamafactory writes ShareGPT files and a dataset_info.json LLaMA-Factory reads', async () => {
  const sft = join(dir, 'sft.jsonl');
  writeFileSync(sft, FIREFLY);
  const dpo = join(dir, 'dpo_zh.json');
  writeFileSync(dpo, JSON.stringify([{ system: '用中文回答', prompt: '讲个笑话', chosen: '好的😄……', rejected: 'No.' }]));
  const pt = join(dir, 'corpus.txt');
  writeFileSync(pt, '第一篇文档。\n\n第二篇文档。\n');
  const out = join(dir, 'lf');
  mkdirSync(out);
  writeFileSync(join(out, 'dataset_info.json'), JSON.stringify({ mine: { file_name: 'mine.json' } }));
  const r = await data('export', sft, dpo, pt, '--llamafactory', out);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    `${sft} (firefly) → ${join(out, 'sft.jsonl')}: 3 rows (sharegpt); dataset "sft"`,
    '  rejected 2 rows:',
    `    ${sft}:3: turn 2: empty assistant message`,
    `    ${sft}:4:74: JSON: unexpected "}"`,
    `${dpo} (preference) → ${join(out, 'dpo_zh.jsonl')}: 1 row (sharegpt, ranking); dataset "dpo_zh"`,
    `${pt} (text) → ${join(out, 'corpus.jsonl')}: 2 rows (text, for pre-training); dataset "corpus"`,
    `${join(out, 'dataset_info.json')}: sft, dpo_zh, corpus`,
    `train with: dataset_dir: ${out}, dataset: sft,dpo_zh,corpus`,
    '',
  ].join('\n'));
  const tags = { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system' };
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'dataset_info.json'), 'utf8')), {
    mine: { file_name: 'mine.json' },
    sft: { file_name: 'sft.jsonl', formatting: 'sharegpt', columns: { messages: 'conversations', system: 'system' }, tags },
    dpo_zh: { file_name: 'dpo_zh.jsonl', formatting: 'sharegpt', ranking: true, columns: { messages: 'conversations', chosen: 'chosen', rejected: 'rejected', system: 'system' }, tags },
    corpus: { file_name: 'corpus.jsonl', columns: { prompt: 'text' } },
  });
  assert.deepEqual(lines(join(out, 'dpo_zh.jsonl')), [{
    system: '用中文回答', conversations: [{ from: 'human', value: '讲个笑话' }], chosen: { from: 'gpt', value: '好的😄……' }, rejected: { from: 'gpt', value: 'No.' },
  }]);
  assert.deepEqual(lines(join(out, 'sft.jsonl'))[1].conversations.map((m: { from: string }) => m.from), ['human', 'gpt', 'human', 'gpt']);
  assert.deepEqual(lines(join(out, 'corpus.jsonl')), [{ text: '第一篇文档。' }, { text: '第二篇文档。' }]);
  writeFileSync(join(out, 'dataset_info.json'), '{broken');
  assertOneLineError(await data('export', sft, '--llamafactory', out), /dataset_info\.json is not valid JSON .*; fix or move it, it is not overwritten$/);
  assertOneLineError(await data('export', sft, dpo, '--llamafactory', out, '--name', 'a'), /--name gives 1 name for 2 inputs; give one per input/);
});

test('nothing the user gave is overwritten: export into the input folder, two outputs that are one file, a CSV that cannot hold a field', async () => {
  const lf = join(dir, 'ow-lf');
  mkdirSync(lf);
  const mine = join(lf, 'my.jsonl');
  const original = '{"instruction":"你好","input":"","output":"嗨"}\n';
  writeFileSync(mine, original);
  assertOneLineError(await data('export', mine, '--llamafactory', lf), /^llama3-zh data: --llamafactory .*my\.jsonl is the input file; write to a new file/);
  assert.equal(readFileSync(mine, 'utf8'), original);

  const two = join(dir, 'ow-two.jsonl');
  writeFileSync(two, '{"conversation":[{"human":"a","assistant":"b"}]}\n{"conversation":[{"human":"a","assistant":"b"}]}\n');
  assertOneLineError(await data('check', two, '--valid', join(dir, 'ow-o.jsonl'), '--rejected', join(dir, '.', 'ow-o.jsonl')), /--valid and --rejected name the same file/);
  assertOneLineError(await data('dedupe', two, '-o', join(dir, 'ow-d.jsonl'), '--removed', join(dir, 'ow-d.jsonl')), /-o and --removed name the same file/);
  assertOneLineError(await data('split', two, '--val', '1', '--train', join(dir, 'ow-t.jsonl'), '--valid', `${dir}/./ow-t.jsonl`), /--train and --valid name the same file/);
  assert.ok(!existsSync(join(dir, 'ow-o.jsonl')) && !existsSync(join(dir, 'ow-d.jsonl')) && !existsSync(join(dir, 'ow-t.jsonl')));

  // The system prompt first appears in row 2: a CSV made from row 1's fields would drop it, so the write stops.
  const sg = join(dir, 'ow-sg.jsonl');
  writeFileSync(sg, '{"conversations":[{"from":"human","value":"a"},{"from":"gpt","value":"b"}]}\n{"system":"你是助手","conversations":[{"from":"human","value":"c"},{"from":"gpt","value":"d"}]}\n');
  const r = await data('sample', sg, '-n', '2', '-o', join(dir, 'ow-ss.csv'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr.trim().split('\n').pop()!, /ow-ss\.csv: a row has the field "system" that the CSV's columns \(conversations\) do not; write JSON Lines/);
  assert.ok(!existsSync(join(dir, 'ow-ss.csv')));
});

test('a CSV round trip keeps texts that look like JSON as texts', async () => {
  const j = join(dir, 'j.jsonl');
  writeFileSync(j, '{"instruction":"把下面的信息写成JSON","input":"张三 18","output":"{\\"name\\": \\"张三\\", \\"age\\": 18}"}\n{"instruction":"[1,2,3]","input":"","output":"排序后是 [1,2,3]"}\n');
  const csv = join(dir, 'j.csv');
  const back = join(dir, 'j2.jsonl');
  assert.equal((await data('convert', j, '--to', 'alpaca', '-o', csv)).code, 0);
  const r = await data('convert', csv, '--to', 'alpaca', '-o', back);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(back).map((x) => [x.instruction, x.output]), [['把下面的信息写成JSON\n张三 18', '{"name": "张三", "age": 18}'], ['[1,2,3]', '排序后是 [1,2,3]']]);
});
