// A hostile review of the tool-calling data path (issue 16, part 5): each test is a defect found by trying the
// commands as a user preparing tool data for LLaMA-Factory would, and by tracing LLaMA-Factory's
// SharegptDatasetConverter, FunctionFormatter and ToolFormatter (converter.py, formatter.py, tool_utils.py at
// ff6d4d12) over what we write.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { alpaca, type Format, openai, sharegpt } from '../../src/data/formats/index.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tools-review-'));

/** Row → record → row in another format, as JSON text, noting what was lost. */
function via(from: Format, to: Format, row: string, lost: string[] = []): string {
  return JSON.stringify(to.write(from.read(JSON.parse(row)), (w) => lost.push(w)));
}

// Two parallel calls whose tool messages come back in the other order, matched by tool_call_id (the OpenAI API
// allows any order). ShareGPT pairs results with calls by position: written in message order, call 1 (北京)
// would be answered with 上海's weather.
const SWAPPED = String.raw`{"messages":[{"role":"user","content":"北京和上海？"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"w","arguments":"{\"city\": \"北京\"}"}},{"id":"b","type":"function","function":{"name":"w","arguments":"{\"city\": \"上海\"}"}}]},{"role":"tool","tool_call_id":"b","content":"上海：雨"},{"role":"tool","tool_call_id":"a","content":"北京：晴"},{"role":"assistant","content":"北京晴，上海雨。"}]}`;

test('results answered out of order go to ShareGPT in the order of their calls', () => {
  const lost: string[] = [];
  const sg = JSON.parse(via(openai, sharegpt, SWAPPED, lost));
  assert.equal(sg.conversations[2].value, '北京：晴\n</tool_response>\n<tool_response>\n上海：雨');
  assert.deepEqual(lost, ['tool call ids dropped (ShareGPT matches results to calls by position)']);
  // Back as OpenAI: each result answers its own call.
  const back = JSON.parse(via(sharegpt, openai, JSON.stringify(sg)));
  assert.deepEqual(back.messages.slice(2, 4), [{ role: 'tool', tool_call_id: 'call_1', content: '北京：晴' }, { role: 'tool', tool_call_id: 'call_2', content: '上海：雨' }]);
  // Formats without tool roles write the results in the calls' order too.
  assert.equal(JSON.parse(via(openai, alpaca, SWAPPED)).instruction, '北京：晴\n</tool_response>\n<tool_response>\n上海：雨');
  // A second round counts its ids on: call_3 and call_4 answered as call_4, call_3.
  const two = String.raw`{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"r1"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{\"x\": 3}"}},{"function":{"name":"f","arguments":"{\"x\": 4}"}}]},{"role":"tool","tool_call_id":"call_3","content":"r3"},{"role":"tool","tool_call_id":"call_2","content":"r2"},{"role":"assistant","content":"a"}]}`;
  assert.equal(JSON.parse(via(openai, sharegpt, two)).conversations[4].value, 'r2\n</tool_response>\n<tool_response>\nr3');
});

const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('rewrite keeps tool JSON valid: rules change the texts inside calls and tool descriptions, never the JSON around them', async () => {
  // Half-width → full-width punctuation and curly → straight quotes are everyday Chinese cleaning rules. Run
  // over a function_call value as text, they broke its JSON, and LLaMA-Factory's FunctionFormatter stops the
  // whole run at json.loads ("Invalid JSON format in function message").
  const src = join(dir, 'rw.jsonl');
  writeFileSync(src, [
    String.raw`{"conversations":[{"from":"human","value":"搜一下“OpenAI”, 谢谢"},{"from":"function_call","value":"{\"name\": \"search\", \"arguments\": {\"query\": \"“OpenAI”, news\", \"name\": \"OpenAI\", \"n\": 2}}"},{"from":"observation","value":"{\"top\": \"OpenAI, Inc.\"}"},{"from":"gpt","value":"找到了, OpenAI"}],"tools":"[{\"name\": \"search\", \"description\": \"Search, by OpenAI\", \"parameters\": {\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\", \"description\": \"the “query”\"}}, \"required\": [\"query\"]}}]"}`,
    String.raw`{"messages":[{"role":"user","content":"q, OpenAI"},{"role":"assistant","tool_calls":[{"id":"call_OpenAI","type":"function","function":{"name":"search","arguments":"{\"query\": \"“OpenAI”, news\"}"}}]},{"role":"tool","tool_call_id":"call_OpenAI","content":"r"},{"role":"assistant","content":"a"}],"tools":[{"type":"function","function":{"name":"search","description":"Search, by OpenAI","parameters":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}}]}`,
  ].join('\n') + '\n');
  const { compileRules, rewriteFile } = await import('../../src/data/rewrite.js');
  const rules = compileRules([{ replace: ',', with: '，' }, { replace: '“', with: '"' }, { replace: '”', with: '"' }, { replace: 'OpenAI', with: 'ShareAI' }], 'rules.json');
  const out = join(dir, 'rw.out.jsonl');
  const r = await rewriteFile(src, out, rules);
  assert.equal(r.written, 2);
  const [sg, oa] = lines(out);
  assert.deepEqual(sg.conversations.map((m: { value: string }) => m.value), [
    '搜一下"ShareAI"， 谢谢',
    '{"name": "search", "arguments": {"query": "\\"ShareAI\\"， news", "name": "ShareAI", "n": 2}}',
    '{"top": "ShareAI， Inc."}', // a result is text to LLaMA-Factory, rewritten as text
    '找到了， ShareAI',
  ]);
  assert.equal(sg.tools, '[{"name": "search", "description": "Search， by ShareAI", "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "the \\"query\\""}}, "required": ["query"]}}]');
  assert.equal(oa.messages[1].tool_calls[0].function.arguments, '{"query": "\\"ShareAI\\"， news"}');
  assert.equal(oa.messages[1].tool_calls[0].id, 'call_OpenAI', 'an id is not text');
  assert.equal(oa.messages[2].tool_call_id, 'call_OpenAI');
  assert.deepEqual(oa.tools, [{ type: 'function', function: { name: 'search', description: 'Search， by ShareAI', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } } }]);
  // Both rows still read: the calls are JSON, and their names still match the tools.
  for (const [f, row] of [[sharegpt, sg], [openai, oa]] as const) f.read(row);
});

test('dedupe: rows whose tool calls differ only in a sign or a decimal point are not exact duplicates', async () => {
  // Exact duplicates are compared without punctuation, which takes "-" and "." out of the numbers in a call:
  // move(dx=-5), move(dx=5), move(dx=1.5) and move(dx=15) were one row. The call is what the model learns.
  const call = (args: string, name = 'move') => `{"conversations":[{"from":"human","value":"把机器人移动一下"},{"from":"function_call","value":${JSON.stringify(`{"name": "${name}", "arguments": ${args}}`)}},{"from":"observation","value":"{\\"ok\\": true}"},{"from":"gpt","value":"好的，已移动。"}],"tools":"[{\\"name\\": \\"move\\", \\"parameters\\": {\\"type\\": \\"object\\", \\"properties\\": {}}}]"}`;
  const oa = (args: string, id: string) => `{"messages":[{"role":"user","content":"移动"},{"role":"assistant","tool_calls":[{"id":"${id}","type":"function","function":{"name":"move","arguments":${JSON.stringify(args)}}}]},{"role":"tool","tool_call_id":"${id}","content":"ok"},{"role":"assistant","content":"好。"}]}`;
  const src = join(dir, 'dd.jsonl');
  writeFileSync(src, [
    call('{"dx": -5}'), call('{"dx": 5}'), call('{"dx": 1.5}'), call('{"dx": 15}'),
    call('{"dx":5}'), // the same call as line 2 in another layout: a duplicate
    call('{"dx": 5}'), // line 2 again
    oa('{"dx": -5}', 'call_a'), oa('{"dx": 5}', 'call_b'),
    oa('{"dx":-5}', 'call_c'), // line 7 with another id and layout: a duplicate
  ].join('\n') + '\n');
  const { dedupeFile } = await import('../../src/data/dedupe.js');
  const out = join(dir, 'dd.out.jsonl');
  const r = await dedupeFile(src, out, { near: false, threshold: 0.7, shingle: 3 });
  assert.deepEqual(r.examples.map((e) => [e.line, e.of]), [[5, 2], [6, 2], [9, 7]]);
  assert.equal(r.kept, 6);
});

// An OpenAI row that says something beside its call, with a tool list: ShareGPT keeps the call, not the text;
// alpaca keeps neither the tools nor the tool roles.
const BESIDE = String.raw`{"messages":[{"role":"user","content":"天气？"},{"role":"assistant","content":"我查一下。","tool_calls":[{"type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","content":"晴"},{"role":"assistant","content":"晴。"}],"tools":[{"type":"function","function":{"name":"w","parameters":{"type":"object","properties":{}}}}]}`;
const GLAIVE = String.raw`{"conversations":[{"from":"human","value":"我无聊了。"},{"from":"function_call","value":"{\"name\": \"get_random_fact\", \"arguments\": {}}"},{"from":"observation","value":"{\"fact\": \"章鱼有三个心脏\"}"},{"from":"gpt","value":"章鱼有三颗心脏。"}],"tools":"[{\"name\": \"get_random_fact\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}]"}`;

test('mix says what the target format leaves out of each source, as convert does', async () => {
  const a = join(dir, 'glaive.jsonl'), b = join(dir, 'beside.jsonl');
  writeFileSync(a, GLAIVE + '\n');
  writeFileSync(b, BESIDE + '\n');
  const m = await runCli(['data', 'mix', `${a}:1`, `${b}:1`, '-n', '2', '-o', join(dir, 'mix.jsonl')]);
  assert.equal(m.code, 0, m.stderr);
  assert.deepEqual(m.stdout.trim().split('\n').slice(1), [
    `  ${a} (sharegpt, weight 1): 1 rows drawn from 1`,
    `  ${b} (openai, weight 1): 1 rows drawn from 1`,
    '    kept with a loss: 1 row: assistant text beside tool calls dropped (a function_call turn holds only the calls)',
  ]);
  const al = await runCli(['data', 'mix', `${b}:1`, '-n', '1', '--to', 'alpaca', '-o', join(dir, 'mix.alpaca.jsonl')]);
  assert.deepEqual(al.stdout.trim().split('\n').slice(2), [
    '    kept with a loss: 1 row: tool definitions dropped (alpaca rows have no tools)',
    '    kept with a loss: 1 row: tool calls and results written as assistant and user text (alpaca rows have no tool roles)',
  ]);
});

/** A folder with an Instruct and a base model (config and tokenizer only: train init reads no weights), as test/train/init.test.ts makes them. */
function modelsDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tools-review-init-'));
  const config = { architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, vocab_size: 128256, max_position_embeddings: 8192, torch_dtype: 'bfloat16' };
  for (const [name, tok] of [['instruct', { bos_token: '<|begin_of_text|>', chat_template: "{{ '<|start_header_id|>' }}" }], ['base', { bos_token: '<|begin_of_text|>' }]] as const) {
    mkdirSync(join(d, name));
    writeFileSync(join(d, name, 'config.json'), JSON.stringify(config));
    writeFileSync(join(d, name, 'tokenizer_config.json'), JSON.stringify(tok));
    writeFileSync(join(d, name, 'model.safetensors'), '');
  }
  return d;
}
/** PATH without nvidia-smi: the memory check uses --gpu-mem only. */
const NO_GPU = { PATH: '/nonexistent' };

test('train init warns about what the export to ShareGPT leaves out (text beside a call), as data export does', async () => {
  const d = modelsDir();
  writeFileSync(join(d, 'tools.jsonl'), BESIDE + '\n' + BESIDE.replace('"content":"我查一下。",', '') + '\n');
  const r = await runCli(['train', 'init', '--recipe', 'sft-instruct-zh', '--model', './instruct', '--data', 'tools.jsonl', '--out', 'run', '--gpu-mem', '80'], { cwd: d, env: NO_GPU });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: tools\.jsonl: 1 of 2 rows kept with a loss: assistant text beside tool calls dropped \(a function_call turn holds only the calls\)$/m);
});

test('tool JSON nested deeper than rows may be is one line in check, not an internal error in stats or convert', async () => {
  // Rows are refused past MAX_DEPTH (1000) levels; JSON inside a string was not, and past a few thousand
  // levels every later walk (the tools written as objects, the call laid out for the token count) overflowed
  // the stack: "internal error: Maximum call stack size exceeded", the whole run gone.
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const src = join(dir, 'deep.jsonl');
  writeFileSync(src, [
    JSON.stringify({ conversations: [{ from: 'human', value: 'q' }, { from: 'function_call', value: `{"name": "f", "arguments": {"a": ${deep(5000)}}}` }, { from: 'observation', value: 'r' }, { from: 'gpt', value: 'a' }] }),
    JSON.stringify({ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }], tools: `[{"name": "f", "parameters": {"type": "object", "properties": {}, "x": ${deep(5000)}}}]` }),
    JSON.stringify({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: `{"a": ${deep(5000)}}` } }] }] }),
    GLAIVE,
  ].join('\n') + '\n');
  const c = await runCli(['data', 'check', src, '--dry-run', '--from', 'sharegpt']);
  assert.deepEqual(c.stdout.trim().split('\n'), [
    `${src} (sharegpt): 4 rows, 1 valid, 3 rejected (schema: 3)`,
    `  ${src}:1: conversations[1]: function_call is nested deeper than 1000 levels`,
    `  ${src}:2: 'tools' is nested deeper than 1000 levels`,
    `  ${src}:3: 'conversations' is missing`,
  ]);
  const o = await runCli(['data', 'check', src, '--dry-run', '--from', 'openai']);
  assert.match(o.stdout, /:3: messages\[1\]: tool_calls\[0\]: 'function\.arguments' is nested deeper than 1000 levels$/m);
  for (const args of [['stats', src], ['convert', src, '--to', 'openai', '-o', join(dir, 'deep.openai.jsonl')]]) {
    const r = await runCli(['data', ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  }
  // At the limit a tools list still converts to OpenAI rows that read back (the wrapper adds two levels).
  const edge = join(dir, 'edge.jsonl');
  writeFileSync(edge, JSON.stringify({ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }], tools: `[{"name": "f", "parameters": {"type": "object", "properties": {}, "x": ${deep(995)}}}]` }) + '\n');
  assert.equal((await runCli(['data', 'convert', edge, '--to', 'openai', '-o', join(dir, 'edge.openai.jsonl')])).code, 0);
  const back = await runCli(['data', 'check', join(dir, 'edge.openai.jsonl'), '--dry-run']);
  assert.equal(back.code, 0, back.stdout);
});

test('tools whose parameters are not a JSON Schema of arguments are rejected, naming the field', () => {
  // Each passed data check, and LLaMA-Factory's default tool prompt (template default, which train init uses
  // for base models) stops on it: tool["parameters"]["properties"].items(), param.get(…), "name in required".
  const row = (params: string) => ({ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }], tools: `[{"name": "f", "parameters": ${params}}]` });
  const cases: [string, string][] = [
    ['{"type": "object", "properties": []}', `tools[0] ("f"): 'parameters.properties' must be an object of argument schemas, not an array`],
    ['{"type": "object", "properties": "x"}', `tools[0] ("f"): 'parameters.properties' must be an object of argument schemas, not a string`],
    ['{"type": "object", "properties": {"x": "string"}}', `tools[0] ("f"): 'parameters.properties.x' must be a JSON Schema object, not a string`],
    ['{"type": "object", "properties": {"x": {"type": "string"}}, "required": "x"}', `tools[0] ("f"): 'parameters.required' must be a list of argument names, not a string`],
    ['{"type": "object", "properties": {"x": {"type": "string"}}, "required": [1]}', `tools[0] ("f"): 'parameters.required' must be a list of argument names, not a list holding a number`],
  ];
  for (const [params, reason] of cases) {
    assert.throws(() => sharegpt.read(row(params)), (e: Error) => e.message === reason, params);
  }
  // What LLaMA-Factory's demo rows and OpenAI's examples hold still reads.
  for (const ok of ['{"type": "object", "properties": {}}', '{"type": "object", "properties": {"x": {"type": "string", "enum": ["a", "b"]}}, "required": ["x"]}', '{"type": "object"}']) sharegpt.read(row(ok));
});

test('data check rejects ShareGPT tools given as a list, which LLaMA-Factory cannot read; convert still reads them', async () => {
  // LLaMA-Factory's ToolFormatter json.loads the tools column: a list there is a TypeError (it catches only
  // JSONDecodeError) that stops the run. check writes valid rows unchanged for LLaMA-Factory to read, so it
  // must not pass them; export and convert write the list as the JSON string LLaMA-Factory expects.
  const row = JSON.parse(GLAIVE);
  row.tools = JSON.parse(row.tools);
  const src = join(dir, 'toolslist.jsonl');
  writeFileSync(src, JSON.stringify(row) + '\n' + GLAIVE + '\n');
  const c = await runCli(['data', 'check', src, '--dry-run']);
  assert.equal(c.code, 1);
  assert.deepEqual(c.stdout.trim().split('\n'), [
    `${src} (sharegpt): 2 rows, 1 valid, 1 rejected (schema: 1)`,
    `  ${src}:1: 'tools' must be a JSON string holding the list of functions, as LLaMA-Factory reads it (it json.loads the column), not an array; data export and data convert --to sharegpt write it so`,
  ]);
  const out = join(dir, 'toolslist.sharegpt.jsonl');
  assert.equal((await runCli(['data', 'convert', src, '--to', 'sharegpt', '-o', out])).code, 0);
  assert.deepEqual(readFileSync(out, 'utf8').split('\n').filter(Boolean), [GLAIVE, GLAIVE]);
});

test('train init refuses tools that LLaMA-Factory\'s default tool prompt (a base model\'s template default) stops on', async () => {
  // DefaultToolUtils.tool_formatter reads tool["parameters"]["properties"]: {"type": "object"} alone, valid JSON
  // Schema and fine under template llama3, is a KeyError there, as enum values that are numbers are a TypeError.
  const d = modelsDir();
  const tools = (params: string) => GLAIVE.replace(String.raw`\"parameters\": {\"type\": \"object\", \"properties\": {}}`, params);
  writeFileSync(join(d, 'noprops.jsonl'), GLAIVE + '\n' + tools(String.raw`\"parameters\": {\"type\": \"object\"}`) + '\n');
  writeFileSync(join(d, 'enum.jsonl'), tools(String.raw`\"parameters\": {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\", \"enum\": [1, 2]}}}`) + '\n');
  const base = (data: string, out: string, ...more: string[]) => runCli(['train', 'init', '--recipe', 'sft-base-zh', '--model', './base', '--data', data, '--out', out, '--gpus', '8', '--gpu-mem', '80', ...more], { cwd: d, env: NO_GPU });
  assertOneLineError(await base('noprops.jsonl', 'r1'), /^llama3-zh train: noprops\.jsonl:2: tools\[0\] \("get_random_fact"\): 'parameters' has no "properties" \(give \{"type": "object", "properties": \{\}\} for a function without arguments\); LLaMA-Factory's default tool prompt \(template default\) stops the run on it: fix the tools, or train an Instruct model with template llama3$/);
  assertOneLineError(await base('enum.jsonl', 'r2'), /^llama3-zh train: enum\.jsonl:1: tools\[0\] \("get_random_fact"\): 'parameters\.properties\.n\.enum' holds a number, which that prompt cannot join as text; /);
  // The llama3 template writes the tools as JSON: both are fine there.
  for (const data of ['noprops.jsonl', 'enum.jsonl']) {
    const r = await runCli(['train', 'init', '--recipe', 'sft-instruct-zh', '--model', './instruct', '--data', data, '--out', `ok-${data}`, '--gpu-mem', '80'], { cwd: d, env: NO_GPU });
    assert.equal(r.code, 0, r.stderr);
  }
});
