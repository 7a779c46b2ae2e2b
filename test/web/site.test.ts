import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ask, launchBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { REPLY, testModel } from '../helpers/models.js';
import { encode } from '../../src/gguf/llama3Vocab.js';
import { routedModel, ROUTES } from '../helpers/server.js';
import { type StaticServer, staticServer } from '../helpers/staticServer.js';
import type { SiteManifest } from '../../src/web/siteModels.js';

/**
 * The exported site (web export) in real headless Chromium on a phone's viewport, served by a plain static file
 * server with no llama3-zh process behind it: llama.cpp runs in the page as WebAssembly (@wllama/wllama).
 */

const PHONE = {
  viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Mobile Safari/537.36',
};

let dir: string;
let site: StaticServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let scripted: string;
let long: string;
/** A reply long enough to press Stop in (a few hundred tokens). */
const LONG = '春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。'.repeat(16);

const id = (path: string) => path.split('/').pop()!.replace(/\.gguf$/, '');
const ggufGets = () => site.requests.filter((r) => r.method === 'GET' && r.path.endsWith('.gguf')).length;
const manifest = () => JSON.parse(readFileSync(join(dir, 'models.json'), 'utf8')) as SiteManifest;

async function openMenu(p: Page, open: boolean) {
  await p.evaluate((o) => document.body.classList.toggle('sidebar-open', o), open);
}

/** The model's state line once it has settled (ready, or what went wrong). */
async function readyText(p: Page): Promise<string> {
  await p.waitForSelector('#run-status[data-state="ready"], #run-status[data-state="error"]', { timeout: 60_000 });
  return p.locator('#run-status').innerText();
}

before(async () => {
  scripted = await routedModel();
  long = await testModel({ reply: LONG });
  dir = join(mkdtempSync(join(tmpdir(), 'llama3zh-site-')), 'site');
  const r = await runCli(['web', 'export', dir, '--model', scripted, '--model', long, '--ctx-size', '1024', '--part-size', '20']);
  assert.equal(r.code, 0, r.stderr);
  site = await staticServer(dir);
  browser = await launchBrowser();
  context = await browser.newContext(PHONE);
  page = await context.newPage();
  page.on('dialog', (d) => { throw new Error(`unexpected dialog: ${d.message()}`); });
});
after(async () => {
  await browser?.close();
  await site?.close();
  if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
});

test('the exported site answers the scripted question exactly, in the browser, asking no server anything', async () => {
  await page.goto(site.url + '/');
  await page.waitForSelector('#model option', { state: 'attached' });
  assert.deepEqual(await page.locator('#model option').allInnerTexts(), [id(scripted), id(long)]);
  // Nothing is downloaded before the person asks: the page says the size and offers to load.
  // Split for the browser: parts of at most 20 MiB (llama.cpp's split GGUF), which the engine fetches and joins.
  const m = manifest().models[0];
  const n = m.files.length;
  assert.ok(n >= 2, `split into ${n} parts`);
  assert.deepEqual(m.files.map((f) => f.split('/').pop()), m.files.map((_, k) => `${id(scripted)}-0000${k + 1}-of-0000${n}.gguf`));
  assert.equal(await page.locator('#run-status').innerText(), `${id(scripted)} · ${(m.bytes / 1e6).toFixed(1)} MB · 还没加载到本浏览器\n加载模型`);
  assert.equal(ggufGets(), 0);
  assert.ok(await page.locator('#run-on-row').isHidden(), 'an exported site has no server to switch to');
  // A system prompt without the scripted model's route words, so the question alone picks the reply.
  await openMenu(page, true);
  await page.fill('#system', '');
  await openMenu(page, false);
  assert.equal(await ask(page, 'red'), ROUTES.red);
  assert.match(await readyText(page), new RegExp(`^${id(scripted)} 在本浏览器中运行 · 单线程（服务器没有发送 COOP/COEP 响应头，多线程不可用） · 已下载并缓存，下次离线也能用（[\\d.]+ 秒）$`));
  assert.match(await page.locator('.msg.assistant .stats').last().innerText(), /^\d+ tokens · [\d.]+ tokens\/s$/);
  // Every request was for a file of the site: no API, no CDN (the browser reaches nothing else here anyway).
  for (const r of site.requests) assert.ok(existsSync(join(dir, r.path === '/' ? 'index.html' : r.path)), `${r.method} ${r.path} is not a file of the site`);
  assert.equal(ggufGets(), m.files.length, 'each part once');
});

test('the site installs as an app; a reload loads the model from the browser\'s storage; offline it opens and answers', async () => {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  // Chromium's own check of what an installable web app needs (manifest, icon, a worker that answers offline…).
  const cdp = await context.newCDPSession(page);
  assert.deepEqual(await cdp.send('Page.getInstallabilityErrors'), { installabilityErrors: [] });
  assert.deepEqual((await cdp.send('Page.getAppManifest')).errors, []);
  await page.reload();
  assert.match(await readyText(page), /· 从本浏览器的缓存载入（[\d.]+ 秒）$/);
  // Each question on its own, so the one route word in the prompt picks the reply.
  await page.click('#reset');
  assert.equal(await ask(page, 'blue'), ROUTES.blue);
  assert.equal(ggufGets(), manifest().models[0].files.length, 'the cached model was not downloaded again');
  await context.setOffline(true);
  try {
    await page.reload();
    assert.match(await readyText(page), /· 从本浏览器的缓存载入/);
    await page.click('#reset');
    assert.equal(await ask(page, 'green'), ROUTES.green);
  } finally {
    await context.setOffline(false);
  }
});

test('Stop ends an answer in the browser; the words so far stay and the next question is answered', async () => {
  await openMenu(page, true);
  await page.selectOption('#model', id(long));
  await openMenu(page, false);
  await page.click('#run-status button.load');
  assert.match(await readyText(page), new RegExp(`^${id(long)} 在本浏览器中运行`));
  await page.click('#reset');
  await page.fill('#input', '你好');
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => (document.querySelector('.msg.assistant:last-child .body')?.textContent ?? '').length > 2);
  await page.click('#stop');
  await page.waitForSelector('#send:not([hidden])');
  const kept = (await page.locator('.msg.assistant .body').last().innerText()).trim();
  await page.waitForTimeout(500);
  assert.equal((await page.locator('.msg.assistant .body').last().innerText()).trim(), kept, 'nothing more came after Stop');
  assert.ok(kept.length > 0 && kept.length < LONG.length && LONG.startsWith(kept), `a beginning of the reply was kept: ${kept.length} of ${LONG.length} characters`);
  await openMenu(page, true);
  await page.selectOption('#model', id(scripted));
  await openMenu(page, false);
  await page.click('#reset');
  assert.equal(await ask(page, '猫'), ROUTES['猫']);
});

test('a model larger than the memory the phone declares gets a clear message before any download, and loads only if insisted', async () => {
  const small = await browser.newContext(PHONE);
  // A phone that declares 0.5 GB: a tab gets about half of it (268.4 MB), less than the scripted model needs.
  await small.addInitScript(() => Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 0.5 }));
  const p = await small.newPage();
  try {
    const before = ggufGets();
    await p.goto(site.url + '/');
    await p.waitForSelector('#model option', { state: 'attached' });
    const need = await p.evaluate(async () => (await (await fetch('models.json')).json()).models[0].need as number);
    assert.ok(need > 0.25 * 2 ** 30, `the test needs a model over 268 MB: ${need}`);
    await openMenu(p, true);
    await p.fill('#system', '');
    await openMenu(p, false);
    await p.fill('#input', 'red');
    await p.press('#input', 'Enter');
    await p.waitForSelector('#run-status[data-state="memory"]');
    await p.waitForSelector('#send:not([hidden])');
    assert.equal(await p.locator('#run-status').innerText(),
      `${id(scripted)} 需要约 ${(need / 1e6).toFixed(1)} MB 内存，本设备声明有 0.5 GB 内存，手机浏览器的一个网页大约只能用 268.4 MB：这台手机装不下这个模型。请换 1B–3B 的 Q4_K_M 模型，或用服务器运行。\n仍然加载`);
    assert.equal(await p.locator('#notice').isHidden(), true, 'one message, not two');
    assert.equal(ggufGets(), before, 'nothing was downloaded');
    // The question stays; once the model is loaded anyway, it is answered.
    await p.click('#run-status button.load-anyway');
    assert.match(await readyText(p), new RegExp(`^${id(scripted)} 在本浏览器中运行`));
    await p.click('.msg.user .regenerate');
    await p.waitForSelector('.msg.assistant');
    await p.waitForSelector('#send:not([hidden])');
    assert.equal((await p.locator('.msg.assistant .body').last().innerText()).trim(), ROUTES.red);
  } finally {
    await small.close();
  }
});

test('a chat longer than the browser\'s context: the oldest rounds are left out and the page says so', async () => {
  // A site whose context is llama.cpp's smallest (256 tokens). The prompts, by the Llama-3 template: a question of n
  // tokens is 5 + n, an answer (12 tokens) 17, plus BOS and the assistant header (5). With n = 103 the second
  // question's prompt is 2n + 32 = 238 (its answer fits), the third's (one token) 2n + 55 = 261: it does not fit.
  const small = join(dir, '..', 'small');
  const r = await runCli(['web', 'export', small, '--model', scripted, '--ctx-size', '256']);
  assert.equal(r.code, 0, r.stderr);
  let long = '';
  for (let k = 1; encode(long).length < 103; k++) long = 'a'.repeat(0) + Array.from({ length: k }, () => 'go').join(' ');
  assert.equal(encode(long).length, 103);
  assert.equal(encode('red').length, 1);
  const srv = await staticServer(small);
  const ctx = await browser.newContext(PHONE);
  const p = await ctx.newPage();
  try {
    await p.goto(srv.url + '/');
    await p.waitForSelector('#model option', { state: 'attached' });
    await openMenu(p, true);
    await p.fill('#system', '');
    await openMenu(p, false);
    assert.equal(await ask(p, long), REPLY);
    assert.equal(await ask(p, long), REPLY);
    assert.ok(await p.locator('#notice').isHidden());
    assert.equal(await ask(p, 'red'), ROUTES.red);
    assert.equal(await p.locator('#notice').innerText(), '对话太长，已省略最早的 1 轮（系统提示词保留）。');
  } finally {
    await ctx.close();
    await srv.close();
  }
});
