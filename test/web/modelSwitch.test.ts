import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page, Request } from 'playwright-core';
import { ask, launchBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { testModel } from '../helpers/models.js';
import { routedModel, ROUTES } from '../helpers/server.js';
import { type StaticServer, staticServer } from '../helpers/staticServer.js';

/**
 * Review of issue 19 (hostile): the page's browser engine when the person changes their mind — another model
 * chosen while one downloads, or while one answers. Expected: one model in memory, the one chosen, and a page
 * that goes on answering.
 */

const LONG = '春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。'.repeat(16);
const id = (path: string) => path.split('/').pop()!.replace(/\.gguf$/, '');

let dir: string;
let site: StaticServer;
let browser: Browser;
let scripted: string;
let long: string;

/** Count the page's Web Workers that were made and not terminated (wllama runs each loaded model in one). */
const COUNT_WORKERS = () => {
  const W = window.Worker;
  const w = { made: 0, ended: 0 };
  (window as unknown as { __w: typeof w }).__w = w;
  window.Worker = class extends W {
    constructor(...a: ConstructorParameters<typeof Worker>) { super(...a); w.made++; }
    override terminate() { w.ended++; super.terminate(); }
  } as typeof Worker;
};
const liveWorkers = (p: Page) => p.evaluate(() => { const w = (window as unknown as { __w: { made: number; ended: number } }).__w; return w.made - w.ended; });

async function menu(p: Page, open: boolean) {
  await p.evaluate((o) => document.body.classList.toggle('sidebar-open', o), open);
}

/** Wait until `done()` has held, with the page's worker count unchanged, for `ms` (at most a minute). */
async function quiet(p: Page, done: () => boolean, ms: number) {
  const end = Date.now() + 60_000;
  let since = Date.now();
  let last = await liveWorkers(p);
  while (Date.now() < end) {
    await p.waitForTimeout(250);
    const now = await liveWorkers(p);
    if (!done() || now !== last) { since = Date.now(); last = now; } else if (Date.now() - since >= ms) return;
  }
  throw new Error('the page did not settle within a minute');
}

async function settled(p: Page): Promise<string> {
  await p.waitForSelector('#run-status[data-state="ready"], #run-status[data-state="error"]', { timeout: 60_000 });
  return p.locator('#run-status').innerText();
}

before(async () => {
  scripted = await routedModel();
  long = await testModel({ reply: LONG });
  dir = join(mkdtempSync(join(tmpdir(), 'llama3zh-review19-')), 'site');
  const r = await runCli(['web', 'export', dir, '--model', long, '--model', scripted, '--ctx-size', '1024', '--part-size', '20']);
  assert.equal(r.code, 0, r.stderr);
  site = await staticServer(dir);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await site?.close();
  if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
});

test('another model chosen while the first downloads: the chosen one is loaded, and only one engine is left', async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.addInitScript(COUNT_WORKERS);
  const p = await context.newPage();
  try {
    // The first model's parts come slowly (a big model on a phone's network), the second's at once.
    const slowParts = { open: 0 };
    const isSlow = (u: string) => u.includes(`/${id(long)}-`) && u.endsWith('.gguf');
    p.on('request', (r) => { if (isSlow(r.url())) slowParts.open++; });
    const ended = (r: Request) => { if (isSlow(r.url())) slowParts.open--; };
    p.on('requestfinished', ended);
    p.on('requestfailed', ended);
    await p.route((u) => isSlow(u.href), async (route) => {
      await new Promise((r) => setTimeout(r, 4000));
      await route.continue().catch(() => {});
    });
    await p.goto(site.url + '/');
    await p.waitForSelector('#run-status[data-state="idle"]');
    assert.equal(await p.locator('#model').inputValue(), id(long));
    await p.click('#run-status button.load');
    await p.waitForSelector('#run-status[data-state="download"]');
    // The person changes their mind: the small model instead.
    await p.selectOption('#model', id(scripted));
    await p.waitForTimeout(500);
    const shown = await p.locator('#run-status').getAttribute('data-state');
    await p.selectOption('#model', id(long));
    await p.selectOption('#model', id(scripted));
    await p.evaluate((want) => new Promise<void>((ok) => {
      // The panel is redrawn a moment after the choice: press the Load button of the model now chosen.
      const tick = () => {
        const panel = document.querySelector<HTMLElement>('#run-status[data-state="idle"]');
        const b = panel?.textContent?.includes(want) ? panel.querySelector<HTMLButtonElement>('button.load') : null;
        if (b) { b.click(); ok(); } else setTimeout(tick, 5);
      };
      tick();
    }), id(scripted));
    await settled(p);
    // Let the first model's slow download end (each of its part requests answered or given up), and a load it
    // might still start have time to make its engine.
    await quiet(p, () => slowParts.open === 0, 3000);
    const live = await liveWorkers(p);
    assert.equal(await p.locator('#model').inputValue(), id(scripted));
    assert.match(await p.locator('#run-status').innerText(), new RegExp(`^${id(scripted)} 在本浏览器中运行`),
      'the panel still says the chosen model is the one running');
    assert.equal(shown, 'idle', 'half a second after choosing the second model, the panel still offers to load it');
    assert.equal(live, 1, 'one model in memory: the one given up on is not left loaded beside it');
    await p.fill('#system', '');
    assert.equal(await ask(p, 'red'), ROUTES.red);
  } finally {
    await context.close();
  }
});

test('a Load button left on screen after another model was chosen loads nothing', async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.addInitScript(COUNT_WORKERS);
  const p = await context.newPage();
  const parts: string[] = [];
  p.on('request', (r) => { if (r.url().endsWith('.gguf')) parts.push(r.url()); });
  try {
    await p.goto(site.url + '/');
    await p.waitForSelector(`#run-status[data-state="idle"]`);
    assert.equal(await p.locator('#model').inputValue(), id(long));
    // The person picks the other model and, before the panel is redrawn, presses the first model's Load button.
    await p.evaluate((other) => {
      const stale = document.querySelector<HTMLButtonElement>('#run-status button.load')!;
      const sel = document.querySelector<HTMLSelectElement>('#model')!;
      sel.value = other;
      sel.dispatchEvent(new Event('change'));
      stale.click();
    }, id(scripted));
    await p.waitForFunction((other) => document.querySelector('#run-status[data-state="idle"]')?.textContent?.includes(other), id(scripted));
    await p.waitForTimeout(1500);
    assert.deepEqual(parts, [], 'no part of either model was asked for');
    assert.equal(await liveWorkers(p), 0, 'no engine was started');
    assert.equal(await p.locator('#run-status').getAttribute('data-state'), 'idle');
  } finally {
    await context.close();
  }
});
