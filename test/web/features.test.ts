import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Dialog, Page } from 'playwright-core';
import { ask as askIn, launchBrowser } from '../helpers/browser.js';
import type { RunningServer } from '../../src/server/start.js';
import { ROUTES, testServer } from '../helpers/server.js';

/** The page against a server with an API key and a small context: key prompt, trimming, edit, regenerate, delete. */

const KEY = 'sk-web-123';
let srv: RunningServer;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];

before(async () => {
  srv = await testServer({ parallel: 2, ctx: 256, apiKey: KEY });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone-sized screen
  page.on('dialog', (d: Dialog) => {
    dialogs.push(d.type());
    void (d.type() === 'prompt' ? d.accept(KEY) : d.accept());
  });
  await page.goto(srv.url + '/');
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

const ask = (question: string) => askIn(page, question);

test('with --api-key the page asks for the key once and keeps it', async () => {
  await page.waitForSelector('#model option', { state: 'attached' });
  assert.deepEqual(dialogs, ['prompt']);
  // On a phone the side panel opens with ☰ and closes with ✕.
  assert.ok(await page.isHidden('#sidebar'));
  await page.click('#menu');
  await page.fill('#system', '你是助手。');
  await page.click('#close-menu');
  assert.ok(await page.isHidden('#sidebar'));
  assert.equal(await ask('red'), ROUTES.red);
  await page.reload();
  await page.waitForSelector('#model option', { state: 'attached' });
  assert.equal(await ask('还有呢'), ROUTES.red);
  assert.deepEqual(dialogs, ['prompt'], 'no second prompt after a reload');
});

test('a chat longer than the context leaves out its oldest rounds, never the system prompt, and says so', async () => {
  const filler = (n: number) => `第${n}轮：${'我们继续讨论这个问题的每一个细节。'.repeat(3)}`;
  const long = { title: '长对话', messages: [1, 2, 3, 4].flatMap((n) => [{ role: 'user', content: filler(n) }, { role: 'assistant', content: `好的，第${n}轮。` }]) };
  const file = join(tmpdir(), `long-chat-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(long));
  await page.click('#menu');
  await page.setInputFiles('#import', file);
  await page.locator('#max-tokens').fill('100');
  await page.click('#close-menu');
  const req = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  assert.equal(await ask('blue'), ROUTES.blue);
  const sent = (await req).postDataJSON().messages as Array<{ role: string; content: string }>;
  assert.deepEqual(sent[0], { role: 'system', content: '你是助手。' });
  assert.deepEqual(sent.at(-1), { role: 'user', content: 'blue' });
  assert.ok(!sent.some((m) => m.content === filler(1)), 'the oldest round is left out');
  const dropped = (sent.length < 10) ? (10 - sent.length) / 2 : 0;
  assert.ok(dropped >= 1);
  assert.equal(await page.innerText('#notice'), `对话太长，已省略最早的 ${dropped} 轮（系统提示词保留）。`);
  // The page still shows the whole conversation.
  assert.equal(await page.locator('.msg').count(), 10);
});

test('edit and resend a question; regenerate the last answer; delete a conversation', async () => {
  await page.click('#menu');
  await page.click('#new-chat'); // closes the panel
  assert.equal(await ask('blue'), ROUTES.blue);
  await page.click('.msg.user .edit');
  await page.fill('.edit-box', 'green');
  await page.click('.resend');
  await page.waitForSelector('#send:not([hidden])');
  assert.deepEqual(await page.locator('.msg .body').allInnerTexts(), ['green', ROUTES.green]);
  const req = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  await page.click('.msg.assistant .regenerate');
  await req;
  await page.waitForSelector('#send:not([hidden])');
  assert.deepEqual(await page.locator('.msg .body').allInnerTexts(), ['green', ROUTES.green]);
  await page.click('#menu');
  const before = await page.locator('#conversations li').count();
  await page.click('#conversations li.active .delete');
  assert.equal(await page.locator('#conversations li').count(), before - 1);
  assert.ok(dialogs.includes('confirm'));
});
