import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page, Request } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { ROOT } from '../helpers/models.js';
import { testServer } from '../helpers/server.js';
import { CALL, FINAL, openaiTools, RESULT, weatherModel, WEATHER } from '../helpers/toolModels.js';
import type { RunningServer } from '../../src/server/start.js';

/**
 * Tools on the web page, in a real headless Chromium against a real server whose scripted model calls get_weather
 * (CALL) and answers FINAL once the conversation holds the result "snow": the person pastes tools in the settings,
 * sees the call as a block, plays the tool, and gets the answer streamed.
 */

let srv: RunningServer;
let browser: Browser;
let page: Page;
const SHOTS = join(ROOT, '.cache', 'screenshots');
const QUESTION = '北京今天天气怎么样？';
const TOOLS = JSON.stringify(openaiTools(WEATHER), null, 2);
const ARGS = '{\n  "city": "Beijing"\n}';

before(async () => {
  srv = await testServer({ model: await weatherModel(), ctx: 1024 });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.on('dialog', (d) => { throw new Error(`unexpected dialog: ${d.message()}`); });
  await page.goto(srv.url + '/');
  await page.waitForSelector('#model option', { state: 'attached' });
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

const completions = () => page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
const body = (r: Request) => r.postDataJSON();
const idle = () => page.waitForSelector('#send:not([hidden])');

test('tools pasted in the settings: the call is a block, the person types its result, the answer streams', async () => {
  await page.fill('#tools', TOOLS);
  assert.equal(await page.innerText('#tools-status'), '已启用 1 个工具：get_weather');
  let req = completions();
  await page.fill('#input', QUESTION);
  await page.press('#input', 'Enter');
  const first = body(await req);
  assert.deepEqual(first.tools, openaiTools(WEATHER));
  await page.waitForSelector('.call .call-result');
  await idle();
  const call = page.locator('.msg.assistant .call');
  assert.equal(await call.count(), 1);
  assert.equal(await call.locator('.call-label').innerText(), '调用工具');
  assert.equal(await call.locator('.call-name').innerText(), 'get_weather');
  assert.equal(await call.locator('.call-args').innerText(), ARGS);
  assert.ok(await page.locator('.msg.assistant .body').last().isHidden(), 'a reply that is only a call shows no text');
  assert.ok(!(await page.innerText('#messages')).includes('"parameters"'), 'the raw reply JSON is never shown');
  assert.equal(await page.getAttribute('.call-result', 'placeholder'), '由你来扮演这个工具：输入它返回的结果，Enter 提交');
  assert.ok(await page.evaluate(() => document.activeElement?.classList.contains('call-result')), 'the result box has the focus');

  // Markup in a result is text; the model calls the tool again (the result has no "snow").
  const evil = '<img src=x onerror="window.pwned=1">';
  // The page counts the conversation's tokens first: /tokenize takes calls and results.
  const counted = page.waitForResponse((r) => r.url().endsWith('/tokenize'));
  req = completions();
  await page.fill('.call-result', evil);
  await page.press('.call-result', 'Enter');
  assert.equal((await counted).status(), 200);
  const second = body(await req);
  const id = second.messages[2].tool_calls[0].id;
  assert.match(id, /^call_[A-Za-z0-9]{24}$/);
  assert.deepEqual(second.messages.slice(1), [
    { role: 'user', content: QUESTION },
    { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Beijing"}' } }] },
    { role: 'tool', tool_call_id: id, content: evil },
  ]);
  await page.waitForSelector('.msg.assistant:last-child .call .call-result');
  await idle();
  assert.equal(await page.locator('.msg.tool .result-text').innerText(), evil);
  assert.equal(await page.locator('#messages img').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined);

  // The result that routes the model to its answer, sent with the button; the answer grows piece by piece.
  const seen: string[] = [];
  await page.exposeFunction('__sawText', (t: string) => seen.push(t));
  await page.evaluate(() => {
    new MutationObserver(() => {
      const b = document.querySelector('.msg.assistant:last-child .body');
      if (b) (window as unknown as { __sawText: (t: string) => void }).__sawText((b.textContent ?? '').trim());
    }).observe(document.getElementById('messages')!, { subtree: true, childList: true, characterData: true });
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 3000, uploadThroughput: -1 });
  req = completions();
  await page.fill('.msg.assistant:last-child .call-result', RESULT);
  await page.click('.msg.assistant:last-child .send-result');
  const third = body(await req);
  assert.deepEqual(third.messages.slice(4).map((m: { role: string; content: string | null }) => [m.role, m.content]), [['assistant', null], ['tool', RESULT]]);
  await idle();
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  assert.equal((await page.locator('.msg.assistant .body').last().innerText()).trim(), FINAL);
  assert.ok(seen.some((t) => t.endsWith('▌') && t.length < FINAL.length), `streamed: ${JSON.stringify(seen)}`);
  assert.deepEqual(await page.locator('#messages > .msg').evaluateAll((els) => els.map((e) => e.className)),
    ['msg user', 'msg assistant', 'msg tool', 'msg assistant', 'msg tool', 'msg assistant']);
  assert.deepEqual(await page.locator('.msg.tool .call-label').allInnerTexts(), ['工具结果', '工具结果']);
  assert.deepEqual(await page.locator('.msg.tool .call-name').allInnerTexts(), ['get_weather', 'get_weather']);
  assert.equal(await page.locator('.call-result').count(), 0, 'no call waits for a result');

  assert.equal(await page.locator('.msg.assistant .stats').first().innerText(), '14 tokens', 'a call streams no text to time');

  // A reload keeps the tools and draws the conversation the same.
  const shown = await page.innerText('#messages');
  await page.reload();
  await page.waitForSelector('#model option', { state: 'attached' });
  assert.equal(await page.inputValue('#tools'), TOOLS);
  assert.equal(await page.innerText('#messages'), shown);
  // Export then import gives back the calls and results as blocks (the stats stay behind, as for any import).
  const blocks = () => page.locator('.msg .body, .msg .call, .msg .tool-result').allInnerTexts();
  const before = await blocks();
  const download = page.waitForEvent('download');
  await page.click('#export');
  const file = await (await download).path();
  await page.click('#new-chat');
  await page.setInputFiles('#import', file);
  await page.waitForSelector('.msg.tool');
  assert.deepEqual(await blocks(), before);
});

test('a screenshot: a question, the call, its result and the answer', async () => {
  await page.click('#new-chat');
  await page.setViewportSize({ width: 960, height: 640 });
  await page.fill('#input', QUESTION);
  await page.press('#input', 'Enter');
  await page.waitForSelector('.call .call-result');
  await idle();
  await page.fill('.call-result', RESULT);
  await page.press('.call-result', 'Enter');
  await page.waitForSelector('.msg.tool');
  await idle();
  assert.equal((await page.locator('.msg.assistant .body').last().innerText()).trim(), FINAL);
  // The bundled Chromium's Chinese web font comes in pieces, fetched as the characters are drawn, and text drawn
  // before its piece came may stay blank: a first shot fetches them all, then the page is laid out again.
  await page.screenshot();
  await page.evaluate(() => document.fonts.ready);
  await page.evaluate(() => {
    document.body.style.display = 'none';
    void document.body.offsetHeight;
    document.body.style.display = '';
    for (const id of ['sidebar', 'messages']) { const el = document.getElementById(id)!; el.scrollTop = el.scrollHeight; }
  });
  assert.equal(await page.innerText('#title'), QUESTION);
  mkdirSync(SHOTS, { recursive: true });
  // The conversation only: the bundled Chromium draws the header's bold Chinese title blank now and then.
  await page.locator('#messages').screenshot({ path: join(SHOTS, 'tools-view.png') });
  await page.setViewportSize({ width: 1000, height: 700 });
});

test('a new question gives up a call still waiting for its result', async () => {
  await page.click('#new-chat');
  await page.fill('#input', QUESTION);
  await page.press('#input', 'Enter');
  await page.waitForSelector('.call .call-result');
  await idle();
  const req = completions();
  await page.fill('#input', '算了，上海呢？');
  await page.press('#input', 'Enter');
  assert.deepEqual(body(await req).messages.slice(1), [{ role: 'user', content: QUESTION }, { role: 'user', content: '算了，上海呢？' }]);
  await idle();
  assert.deepEqual(await page.locator('#messages > .msg').evaluateAll((els) => els.map((e) => e.className)), ['msg user', 'msg user', 'msg assistant']);
  assert.equal(await page.locator('.call .call-result').count(), 1);
});

test('bad tools: the field says what is wrong, and nothing is sent until they are fixed', async () => {
  await page.click('#new-chat');
  let requests = 0;
  const count = (r: Request) => { if (r.url().endsWith('/v1/chat/completions')) requests++; };
  page.on('request', count);
  await page.fill('#tools', '[{"type": "function", "function": {"description": "no name"}}]');
  const message = '工具列表有误：tools[0].function.name is missing: every tool needs a name';
  assert.equal(await page.innerText('#tools-status'), message);
  assert.equal(await page.getAttribute('#tools-status', 'data-state'), 'error');
  await page.fill('#input', QUESTION);
  await page.press('#input', 'Enter');
  assert.equal(await page.innerText('#notice'), message);
  assert.equal(await page.inputValue('#input'), QUESTION, 'the question waits in its box');
  assert.equal(await page.locator('.msg').count(), 0);
  await page.fill('#tools', '[{"type": "function",');
  assert.match(await page.innerText('#tools-status'), /^工具列表不是有效的 JSON：\S/);
  await page.click('#toggle-lang');
  assert.match(await page.innerText('#tools-status'), /^The tools are not valid JSON: \S/);
  await page.fill('#tools', '[{"name": "get_weather", "parameters": {"type": "string"}}]');
  assert.equal(await page.innerText('#tools-status'), 'The tools are wrong: tools[0].parameters.type is "string"; the parameters of a function are an object: ' +
    'a JSON Schema object like {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}');
  await page.click('#toggle-lang');
  assert.equal(requests, 0);
  page.off('request', count);
  // Emptied, the field is off: no tools are sent, and nothing is read as a call.
  await page.fill('#tools', '');
  assert.ok(await page.isHidden('#tools-status'));
  const req = completions();
  await page.press('#input', 'Enter');
  assert.equal(body(await req).tools, undefined);
  await idle();
  assert.equal((await page.locator('.msg.assistant .body').last().innerText()).trim(), CALL);
  assert.equal(await page.locator('.call').count(), 0);
});
