import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { ROOT } from '../helpers/models.js';
import type { RunningServer } from '../../src/server/start.js';
import { testServer } from '../helpers/server.js';
import { appendLog, lfLine, writeRunFolder } from '../helpers/trainLog.js';

/** The page's training view (`serve --train-dir`) in a real headless Chromium, while the test writes the run's log. */

const root = mkdtempSync(join(tmpdir(), 'llama3-zh-train-page-'));
const dir = join(root, 'dpo-zh-run');
const SHOTS = join(ROOT, '.cache', 'screenshots');
let srv: RunningServer;
let browser: Browser;
let page: Page;
let log: string;

before(async () => {
  ({ log } = writeRunFolder(dir));
  appendLog(log, lfLine(10, 40, { loss: 0.6931, accuracy: 0.5, lr: 5e-6, epoch: 0.25 }) + lfLine(20, 40, { loss: 0.52, accuracy: 0.75, lr: 4.5e-6, epoch: 0.5 }));
  srv = await testServer({ parallel: 2, trainDirs: [dir, join(root, 'not-yet')] });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('dialog', (d) => { throw new Error(`unexpected dialog: ${d.message()}`); });
});
after(async () => {
  await browser?.close();
  await srv?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Points of a chart path ("M… L… L…"). */
const points = (sel: string) => page.evaluate((s) => (document.querySelector(s)?.getAttribute('d') ?? '').split(/[ML]/).filter((x) => x.trim()).length, sel);
const stat = (cls: string) => page.innerText(`#train-stats dd.${cls}`);

test('/#train opens the training view: the run, its status, steps, loss, accuracy, lr and the loss curve', async () => {
  await page.goto(srv.url + '/#train');
  await page.waitForSelector('#train-chart path.loss');
  assert.ok(await page.isVisible('#train'));
  assert.ok(await page.isHidden('#messages'), 'the chat is out of the way');
  assert.equal(await page.innerText('#train-tab'), '聊天');
  assert.equal(await page.innerText('#train-name'), 'dpo-zh-run');
  assert.equal(await page.innerText('#train-status'), '训练中');
  assert.equal(await page.innerText('#train-meta'), 'dpo-zh · shenzhi-wang/Llama3-8B-Chinese-Chat · dpo');
  assert.equal(await stat('steps'), '20 / 40 (50%)');
  assert.equal(await stat('loss'), '0.52');
  assert.equal(await stat('accuracy'), '75%');
  assert.equal(await stat('lr'), '4.5e-06');
  assert.equal(await stat('epoch'), '0.50');
  assert.equal(await stat('eta'), '0:00:40');
  assert.equal(await points('#train-chart path.loss'), 2);
  assert.equal(await points('#train-chart path.smoothed'), 2);
  assert.deepEqual(await page.$$eval('#train-run option', (os) => os.map((o) => (o as HTMLOptionElement).value)), ['dpo-zh-run', 'not-yet']);
  assert.equal(await page.locator('#train-chart text', { hasText: '步数 step' }).count(), 1, 'the chart speaks the page\'s language');
});

test('the curve gets new points as the log grows, eval_loss shows, and a finished run says so', async () => {
  appendLog(log, lfLine(30, 40, { loss: 0.41, accuracy: 0.875, lr: 2e-6, epoch: 0.75 }) + lfLine(30, 40, { eval_loss: 0.45, epoch: 0.75 }));
  await page.waitForFunction(() => (document.querySelector('#train-chart path.loss')?.getAttribute('d') ?? '').split('L').length === 3, undefined, { timeout: 20_000 });
  assert.equal(await stat('steps'), '30 / 40 (75%)');
  assert.equal(await stat('accuracy'), '87.5%');
  assert.equal(await stat('eval-loss'), '0.45');
  assert.equal(await page.locator('#train-chart circle').count(), 1, 'one eval point');
  // A torn line is not drawn until it is whole.
  const next = lfLine(40, 40, { loss: 0.38, accuracy: 0.9, lr: 0, epoch: 1 });
  appendLog(log, next.slice(0, 25));
  appendLog(log, next.slice(25));
  await page.waitForFunction(() => (document.querySelector('#train-chart path.loss')?.getAttribute('d') ?? '').split('L').length === 4, undefined, { timeout: 20_000 });
  mkdirSync(join(dir, 'output'), { recursive: true });
  appendLog(join(dir, 'output', 'train_results.json'), '{"epoch": 1.0}');
  await page.waitForFunction(() => document.getElementById('train-status')?.textContent === '已完成', undefined, { timeout: 20_000 });
  assert.equal(await page.locator('#train-stats dd.eta').count(), 0, 'no time left on a finished run');
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'train-view.png'), fullPage: true });
});

test('a replaced log starts the curve over; English labels; the other run waits; the tab goes back to the chat', async () => {
  rmSync(log);
  appendLog(log, lfLine(5, 100, { loss: 2.5, lr: 1e-4, epoch: 0.05 }));
  await page.waitForFunction(() => (document.querySelector('#train-chart path.loss')?.getAttribute('d') ?? '').split('L').length === 1, undefined, { timeout: 20_000 });
  assert.equal(await stat('steps'), '5 / 100 (5%)');
  await page.click('#toggle-lang');
  assert.equal(await page.innerText('#train-status'), 'Running');
  assert.equal(await page.locator('#train-chart text', { hasText: 'smoothed' }).count(), 1);
  await page.selectOption('#train-run', 'not-yet');
  await page.waitForFunction(() => document.getElementById('train-name')?.textContent === 'not-yet');
  assert.equal(await page.innerText('#train-status'), 'Waiting');
  assert.equal(await page.innerText('#train-meta'), 'the run folder does not exist yet');
  assert.equal(await page.locator('#train-chart text', { hasText: 'no loss logged yet' }).count(), 1);
  await page.click('#train-tab');
  await page.waitForSelector('#messages', { state: 'visible' });
  assert.ok(await page.isHidden('#train'));
  assert.equal(await page.innerText('#train-tab'), 'Training');
  await page.click('#toggle-lang');
});

test('a server without --train-dir shows no training tab', async () => {
  const plain = await testServer({ parallel: 1 });
  try {
    const p = await browser.newPage();
    await p.goto(plain.url + '/#train');
    await p.waitForSelector('#model option', { state: 'attached' });
    await p.waitForLoadState('networkidle');
    assert.ok(await p.isHidden('#train-tab'));
    assert.ok(await p.isHidden('#train'));
    assert.ok(await p.isVisible('#messages'));
    await p.close();
  } finally {
    await plain.close();
  }
});

test('names, recipes and models from the files are text, never markup; a loss that went NaN shows NaN and the view goes on', async () => {
  const evil = join(root, '<img src=x onerror="window.__xss=1">');
  const { log: evilLog } = writeRunFolder(evil, { recipe: '<script>window.__xss=2</script>', stage: 'sft' });
  appendLog(evilLog, lfLine(10, 40, { loss: 1.5, lr: 1e-4, epoch: 0.25 })
    + '{"current_steps": 20, "total_steps": 40, "loss": NaN, "lr": 9e-05, "epoch": 0.5, "percentage": 50.0, "elapsed_time": "0:00:20", "remaining_time": "0:00:20"}\n');
  const other = await testServer({ parallel: 1, trainDirs: [evil] });
  try {
    const p = await browser.newPage();
    await p.goto(other.url + '/#train');
    await p.waitForFunction(() => document.querySelector('#train-stats dd.steps')?.textContent === '20 / 40 (50%)', undefined, { timeout: 20_000 });
    assert.equal(await p.innerText('#train-name'), '<img src=x onerror="window.__xss=1">');
    assert.match(await p.innerText('#train-meta'), /^<script>window\.__xss=2<\/script> · /);
    assert.equal(await p.innerText('#train-stats dd.loss'), 'NaN');
    assert.equal(await p.innerText('#train-stats dd.lr'), '9.0e-05');
    assert.equal(await p.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    assert.equal(await p.locator('img, #train-chart script').count(), 0);
    assert.equal(await p.locator('#train-stats dd.eta').count(), 1);
    // The trainer was killed 3 hours ago without a word: the page says the log went quiet, not a time left.
    const ago = new Date(Date.now() - 3 * 3600_000);
    utimesSync(evilLog, ago, ago);
    await p.waitForFunction(() => document.getElementById('train-meta')?.textContent?.endsWith('已 3h 00m 没有新的日志行：训练进程还在运行吗？'), undefined, { timeout: 20_000 });
    assert.equal(await p.locator('#train-stats dd.eta').count(), 0);
    await p.close();
  } finally {
    await other.close();
  }
});
