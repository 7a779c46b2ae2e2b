import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * A headless Chromium for the page's tests: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium` where it is installed,
 * else the one `@sparticuz/chromium` ships inside its npm package (unpacked to the temp folder on first use; nothing
 * is downloaded), so a machine with only Node.js and npm runs the suite.
 */

const DEBIAN = '/usr/bin/chromium';
const require = createRequire(import.meta.url);

/** Flags a sandboxed CI machine needs: no sandbox (root), no GPU, and no network of the browser's own. */
const QUIET = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

async function pick(): Promise<{ executablePath: string; bundled: boolean; env?: Record<string, string> }> {
  const given = process.env.CHROMIUM_PATH ?? (existsSync(DEBIAN) ? DEBIAN : undefined);
  if (given) return { executablePath: given, bundled: false };
  const { default: packaged } = await import('@sparticuz/chromium');
  const executablePath = await packaged.executablePath();
  // Its fonts are unpacked beside it (tmpdir/fonts, with a fonts.conf); fontconfig finds them only when told.
  const fonts = join(dirname(executablePath), 'fonts');
  return { executablePath, bundled: true, env: { ...process.env as Record<string, string>, FONTCONFIG_PATH: process.env.FONTCONFIG_PATH ?? fonts } };
}

export async function launchBrowser(): Promise<Browser> {
  const p = await pick();
  const browser = await chromium.launch({ executablePath: p.executablePath, env: p.env, args: QUIET });
  if (p.bundled) {
    // Every context the tests open gets the CJK web font, so Chinese in screenshots is text, not boxes.
    const newContext = browser.newContext.bind(browser);
    browser.newContext = async (o) => withCjkFont(await newContext(o));
    browser.newPage = async (o) => (await browser.newContext(o)).newPage();
  }
  return browser;
}

/** Web fonts from npm, each under a family name the page's font stack already lists (see src/web/style.css). */
const FONTS = [
  { css: '@fontsource-variable/noto-sans-sc/index.css', family: 'Noto Sans SC Variable', as: 'PingFang SC' },
  // The page's icon buttons (✎ ✕ ◐ ☰) are in none of the bundled fonts either.
  { css: '@fontsource/noto-sans-symbols-2/index.css', family: 'Noto Sans Symbols 2', as: 'Microsoft YaHei' },
].map((f, i) => ({ ...f, dir: dirname(require.resolve(f.css)), prefix: `/__test-fonts/${i}/` }));

/**
 * The bundled Chromium has no Chinese font. Rather than change the page, the test context appends Noto Sans SC
 * (npm packages of woff2 subsets) to the page's own stylesheets under names the page's font stack already lists,
 * and serves the font files from node_modules: the page is tested as shipped.
 */
async function withCjkFont(context: BrowserContext): Promise<BrowserContext> {
  const css = FONTS.map((f) => readFileSync(require.resolve(f.css), 'utf8')
    .replaceAll(`'${f.family}'`, `"${f.as}"`)
    .replaceAll('url(./files/', `url(${f.prefix}`)).join('\n');
  await context.route((u) => u.pathname.startsWith('/__test-fonts/'), (route) => {
    const m = /^\/__test-fonts\/(\d+)\/([\w.-]+\.woff2)$/.exec(new URL(route.request().url()).pathname);
    const font = m ? FONTS[Number(m[1])] : undefined;
    if (!m || !font) return route.fulfill({ status: 404 });
    return route.fulfill({ status: 200, contentType: 'font/woff2', body: readFileSync(join(font.dir, 'files', m[2])) });
  });
  await context.route((u) => u.pathname.endsWith('.css'), async (route) => {
    const res = await route.fetch();
    return route.fulfill({ response: res, body: (await res.text()) + '\n' + css });
  });
  return context;
}

/** Type a question, press Enter, wait for the answer to end; the last answer's text. */
export async function ask(page: Page, question: string): Promise<string> {
  await page.fill('#input', question);
  await page.press('#input', 'Enter');
  await page.waitForSelector('#send:not([hidden])');
  return (await page.locator('.msg.assistant .body').last().innerText()).trim();
}
