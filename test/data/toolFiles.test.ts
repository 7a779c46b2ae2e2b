import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkFile } from '../../src/data/check.js';
import { convertFile } from '../../src/data/convert.js';
import { exportLlamaFactory } from '../../src/data/export.js';
import { openai, sharegpt } from '../../src/data/formats/index.js';
import { statsFile } from '../../src/data/stats.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'data-tools-'));
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/data/', import.meta.url));
const ZH = join(FIXTURES, 'glaive_toolcall_zh_demo.slice.json');
const EN = join(FIXTURES, 'glaive_toolcall_en_demo.slice.json');
/** The fixture's rows as compact JSON, by Node's JSON (not by the code under test). */
const compact = (path: string) => (JSON.parse(readFileSync(path, 'utf8')) as unknown[]).map((r) => JSON.stringify(r));
const fileLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l) => l);

test('LLaMA-Factory\'s glaive_toolcall demo rows check clean', async () => {
  for (const [path, rows] of [[ZH, 4], [EN, 3]] as const) {
    const r = await checkFile(path, {});
    assert.deepEqual([r.format, r.rows, r.valid, r.problems.count], ['sharegpt', rows, rows, 0], path);
  }
});

test('convert: glaive rows → OpenAI → ShareGPT come back byte for byte, also as undecoded bytes (JSON Lines)', async () => {
  for (const path of [ZH, EN]) {
    const name = path.includes('_zh_') ? 'zh' : 'en';
    // .json arrays are parsed; .jsonl files are converted as bytes (RawText): both ways are checked.
    const sg = join(dir, `${name}.jsonl`), oa = join(dir, `${name}.openai.jsonl`), back = join(dir, `${name}.back.jsonl`);
    const oa2 = join(dir, `${name}.openai2.jsonl`), back2 = join(dir, `${name}.back2.jsonl`);
    const reports = [
      await convertFile(path, sg, { to: sharegpt }), await convertFile(sg, oa, { to: openai }), await convertFile(oa, back, { to: sharegpt }),
      await convertFile(path, oa2, { to: openai }), await convertFile(oa2, back2, { to: sharegpt }),
    ];
    for (const r of reports) assert.deepEqual([r.rejected.count, r.dropped.total, r.lost.total, r.written], [0, 0, 0, compact(path).length], path);
    assert.deepEqual(fileLines(sg), compact(path));
    assert.equal(readFileSync(back, 'utf8'), readFileSync(sg, 'utf8'));
    assert.equal(readFileSync(back2, 'utf8'), readFileSync(sg, 'utf8'));
    assert.equal(readFileSync(oa2, 'utf8'), readFileSync(oa, 'utf8'));
  }
  // The second zh row makes two calls in two rounds: ids count on through the row.
  const row = JSON.parse(fileLines(join(dir, 'zh.openai.jsonl'))[1]) as { messages: { tool_calls?: { id: string }[]; tool_call_id?: string }[] };
  assert.deepEqual(row.messages.flatMap((m) => m.tool_calls?.map((t) => t.id) ?? (m.tool_call_id ? [m.tool_call_id] : [])), ['call_1', 'call_1', 'call_2', 'call_2']);
});

test('stats count tool rows, calls, parallel calls, results and functions', async () => {
  const zh = await statsFile(ZH, { tokens: false, cutoff: 2048 });
  // Rows 90 (get_random_fact, called once), 280 (get_stock_price, called twice), 27 (get_stock_price, not called), 176 ("[]").
  assert.deepEqual(zh.tools, { rows: 3, calls: 3, parallel: 0, observations: 3, names: 2, called: 2 });
  assert.equal(zh.turns, 4 + 10 + 2 + 4);
  const en = await statsFile(EN, { tokens: false, cutoff: 2048 });
  assert.deepEqual(en.tools, { rows: 3, calls: 4, parallel: 0, observations: 4, names: 3, called: 3 });
  const par = join(dir, 'parallel.jsonl');
  writeFileSync(par, String.raw`{"conversations":[{"from":"human","value":"北京和上海？"},{"from":"function_call","value":"[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\"}}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"上海\"}}]"},{"from":"observation","value":"晴\n</tool_response>\n<tool_response>\n雨"},{"from":"gpt","value":"北京晴，上海雨。"}],"tools":"[{\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}, {\"name\": \"get_time\", \"parameters\": {\"type\": \"object\"}}]"}` + '\n');
  const p = await statsFile(par, { tokens: false, cutoff: 2048 });
  assert.deepEqual(p.tools, { rows: 1, calls: 2, parallel: 1, observations: 1, names: 2, called: 1 });
});

/** LLaMA-Factory's data/dataset_info.json entry for its demo (at the commit the fixtures are from) and the defaults its DatasetAttr fills in. */
const LF_GLAIVE_ZH = { file_name: 'glaive_toolcall_zh_demo.json', formatting: 'sharegpt', columns: { messages: 'conversations', tools: 'tools' } };
const LF_DEFAULTS = {
  formatting: 'alpaca', ranking: false,
  columns: { prompt: 'instruction', query: 'input', response: 'output', history: null, messages: 'conversations', system: null, tools: null },
  tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', observation_tag: 'observation', function_tag: 'function_call', system_tag: 'system' },
};
/** What LLaMA-Factory's DatasetAttr.join makes of an entry (file_name left aside). */
function asLlamaFactoryReadsIt(e: Record<string, any>) {
  return { formatting: e.formatting ?? LF_DEFAULTS.formatting, ranking: e.ranking ?? LF_DEFAULTS.ranking, columns: { ...LF_DEFAULTS.columns, ...e.columns }, tags: { ...LF_DEFAULTS.tags, ...e.tags } };
}

test('export: glaive rows as LLaMA-Factory\'s glaive_toolcall entry reads them; OpenAI rows become the same ShareGPT rows', async () => {
  const oa = join(dir, 'zh.openai.jsonl');
  await convertFile(ZH, oa, { to: openai });
  const lf = join(dir, 'lf');
  const r = await exportLlamaFactory([ZH, EN, oa], lf, { names: ['glaive_zh', 'glaive_en', 'zh_from_openai'] });
  assert.deepEqual(r.map((d) => [d.name, d.from, d.kind, d.written, d.tools]), [['glaive_zh', 'sharegpt', 'chat', 4, true], ['glaive_en', 'sharegpt', 'chat', 3, true], ['zh_from_openai', 'openai', 'chat', 4, true]]);
  const tags = { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', observation_tag: 'observation', function_tag: 'function_call', system_tag: 'system' };
  const info = JSON.parse(readFileSync(join(lf, 'dataset_info.json'), 'utf8'));
  assert.deepEqual(info, {
    glaive_zh: { file_name: 'glaive_zh.jsonl', formatting: 'sharegpt', columns: { messages: 'conversations', tools: 'tools' }, tags },
    glaive_en: { file_name: 'glaive_en.jsonl', formatting: 'sharegpt', columns: { messages: 'conversations', tools: 'tools' }, tags },
    zh_from_openai: { file_name: 'zh_from_openai.jsonl', formatting: 'sharegpt', columns: { messages: 'conversations', tools: 'tools' }, tags },
  });
  assert.deepEqual(Object.keys(info.glaive_zh.tags), Object.keys(LF_DEFAULTS.tags), 'the tags in LLaMA-Factory\'s order');
  for (const e of Object.values(info) as Record<string, unknown>[]) assert.deepEqual(asLlamaFactoryReadsIt(e), asLlamaFactoryReadsIt(LF_GLAIVE_ZH));
  assert.deepEqual(fileLines(join(lf, 'glaive_zh.jsonl')), compact(ZH));
  assert.deepEqual(fileLines(join(lf, 'glaive_en.jsonl')), compact(EN));
  assert.deepEqual(fileLines(join(lf, 'zh_from_openai.jsonl')), compact(ZH));
  // A system prompt names the system column too, as LLaMA-Factory's data/README.md shows for tool data.
  const sys = join(dir, 'sys.jsonl');
  writeFileSync(sys, JSON.stringify({ ...JSON.parse(compact(EN)[0]), system: 'You are helpful.' }) + '\n');
  await exportLlamaFactory([sys], lf);
  assert.deepEqual(JSON.parse(readFileSync(join(lf, 'dataset_info.json'), 'utf8')).sys.columns, { messages: 'conversations', system: 'system', tools: 'tools' });
});

test('the CLI: check, stats and export of tool data (real output)', async () => {
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, [
    compact(EN)[0],
    String.raw`{"conversations":[{"from":"human","value":"q"},{"from":"function_call","value":"{\"name\": \"calculate_agee\", \"arguments\": {}}"},{"from":"observation","value":"r"},{"from":"gpt","value":"a"}],"tools":"[{\"name\": \"calculate_age\", \"parameters\": {\"type\": \"object\"}}]"}`,
    String.raw`{"conversations":[{"from":"human","value":"q"},{"from":"gpt","value":"a"},{"from":"observation","value":"r"},{"from":"gpt","value":"b"}]}`,
  ].join('\n') + '\n');
  const c = await runCli(['data', 'check', bad, '--dry-run']);
  assert.equal(c.code, 1);
  assert.equal(c.stdout, [
    `${bad} (sharegpt): 3 rows, 1 valid, 2 rejected (schema: 2)`,
    `  ${bad}:2: conversations[1]: function_call calls "calculate_agee", which is not in tools (calculate_age)`,
    `  ${bad}:3: turn 3: a tool result with no tool call before it (turn 2 is from the assistant)`,
    '',
  ].join('\n'));
  const s = await runCli(['data', 'stats', ZH, '--no-tokens']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout.split('\n')[2], '  tools        3 rows with tools (2 functions, 2 called); 3 calls; 3 tool result turns');
  const e = await runCli(['data', 'export', EN, '--llamafactory', join(dir, 'lf-cli')]);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.stdout.split('\n')[0], `${EN} (sharegpt) → ${join(dir, 'lf-cli', 'glaive_toolcall_en_demo.slice.jsonl')}: 3 rows (sharegpt, with tools); dataset "glaive_toolcall_en_demo.slice"`);
  // OpenAI rows with ids of their own and text beside a call: export says what ShareGPT leaves out.
  const weather = join(dir, 'weather.jsonl');
  writeFileSync(weather, String.raw`{"messages":[{"role":"user","content":"北京呢？"},{"role":"assistant","content":"我查一下。","tool_calls":[{"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"北京\"}"}}]},{"role":"tool","tool_call_id":"call_a1","content":"晴"},{"role":"assistant","content":"北京晴。"}]}` + '\n');
  const w = await runCli(['data', 'export', weather, '--llamafactory', join(dir, 'lf-cli')]);
  assert.equal(w.code, 0, w.stderr);
  assert.deepEqual(w.stdout.split('\n').slice(0, 3), [
    `${weather} (openai) → ${join(dir, 'lf-cli', 'weather.jsonl')}: 1 row (sharegpt, with tools); dataset "weather"`,
    '  kept with a loss: 1 row: assistant text beside tool calls dropped (a function_call turn holds only the calls)',
    '  kept with a loss: 1 row: tool call ids dropped (ShareGPT matches results to calls by position)',
  ]);
  // Calls without a tools list: the tool tags, no tools column (LLaMA-Factory would KeyError on it).
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'lf-cli', 'dataset_info.json'), 'utf8')).weather, {
    file_name: 'weather.jsonl', formatting: 'sharegpt', columns: { messages: 'conversations' },
    tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', observation_tag: 'observation', function_tag: 'function_call', system_tag: 'system' },
  });
});
