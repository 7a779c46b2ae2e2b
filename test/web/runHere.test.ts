import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server/start.js';
import { ask, launchBrowser } from '../helpers/browser.js';
import { ROUTES, testServer } from '../helpers/server.js';

/** serve's page with "run in this browser": the same exact replies from llama.cpp in the page, the GGUF fetched from the server. */

let srv: RunningServer;
let browser: Browser;
let page: Page;
const asked: string[] = [];

before(async () => {
  srv = await testServer({ parallel: 2 });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  page.on('dialog', (d) => { throw new Error(`unexpected dialog: ${d.message()}`); });
  page.on('request', (r) => asked.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await page.goto(srv.url + '/');
  await page.waitForSelector('#model option', { state: 'attached' });
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

const menu = (open: boolean) => page.evaluate((o) => document.body.classList.toggle('sidebar-open', o), open);

test('"run in this browser" answers exactly as the server does, with threads, and asks the server only for the model', async () => {
  await menu(true);
  await page.fill('#system', '');
  await menu(false);
  assert.equal(await ask(page, 'red'), ROUTES.red);
  assert.ok(asked.includes('POST /v1/chat/completions'));
  await menu(true);
  await page.selectOption('#run-on', 'browser');
  await menu(false);
  await page.waitForSelector('#run-status[data-state="idle"]');
  assert.match(await page.locator('#run-status').innerText(), /^scripted · [\d.]+ MB · 还没加载到本浏览器\n加载模型$/);
  await page.click('#run-status button.load');
  await page.waitForSelector('#run-status[data-state="ready"], #run-status[data-state="error"]', { timeout: 60_000 });
  // serve sends COOP/COEP: the page is cross-origin isolated, so llama.cpp runs one thread per core here.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  assert.match(await page.locator('#run-status').innerText(), new RegExp(`^scripted 在本浏览器中运行 · ${cores > 1 ? '\\d+ 线程' : '单线程（本设备只有一个核心）'} · 已下载并缓存`));
  const from = asked.length;
  await page.click('#reset');
  assert.equal(await ask(page, 'red'), ROUTES.red);
  await page.click('#reset');
  assert.equal(await ask(page, '鱼'), ROUTES['鱼']);
  const since = asked.slice(from).filter((r) => !r.includes('/assets/') && !r.includes('__test-fonts'));
  assert.deepEqual(since, [], 'answered in the browser: no API call');
  assert.ok(asked.some((r) => /^GET \/web\/models\/scripted-.*\.gguf$/.test(r)), 'the GGUF came from the server');
});

test('the choice is kept: a reload runs in the browser again, from the cache, and the switch back goes to the server', async () => {
  await page.reload();
  await page.waitForSelector('#run-status[data-state="ready"]', { timeout: 60_000 });
  assert.match(await page.locator('#run-status').innerText(), /· 从本浏览器的缓存载入/);
  assert.equal(await page.locator('#run-on').inputValue(), 'browser');
  await menu(true);
  await page.selectOption('#run-on', 'server');
  await menu(false);
  assert.ok(await page.locator('#run-status').isHidden());
  const from = asked.length;
  await page.click('#reset');
  assert.equal(await ask(page, 'blue'), ROUTES.blue);
  assert.ok(asked.slice(from).includes('POST /v1/chat/completions'));
});

test('tools are not sent to the browser engine, and the page says so; the server still gets them', async () => {
  await menu(true);
  await page.fill('#tools', JSON.stringify([{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }]));
  await page.selectOption('#run-on', 'browser');
  await menu(false);
  await page.waitForSelector('#run-status[data-state="ready"]', { timeout: 60_000 });
  await page.click('#reset');
  assert.equal(await ask(page, 'red'), ROUTES.red);
  assert.equal(await page.locator('#notice').innerText(), '在本浏览器中运行时还不能用工具：这次提问没有带上工具（用服务器运行才有工具调用）。');
  await menu(true);
  await page.fill('#tools', '');
  await page.selectOption('#run-on', 'server');
  await menu(false);
});
