import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alpaca, detectFormat, firefly, type Format, openai, preference, sharegpt, text } from '../../src/data/formats/index.js';
import { RowError } from '../../src/data/record.js';
import { llama3Tokens } from '../../src/data/tokens.js';
import { encode } from '../../src/gguf/llama3Vocab.js';

/** Row → record → row in another format, as JSON text (what a file holds), noting what was lost. */
function via(from: Format, to: Format, row: string, lost: string[] = []): string {
  return JSON.stringify(to.write(from.read(JSON.parse(row)), (w) => lost.push(w)));
}

// LLaMA-Factory's data/glaive_toolcall_zh_demo.json row 90 and glaive_toolcall_en_demo.json row 203 (see
// test/fixtures/data/README.md), compact, and the OpenAI rows they are: written here by hand.
const ZH_90 = String.raw`{"conversations":[{"from":"human","value":"我无聊了。你能告诉我一些有趣的事情吗？"},{"from":"function_call","value":"{\"name\": \"get_random_fact\", \"arguments\": {}}"},{"from":"observation","value":"{\"fact\": \"你知道章鱼有三个心脏吗？\"}"},{"from":"gpt","value":"你知道吗，章鱼有三颗心脏？相当有趣，不是吗？"}],"tools":"[{\"name\": \"get_random_fact\", \"description\": \"获取一个随机的有趣事实\", \"parameters\": {\"type\": \"object\", \"properties\": {}, \"required\": []}}]"}`;
const ZH_90_OPENAI = String.raw`{"messages":[{"role":"user","content":"我无聊了。你能告诉我一些有趣的事情吗？"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_random_fact","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"{\"fact\": \"你知道章鱼有三个心脏吗？\"}"},{"role":"assistant","content":"你知道吗，章鱼有三颗心脏？相当有趣，不是吗？"}],"tools":[{"type":"function","function":{"name":"get_random_fact","description":"获取一个随机的有趣事实","parameters":{"type":"object","properties":{},"required":[]}}}]}`;
const EN_203 = String.raw`{"conversations":[{"from":"human","value":"Hi, I was born on 1990-05-15. Can you tell me how old I am today?"},{"from":"function_call","value":"{\"name\": \"calculate_age\", \"arguments\": {\"birthdate\": \"1990-05-15\"}}"},{"from":"observation","value":"{\"age\": 31}"},{"from":"gpt","value":"Based on the birthdate you provided, you are 31 years old today."}],"tools":"[{\"name\": \"calculate_age\", \"description\": \"Calculate the age based on birthdate\", \"parameters\": {\"type\": \"object\", \"properties\": {\"birthdate\": {\"type\": \"string\", \"description\": \"The birthdate in YYYY-MM-DD format\"}}, \"required\": [\"birthdate\"]}}]"}`;
const EN_203_OPENAI = String.raw`{"messages":[{"role":"user","content":"Hi, I was born on 1990-05-15. Can you tell me how old I am today?"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"calculate_age","arguments":"{\"birthdate\": \"1990-05-15\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"{\"age\": 31}"},{"role":"assistant","content":"Based on the birthdate you provided, you are 31 years old today."}],"tools":[{"type":"function","function":{"name":"calculate_age","description":"Calculate the age based on birthdate","parameters":{"type":"object","properties":{"birthdate":{"type":"string","description":"The birthdate in YYYY-MM-DD format"}},"required":["birthdate"]}}}]}`;

// Parallel calls (a list in one function_call, the results in one observation joined as LLaMA-Factory's
// OpenAIDatasetConverter joins tool messages), with a system prompt, arguments whose numbers JavaScript would
// rewrite (1.0, 1e-05) and a result with a line separator. Made for this test in the glaive layout.
const PARALLEL = String.raw`{"system":"你是天气助手。","conversations":[{"from":"human","value":"北京和上海明天天气怎么样？"},{"from":"function_call","value":"[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\", \"days\": 1.0}}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"上海\", \"days\": 1e-05}}]"},{"from":"observation","value":"{\"temp\": 30}\n</tool_response>\n<tool_response>\n{\"temp\": 12, \"note\": \"${'\u2028'}\"}"},{"from":"gpt","value":"北京30度，上海12度。"}],"tools":"[{\"name\": \"get_weather\", \"description\": \"查询天气\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"number\"}}, \"required\": [\"city\"]}}]"}`;
const PARALLEL_OPENAI = String.raw`{"messages":[{"role":"system","content":"你是天气助手。"},{"role":"user","content":"北京和上海明天天气怎么样？"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"北京\", \"days\": 1.0}"}},{"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"上海\", \"days\": 1e-05}"}}]},{"role":"tool","tool_call_id":"call_1","content":"{\"temp\": 30}"},{"role":"tool","tool_call_id":"call_2","content":"{\"temp\": 12, \"note\": \"${'\u2028'}\"}"},{"role":"assistant","content":"北京30度，上海12度。"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"查询天气","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"number"}},"required":["city"]}}}]}`;

test('ShareGPT tool rows become OpenAI rows and come back byte for byte', () => {
  for (const [sg, oa] of [[ZH_90, ZH_90_OPENAI], [EN_203, EN_203_OPENAI], [PARALLEL, PARALLEL_OPENAI]]) {
    const lost: string[] = [];
    assert.equal(via(sharegpt, openai, sg, lost), oa);
    assert.equal(via(openai, sharegpt, oa, lost), sg);
    assert.deepEqual(lost, []);
  }
});

test('the record keeps the call arguments as the dataset wrote them', () => {
  const r = sharegpt.read(JSON.parse(PARALLEL));
  assert.deepEqual(r, {
    kind: 'chat', system: '你是天气助手。',
    tools: [{ name: 'get_weather', description: '查询天气', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'number' } }, required: ['city'] } }],
    turns: [
      { role: 'user', content: '北京和上海明天天气怎么样？' },
      { role: 'call', calls: [{ name: 'get_weather', arguments: '{"city": "北京", "days": 1.0}' }, { name: 'get_weather', arguments: '{"city": "上海", "days": 1e-05}' }] },
      { role: 'tool', results: [{ content: '{"temp": 30}' }, { content: '{"temp": 12, "note": "\u2028"}' }] },
      { role: 'assistant', content: '北京30度，上海12度。' },
    ],
  });
});

// OpenAI's fine-tuning rows: ids of their own, the call as the last turn (it is what is learned), text beside a call.
const OPENAI_IDS = String.raw`{"messages":[{"role":"user","content":"What is the weather in San Francisco?"},{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_current_weather","arguments":"{\"location\": \"San Francisco, USA\", \"format\": \"celsius\"}"}}]},{"role":"tool","tool_call_id":"call_abc","content":"18"},{"role":"assistant","tool_calls":[{"id":"call_def","type":"function","function":{"name":"get_current_weather","arguments":"{\"location\": \"Oslo\"}"}}]}],"tools":[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather","parameters":{"type":"object","properties":{"location":{"type":"string"},"format":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}}]}`;

test('OpenAI rows keep their ids and text beside a call; ShareGPT says it cannot', () => {
  assert.equal(via(openai, openai, OPENAI_IDS), OPENAI_IDS);
  const lost: string[] = [];
  assert.equal(via(openai, sharegpt, OPENAI_IDS, lost), String.raw`{"conversations":[{"from":"human","value":"What is the weather in San Francisco?"},{"from":"function_call","value":"{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"San Francisco, USA\", \"format\": \"celsius\"}}"},{"from":"observation","value":"18"},{"from":"function_call","value":"{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Oslo\"}}"}],"tools":"[{\"name\": \"get_current_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"location\": {\"type\": \"string\"}, \"format\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"]}}, \"required\": [\"location\"]}}]"}`);
  assert.deepEqual(lost, ['assistant text beside tool calls dropped (a function_call turn holds only the calls)', 'tool call ids dropped (ShareGPT matches results to calls by position)']);
  // Tool messages may answer their calls in another order: the ids say which.
  const swapped = String.raw`{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"call_2","type":"function","function":{"name":"f","arguments":"{\"x\": 1}"}}]},{"role":"tool","tool_call_id":"call_2","content":"two"},{"role":"tool","tool_call_id":"call_1","content":"one"},{"role":"assistant","content":"a"}]}`;
  assert.equal(via(openai, openai, swapped), swapped);
  const r = openai.read(JSON.parse(swapped));
  assert.deepEqual(r.kind === 'chat' && r.turns[2], { role: 'tool', results: [{ content: 'two', callId: 'call_2' }, { content: 'one', callId: 'call_1' }] });
});

test('Hugging Face style arguments (an object) are read and written as OpenAI\'s JSON string', () => {
  const row = { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: { city: '北京', n: [1, 2] } } }] }] };
  assert.equal(JSON.stringify(openai.write(openai.read(row), () => {})), String.raw`{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"city\": \"北京\", \"n\": [1, 2]}"}}]}]}`);
});

test('formats without tool roles keep every text and say what they lose', () => {
  const lost: string[] = [];
  assert.equal(via(sharegpt, alpaca, ZH_90, lost), String.raw`{"instruction":"{\"fact\": \"你知道章鱼有三个心脏吗？\"}","input":"","output":"你知道吗，章鱼有三颗心脏？相当有趣，不是吗？","history":[["我无聊了。你能告诉我一些有趣的事情吗？","{\"name\": \"get_random_fact\", \"arguments\": {}}"]]}`);
  assert.deepEqual(lost, ['tool definitions dropped (alpaca rows have no tools)', 'tool calls and results written as assistant and user text (alpaca rows have no tool roles)']);
  const ffLost: string[] = [];
  assert.equal(via(openai, firefly, OPENAI_IDS, ffLost), String.raw`{"conversation":[{"human":"What is the weather in San Francisco?","assistant":"Let me check.\n{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"San Francisco, USA\", \"format\": \"celsius\"}}"},{"human":"18","assistant":"{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Oslo\"}}"}]}`);
  assert.deepEqual(ffLost, ['tool definitions dropped (firefly rows have no tools)', 'tool calls and results written as assistant and user text (firefly rows have no tool roles)']);
  const textLost: string[] = [];
  assert.equal(JSON.parse(via(sharegpt, text, ZH_90, textLost)).text, '我无聊了。你能告诉我一些有趣的事情吗？\n\n{"name": "get_random_fact", "arguments": {}}\n\n{"fact": "你知道章鱼有三个心脏吗？"}\n\n你知道吗，章鱼有三颗心脏？相当有趣，不是吗？');
  assert.deepEqual(textLost, ['roles dropped (plain text)', 'tool definitions dropped (plain text)']);
});

test('preference pairs and the ranking form carry tool turns in the prompt and the tools', () => {
  const ranking = String.raw`{"conversations":[{"from":"human","value":"几岁？"},{"from":"function_call","value":"{\"name\": \"calculate_age\", \"arguments\": {\"birthdate\": \"1990-05-15\"}}"},{"from":"observation","value":"{\"age\": 31}"}],"tools":"[{\"name\": \"calculate_age\", \"parameters\": {\"type\": \"object\"}}]","chosen":{"from":"gpt","value":"31岁。"},"rejected":{"from":"gpt","value":"不知道。"}}`;
  const pref = via(sharegpt, preference, ranking);
  assert.equal(pref, String.raw`{"prompt":[{"role":"user","content":"几岁？"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"calculate_age","arguments":"{\"birthdate\": \"1990-05-15\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"{\"age\": 31}"}],"chosen":"31岁。","rejected":"不知道。","tools":[{"type":"function","function":{"name":"calculate_age","parameters":{"type":"object"}}}]}`);
  assert.equal(via(preference, sharegpt, pref), ranking);
});

test('bad tool rows: one line each, naming the field', () => {
  const tools = String.raw`[{\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}]`;
  const sg = (...turns: string[]) => `{"conversations":[${turns.join(',')}],"tools":"${tools}"}`;
  const human = '{"from":"human","value":"天气？"}';
  const gpt = '{"from":"gpt","value":"晴。"}';
  const call = (v: string) => JSON.stringify({ from: 'function_call', value: v });
  const ok = call('{"name": "get_weather", "arguments": {"city": "北京"}}');
  const obs = '{"from":"observation","value":"{\\"w\\": \\"晴\\"}"}';
  const cases: [Format, string, string][] = [
    // LLaMA-Factory's own zh demo, row 197: the call was translated into prose, the observation answers no call.
    [sharegpt, String.raw`{"conversations": [{"from": "human", "value": "你好，我买了一条裙子，原价是200美元，现在有20%的折扣。你能帮我算一下打折后我需要支付多少钱吗？"}, {"from": "gpt", "value": "好的，让我帮你计算一下。\nAI 计算折扣: {\"原价\": 200, \"折扣百分比\": 20}"}, {"from": "observation", "value": "{\"discounted_price\": 160}"}, {"from": "gpt", "value": "在应用20%的折扣后，您必须支付160美元购买这件衣服。"}, {"from": "human", "value": "好的，谢谢！您能帮我预定一辆出租车去商场吗？"}, {"from": "gpt", "value": "很抱歉，作为一个AI，我无法为您预订出租车或执行外部任务。但我可以为您提供信息和基于我的功能的计算方面的帮助。"}], "tools": "[{\"name\": \"calculate_discount\", \"description\": \"计算折扣价格\", \"parameters\": {\"type\": \"object\", \"properties\": {\"original_price\": {\"type\": \"number\", \"description\": \"原价\"}, \"discount_percentage\": {\"type\": \"number\", \"description\": \"折扣百分比\"}}}}]"}`,
      'turn 3: a tool result with no tool call before it (turn 2 is from the assistant)'],
    [sharegpt, sg(obs, gpt), 'turn 1: a tool result with no tool call before it'],
    [sharegpt, sg(human, obs, gpt), 'turn 2: a tool result with no tool call before it (turn 1 is from the user)'],
    [sharegpt, sg(human, gpt, ok, obs, gpt), 'turns 2 and 3 are both from the assistant (an answer, then a tool call)'],
    [sharegpt, sg(human, ok, ok, obs, gpt), 'turns 2 and 3 are both tool calls; parallel calls belong in one turn'],
    [sharegpt, sg(human, ok, obs, human, gpt), 'turn 4 is from the user, right after a tool result; the assistant answers the result first'],
    [sharegpt, sg(human, ok, obs, gpt, ok), 'turns 4 and 5 are both from the assistant (an answer, then a tool call)'],
    [sharegpt, sg(human, ok, obs), 'the last turn is a tool result; it must be from the assistant'],
    [sharegpt, sg(human, call('{name: get_weather}'), obs, gpt), 'conversations[1]: function_call is not valid JSON; it must be {"name": …, "arguments": {…}} or a list of them'],
    [sharegpt, sg(human, call('{"name": "get_wether", "arguments": {}}'), obs, gpt), 'conversations[1]: function_call calls "get_wether", which is not in tools (get_weather)'],
    [sharegpt, sg(human, call('{"name": "get_weather", "arguments": "{\\"city\\": \\"北京\\"}"}'), obs, gpt), 'conversations[1]: function_call "arguments" must be a JSON object, not a string'],
    [sharegpt, sg(human, call('{"name": "get_weather"}'), obs, gpt), 'conversations[1]: function_call has no "arguments"'],
    [sharegpt, sg(human, call('{"arguments": {}}'), obs, gpt), 'conversations[1]: function_call has no "name"'],
    [sharegpt, sg(human, call('[{"name": "get_weather", "arguments": {}}, {"name": "get_weather", "arguments": [1]}]'), obs, gpt), 'conversations[1]: function_call[1] "arguments" must be a JSON object, not an array'],
    [sharegpt, sg(human, call('[]'), obs, gpt), 'conversations[1]: function_call is an empty list; it must hold at least one call'],
    [sharegpt, sg(human, call('"get_weather"'), obs, gpt), 'conversations[1]: function_call must be {"name": …, "arguments": {…}}, not a string'],
    [sharegpt, `{"conversations":[${human}],"chosen":{"from":"function_call","value":"{}"},"rejected":{"from":"gpt","value":"b"}}`, "'chosen': a function_call answer is not supported; chosen and rejected are gpt answers"],
    [sharegpt, '{"conversations":[],"tools":"[{name}]"}', `'tools' is not valid JSON; it must hold a list of functions [{"name", "description", "parameters"}, …]`],
    [sharegpt, '{"conversations":[],"tools":"{\\"name\\": \\"f\\"}"}', `'tools' must be a list of functions [{"name", "description", "parameters"}, …], not an object`],
    [sharegpt, '{"conversations":[],"tools":3}', `'tools' must be a list of functions [{"name", "description", "parameters"}, …], not a number`],
    [sharegpt, '{"conversations":[],"tools":"[{\\"description\\": \\"d\\", \\"parameters\\": {}}]"}', "tools[0]: 'name' is missing"],
    [sharegpt, '{"conversations":[],"tools":"[{\\"name\\": \\"f\\"}]"}', `tools[0] ("f"): 'parameters' is missing`],
    [sharegpt, '{"conversations":[],"tools":"[{\\"name\\": \\"f\\", \\"parameters\\": \\"x\\"}]"}', `tools[0] ("f"): 'parameters' must be a JSON Schema object, not a string`],
    [sharegpt, '{"conversations":[],"tools":"[{\\"name\\": \\"f\\", \\"parameters\\": {}}, {\\"name\\": \\"f\\", \\"parameters\\": {}}]"}', 'tools[1]: the function "f" is defined twice'],
    [sharegpt, '{"conversations":[],"tools":"[\\"f\\"]"}', 'tools[0] must be a function {"name", "description", "parameters"}, not a string'],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":{}}]}', "messages[1]: 'tool_calls' must be a list, not an object"],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":["f"]}]}', 'messages[1]: tool_calls[0] must be {"id", "type": "function", "function": {"name", "arguments"}}, not a string'],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"type":"code","function":{"name":"f","arguments":"{}"}}]}]}', `messages[1]: tool_calls[0]: 'type' must be "function"`],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"type":"function"}]}]}', "messages[1]: tool_calls[0]: 'function' is missing"],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}]}]}', "messages[1]: tool_calls[0]: 'function.name' is missing"],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"x","arguments":"{}"}}]}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}]}', 'messages[1]: tool_calls[0] calls "x", which is not in tools (get_weather)'],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"x","arguments":"{}"}}]}],"tools":[]}', 'messages[1]: tool_calls[0] calls "x", which is not in tools (the list is empty)'],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{city: 1}"}}]}]}', "messages[1]: tool_calls[0]: 'function.arguments' is not valid JSON"],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]}]}', "messages[1]: tool_calls[0]: 'function.arguments' must be a JSON object, not an array"],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":7}}]}]}', "messages[1]: tool_calls[0]: 'function.arguments' must be a JSON string of an object, not a number"],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"tool","tool_call_id":"call_1","content":"r"},{"role":"assistant","content":"a"}]}', 'turn 2: a tool result with no tool call before it (turn 1 is from the user)'],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_9","content":"r"},{"role":"assistant","content":"a"}]}', 'messages[2]: tool_call_id "call_9" answers no call of messages[1] (its ids: call_1)'],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"r"},{"role":"tool","content":"r"},{"role":"assistant","content":"a"}]}', 'messages[3]: more tool results than the 1 call of messages[1]'],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":5,"content":"r"}]}', "messages[2]: 'tool_call_id' must be a string, not a number"],
    [openai, '{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}],"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]}', `tools[0] ("f"): 'parameters' must be a JSON Schema object, not a string`],
  ];
  for (const [f, row, reason] of cases) {
    assert.throws(() => f.read(JSON.parse(row)), (e) => e instanceof RowError && e.message === reason, `${f.name} ${row}`);
  }
});

test('LLaMA-Factory\'s rule lets a conversation end on a call, and a result be answered by another call', () => {
  const row = String.raw`{"conversations":[{"from":"human","value":"q"},{"from":"function_call","value":"{\"name\": \"f\", \"arguments\": {}}"},{"from":"observation","value":"r"},{"from":"function_call","value":"{\"name\": \"f\", \"arguments\": {\"again\": true}}"}]}`;
  assert.equal(via(sharegpt, sharegpt, row), row);
  assert.equal(via(openai, sharegpt, via(sharegpt, openai, row)), row);
});

test('agent datasets: AgentInstruct rows read as ShareGPT, Agent-FLAN rows as OpenAI messages', () => {
  // Their row shapes as their dataset cards list the features (THUDM/AgentInstruct: conversations of
  // {from, loss, value} and id; internlm/Agent-FLAN: conversation of {role, content, loss} and id); the texts
  // are made up. The per-message "loss" flags are not carried: LLaMA-Factory has no per-turn flag.
  const agentInstruct = { id: 'os_0', conversations: [{ from: 'human', loss: false, value: 'How many files are in /etc?' }, { from: 'gpt', loss: true, value: 'Think: count them.\n\nAct: bash\n\n```bash\nls /etc | wc -l\n```' }] };
  const agentFlan = { id: 'flan_0', conversation: [{ role: 'system', content: 'You can use bash.', loss: false }, { role: 'user', content: 'How many files are in /etc?', loss: false }, { role: 'assistant', content: 'Thought: count them.\nAction: bash', loss: true }] };
  assert.equal(detectFormat([agentInstruct])?.name, 'sharegpt');
  assert.equal(detectFormat([agentFlan])?.name, 'openai');
  assert.equal(detectFormat([{ conversation: [{ human: 'q', assistant: 'a' }] }])?.name, 'firefly');
  assert.deepEqual(sharegpt.read(agentInstruct), { kind: 'chat', id: 'os_0', turns: [{ role: 'user', content: agentInstruct.conversations[0].value }, { role: 'assistant', content: agentInstruct.conversations[1].value }] });
  assert.deepEqual(openai.read(agentFlan), { kind: 'chat', id: 'flan_0', system: 'You can use bash.', turns: [{ role: 'user', content: 'How many files are in /etc?' }, { role: 'assistant', content: 'Thought: count them.\nAction: bash' }] });
});

test('tokens of a tool row: LLaMA-Factory\'s llama3 template, tools in the system message, the result as ipython', () => {
  // LLaMA-Factory's template.py "llama3" and tool_utils.py Llama3ToolUtils, written out by hand for ZH_90
  // (its prompt has today's date; a date of the same token length stands in).
  const rendered = '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
    'Cutting Knowledge Date: December 2023\nToday Date: 18 Aug 2026\n\nYou have access to the following functions. To call a function, please respond with JSON for a function call. ' +
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.\n\n' +
    '{\n    "type": "function",\n    "function": {\n        "name": "get_random_fact",\n        "description": "获取一个随机的有趣事实",\n        "parameters": {\n            "type": "object",\n            "properties": {},\n            "required": []\n        }\n    }\n}\n\n' +
    '<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n我无聊了。你能告诉我一些有趣的事情吗？<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_random_fact", "parameters": {}}<|eot_id|>' +
    '<|start_header_id|>ipython<|end_header_id|>\n\n{"fact": "你知道章鱼有三个心脏吗？"}<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n你知道吗，章鱼有三颗心脏？相当有趣，不是吗？<|eot_id|>';
  assert.equal(llama3Tokens(sharegpt.read(JSON.parse(ZH_90))), encode(rendered).length);
  // An empty tool list still makes an (empty) system message in LLaMA-Factory: `if system or tools`.
  const empty = sharegpt.read({ conversations: [{ from: 'human', value: '你好' }, { from: 'gpt', value: '你好！' }], tools: '[]' });
  assert.equal(llama3Tokens(empty), encode('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n你好！<|eot_id|>').length);
});
