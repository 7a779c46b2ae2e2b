import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { ISOLATION, META_CSP } from './headers.js';

/**
 * The exported site's own files: the page bundle from dist/web (this file runs from dist/src/site), made into a
 * site with no server behind it (data-site="static"), an app manifest and icon so it installs, and a service
 * worker that keeps it for offline use.
 */

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

/** Copied as they are: the page's scripts and llama.cpp's WebAssembly (the Safari build too). */
const ASSETS = ['app.js', 'app.css', 'local.js', 'wasm/wllama.wasm', 'wasm/compat/wllama.wasm', 'wasm/compat/wllama.js'];


const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512"><rect width="512" height="512" rx="96" fill="#0e1117"/>` +
  `<path d="M136 136h56v184h96v56H136z" fill="#ff4b4b"/><circle cx="352" cy="184" r="48" fill="#e6edf3"/><circle cx="352" cy="328" r="48" fill="#e6edf3"/></svg>\n`;

const MANIFEST = {
  name: 'llama3-zh', short_name: 'llama3-zh', description: 'Chinese Llama-3 chat that runs on this device, offline',
  start_url: '.', scope: '.', display: 'standalone', background_color: '#0e1117', theme_color: '#0e1117',
  icons: [{ src: 'icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
};

/** Netlify's and Cloudflare Pages' header file: there the site gets threads (COOP/COEP) with no setup. */
const HEADERS = `/*\n  Cross-Origin-Opener-Policy: ${ISOLATION['cross-origin-opener-policy']}\n  Cross-Origin-Embedder-Policy: ${ISOLATION['cross-origin-embedder-policy']}\n`;

function source(name: string): string {
  return join(WEB, name);
}

/** The built page, or a UserError before anything is written. */
export function builtPage(): string {
  for (const f of ['index.html', 'sw.js', ...ASSETS]) {
    if (!existsSync(source(f))) throw new UserError(`the web page is not built (${source(f)} is missing); run npm run build first`);
  }
  return readFileSync(source('index.html'), 'utf8');
}

/** Write the page, its assets and the offline files into `dir`; `modelsJson` is models.json's text. */
export function writeSiteFiles(dir: string, modelsJson: string) {
  let html = builtPage();
  for (const a of ASSETS) {
    mkdirSync(dirname(join(dir, 'assets', a)), { recursive: true });
    copyFileSync(source(a), join(dir, 'assets', a));
  }
  html = html
    .replace('<html lang="zh-CN" data-theme="dark">', '<html lang="zh-CN" data-theme="dark" data-site="static">')
    .replace('<meta charset="utf-8">', `<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="${META_CSP}">\n` +
      '<link rel="manifest" href="manifest.webmanifest">\n<link rel="icon" href="icon.svg">\n<meta name="theme-color" content="#0e1117">');
  writeFileSync(join(dir, 'index.html'), html);
  writeFileSync(join(dir, 'models.json'), modelsJson);
  writeFileSync(join(dir, 'manifest.webmanifest'), JSON.stringify(MANIFEST, null, 2) + '\n');
  writeFileSync(join(dir, 'icon.svg'), ICON);
  writeFileSync(join(dir, '_headers'), HEADERS);
  // The worker's cache is named by the site's content: a new export replaces the old copy in visitors' browsers.
  const version = createHash('sha256').update(html).update(modelsJson).update(readFileSync(source('app.js')))
    .update(readFileSync(source('local.js'))).digest('hex').slice(0, 16);
  writeFileSync(join(dir, 'sw.js'), readFileSync(source('sw.js'), 'utf8').replace('__SITE_VERSION__', version));
}
