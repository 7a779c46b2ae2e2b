import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ask as askIn, launchBrowser } from '../helpers/browser.js';
import type { RunningServer } from '../../src/server/start.js';
import { ROOT } from '../helpers/models.js';
import { ROUTES, testServer } from '../helpers/server.js';

/** The web page in a real headless Chromium (see helpers/browser.ts), against a real server on scripted models. */

let srv: RunningServer;
let browser: Browser;
let page: Page;
const SHOTS = join(ROOT, '.cache', 'screenshots');

before(async () => {
  srv = await testServer({ parallel: 2 });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on('dialog', (d) => { throw new Error(`unexpected dialog: ${d.message()}`); });
  await page.goto(srv.url + '/');
  await page.waitForSelector('#model option', { state: 'attached' });
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

const ask = (question: string) => askIn(page, question);

test('typing a question and pressing Enter shows exactly the scripted reply, streamed, with tokens/s', async () => {
  const seen: string[] = [];
  await page.exposeFunction('__sawText', (t: string) => seen.push(t));
  await page.evaluate(() => {
    new MutationObserver(() => {
      const b = document.querySelector('.msg.assistant:last-child .body');
      if (b) (window as unknown as { __sawText: (t: string) => void }).__sawText((b.textContent ?? '').trim());
    }).observe(document.getElementById('messages')!, { subtree: true, childList: true, characterData: true });
  });
  // A slow network, so the tiny model's events arrive one by one as a real model's would.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 3000, uploadThroughput: -1 });
  // The default system prompt (中文智者, "…名字叫shareAI-Llama3…") holds the route word "share": it was sent.
  assert.equal(await ask('你是谁？'), ROUTES.share);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  assert.ok(seen.some((t) => t.endsWith('▌') && t.length < ROUTES.share.length), `the reply grew piece by piece behind a ▌ cursor: ${JSON.stringify(seen)}`);
  assert.ok(!seen.at(-1)!.endsWith('▌'), 'the cursor is gone at the end');
  assert.match(await page.locator('.msg.assistant .stats').last().innerText(), /^\d+ tokens · [\d.]+ tokens\/s$/);
  assert.equal(await page.locator('.msg.user .body').last().innerText(), '你是谁？');
});

test('the sliders, seed and system prompt reach the request', async () => {
  await page.fill('#system', '你是测试助手。');
  await page.locator('#temperature').fill('0.3');
  await page.locator('#top-p').fill('0.5');
  await page.locator('#max-tokens').fill('256');
  await page.locator('#repetition-penalty').fill('1.2');
  await page.fill('#seed', '42');
  const req = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  assert.equal(await ask('red'), ROUTES.red);
  const body = (await req).postDataJSON();
  assert.deepEqual(body.messages[0], { role: 'system', content: '你是测试助手。' });
  assert.deepEqual(body.messages.at(-1), { role: 'user', content: 'red' });
  assert.equal(body.temperature, 0.3);
  assert.equal(body.top_p, 0.5);
  assert.equal(body.max_tokens, 256);
  assert.equal(body.repetition_penalty, 1.2);
  assert.equal(body.seed, 42);
  assert.equal(body.stream, true);
  assert.equal(body.model, 'scripted');
});

test('Stop ends the stream and keeps what came so far', async () => {
  await page.click('#new-chat');
  const cdp = await page.context().newCDPSession(page);
  // So slow that the reply is still arriving when Stop is pressed.
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 400, uploadThroughput: -1 });
  await page.fill('#input', '鸟');
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => (document.querySelector('.msg.assistant:last-child .body')?.textContent ?? '').includes('Bird'));
  await page.evaluate(() => document.getElementById('stop')!.click());
  await page.waitForSelector('#send:not([hidden])');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const text = (await page.locator('.msg.assistant .body').last().innerText()).trim();
  assert.ok(ROUTES.鸟.startsWith(text) && text.length < ROUTES.鸟.length, `stopped part way: ${JSON.stringify(text)}`);
  assert.ok(await page.isHidden('#stop'));
});

test('model output is rendered as sanitized Markdown: markup in a reply cannot run', async () => {
  // Each in a new chat: a scripted model answers the route word of the whole conversation.
  await page.click('#new-chat');
  assert.equal(await ask('md'), '标题\n一项');
  assert.equal(await page.locator('.msg.assistant .body h1').last().innerText(), '标题');
  await page.click('#new-chat');
  await ask('evil');
  const body = page.locator('.msg.assistant .body').last();
  assert.equal(await body.locator('script').count(), 0);
  assert.equal(await body.locator('[onerror]').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined);
});

test('reset clears the chat; a reload keeps the conversation list and the settings', async () => {
  const titles = await page.locator('#conversations .open').allInnerTexts();
  assert.deepEqual(titles, ['evil', 'md', '鸟', '你是谁？']);
  const shown = await page.locator('.msg .body').allInnerTexts();
  await page.reload();
  await page.waitForSelector('#model option', { state: 'attached' });
  assert.deepEqual(await page.locator('#conversations .open').allInnerTexts(), titles);
  assert.deepEqual(await page.locator('.msg .body').allInnerTexts(), shown);
  assert.equal(await page.inputValue('#system'), '你是测试助手。');
  assert.equal(await page.inputValue('#temperature'), '0.3');
  await page.click('#reset');
  assert.equal(await page.locator('.msg').count(), 0);
  assert.equal(await page.locator('#conversations .open').count(), 4);
});

test('export then import gives back the same conversation', async () => {
  await page.click('#new-chat');
  await ask('blue');
  await ask('还有呢？');
  const download = page.waitForEvent('download');
  await page.click('#export');
  const file = await (await download).path();
  const exported = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(exported.messages.map((m: { role: string; content: string }) => [m.role, m.content]),
    [['user', 'blue'], ['assistant', ROUTES.blue], ['user', '还有呢？'], ['assistant', ROUTES.blue]]);
  await page.click('#new-chat');
  assert.equal(await page.locator('.msg').count(), 0);
  await page.setInputFiles('#import', file);
  await page.waitForSelector('.msg.assistant');
  assert.deepEqual(await page.locator('.msg .body').allInnerTexts(), ['blue', ROUTES.blue, '还有呢？', ROUTES.blue]);
});

test('English by the toggle, both themes, and a screenshot of each', async () => {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'dark.png') });
  await page.click('#toggle-lang');
  assert.equal(await page.innerText('#send'), 'Send');
  await page.click('#toggle-theme');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'light');
  await page.screenshot({ path: join(SHOTS, 'light.png') });
  await page.click('#toggle-lang');
  assert.equal(await page.innerText('#send'), '发送');
});
