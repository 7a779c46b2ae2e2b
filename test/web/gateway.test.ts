import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server/start.js';
import { ask, launchBrowser } from '../helpers/browser.js';
import { gatewayServer } from '../helpers/gatewayUpstream.js';
import { REPLY } from '../helpers/models.js';
import { postJson, ROUTES, testServer } from '../helpers/server.js';

/** The web page served by a gateway (serve --backend), in a real headless Chromium: its chat goes through to the backends. */

let backends: RunningServer[];
let gw: Awaited<ReturnType<typeof gatewayServer>>;
let browser: Browser;
let page: Page;

before(async () => {
  backends = await Promise.all([testServer({ parallel: 2 }), testServer({ parallel: 2 })]);
  gw = await gatewayServer(backends.map((b) => b.url));
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await page.goto(gw.url + '/');
  await page.waitForSelector('#model option', { state: 'attached' });
});
after(async () => {
  await browser?.close();
  await gw?.close();
  for (const b of backends ?? []) await b.close();
});

const served = () => Promise.all(backends.map(async (b) => Number(/llama3zh_requests_total\{route="\/v1\/chat\/completions",status="200"\} (\d+)/.exec(await (await fetch(`${b.url}/metrics`)).text())?.[1] ?? 0)));

test('the page through a gateway: the backends\' model in the list, the scripted replies, turn after turn', async () => {
  assert.deepEqual(await page.locator('#model option').allInnerTexts(), ['scripted']);
  // A system prompt of its own: the default one holds a route word ("share") of its own, and two would compete.
  await page.fill('#system', '你是测试助手。');
  // One route word in the whole conversation: with two (a first turn's and a second's) the scores are near, and the
  // rounding of a prompt half from the cache and a prompt read whole can pick different replies.
  assert.equal(await ask(page, '你好'), REPLY);
  const req = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  const second = await ask(page, '猫');
  assert.equal(second, ROUTES.猫);
  // Both turns of this one conversation went to one backend (prefix affinity), whose cache held the first.
  assert.deepEqual((await served()).sort(), [0, 2]);
  // The second turn carried the first; its reply is what a backend answers for the same request sent straight.
  const body = (await req).postDataJSON();
  assert.deepEqual(body.messages.slice(1).map((m: { role: string }) => m.role), ['user', 'assistant', 'user']);
  const direct = await postJson(`${backends[0].url}/v1/chat/completions`, { ...body, stream: false });
  assert.equal(second, direct.json.choices[0].message.content);
});
