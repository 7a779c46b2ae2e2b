import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server/start.js';
import { ask, launchBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { testModel } from '../helpers/models.js';
import { routedModel, ROUTES, testServer } from '../helpers/server.js';
import { type StaticServer, staticServer } from '../helpers/staticServer.js';

/**
 * The page's browser engine when the person changes their mind: another model while one answers, 运行位置 back to
 * the server while one downloads, a site re-exported with another model.
 */

const LONG = '春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。'.repeat(16);
const id = (path: string) => path.split('/').pop()!.replace(/\.gguf$/, '');

let dir: string;
let site: StaticServer;
let srv: RunningServer;
let browser: Browser;
let scripted: string;
let long: string;

const menu = (p: Page, open: boolean) => p.evaluate((o) => document.body.classList.toggle('sidebar-open', o), open);

before(async () => {
  scripted = await routedModel();
  long = await testModel({ reply: LONG });
  dir = join(mkdtempSync(join(tmpdir(), 'llama3zh-review19b-')), 'site');
  const r = await runCli(['web', 'export', dir, '--model', long, '--model', scripted, '--ctx-size', '1024']);
  assert.equal(r.code, 0, r.stderr);
  site = await staticServer(dir);
  srv = await testServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await site?.close();
  await srv?.close();
  if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
});

test('the model cannot be changed while it answers; once the answer ends, the other model loads and answers', async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const p = await context.newPage();
  try {
    await p.goto(site.url + '/');
    await p.waitForSelector('#run-status[data-state="idle"]');
    assert.equal(await p.locator('#model').inputValue(), id(long));
    await p.fill('#system', '');
    await p.click('#run-status button.load');
    await p.waitForSelector('#run-status[data-state="ready"]', { timeout: 60_000 });
    await p.fill('#input', 'hi');
    await p.press('#input', 'Enter');
    await p.waitForFunction(() => (document.querySelector('.msg.assistant .body')?.textContent ?? '').length > 5);
    // Mid-answer, the person picks the other model: the menu goes back, the answer goes on to its end.
    await p.selectOption('#model', id(scripted));
    assert.equal(await p.locator('#model').inputValue(), id(long));
    await p.waitForSelector('#send:not([hidden])', { timeout: 60_000 });
    assert.equal((await p.locator('.msg.assistant .body').last().innerText()).trim(), LONG);
    await p.selectOption('#model', id(scripted));
    await p.click('#run-status[data-state="idle"] button.load');
    await p.waitForSelector('#run-status[data-state="ready"]', { timeout: 60_000 });
    await p.click('#reset');
    assert.equal(await ask(p, 'red'), ROUTES.red);
  } finally {
    await context.close();
  }
});

test('运行位置 switched to the server during a download: the server page shows no browser download or "在本浏览器中运行"', async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const p = await context.newPage();
  try {
    await p.route((u) => u.pathname.startsWith('/web/models/') && u.pathname.endsWith('.gguf'), async (route) => {
      await new Promise((r) => setTimeout(r, 3000));
      await route.continue();
    });
    await p.goto(srv.url + '/');
    await p.waitForSelector('#model option', { state: 'attached' });
    await menu(p, true);
    await p.selectOption('#run-on', 'browser');
    await p.waitForSelector('#run-status[data-state="idle"]');
    await p.click('#run-status button.load');
    await p.selectOption('#run-on', 'server');
    await p.waitForTimeout(8000);
    const hidden = await p.locator('#run-status').isHidden();
    const text = hidden ? '' : await p.locator('#run-status').innerText();
    assert.equal(hidden, true, `running on the server, yet the panel says: ${text}`);
  } finally {
    await context.close();
  }
});

test('a site re-exported with another model at the same URL: the next visit offers the new model, not the old one from the worker cache', async () => {
  const d = join(mkdtempSync(join(tmpdir(), 'llama3zh-review19b-sw-')), 'site');
  assert.equal((await runCli(['web', 'export', d, '--model', scripted])).code, 0);
  const s = await staticServer(d);
  const context = await browser.newContext();
  const p = await context.newPage();
  try {
    await p.goto(s.url + '/');
    await p.waitForSelector('#model option', { state: 'attached' });
    await p.evaluate(() => navigator.serviceWorker.ready);
    assert.equal((await runCli(['web', 'export', d, '--model', long, '--force'])).code, 0);
    await p.reload();
    await p.waitForSelector('#model option', { state: 'attached' });
    // Seen: the old models.json from the service worker's cache, whose model folder the re-export removed (Load: HTTP 404).
    assert.equal(await p.locator('#model').inputValue(), id(long));
  } finally {
    await context.close();
    await s.close();
    rmSync(join(d, '..'), { recursive: true, force: true });
  }
});
