// Bundles the browser chat page (src/web) into dist/web: one HTML, the page's JS and CSS, and the browser engine
// (local.js, loaded only to run a model in the browser) with llama.cpp's WebAssembly beside it. No CDN.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
mkdirSync('dist/web/wasm/compat', { recursive: true });
const js = { bundle: true, minify: true, format: 'esm', target: 'es2020', legalComments: 'none', logLevel: 'warning' };
await build({ ...js, entryPoints: ['src/web/main.ts'], outfile: 'dist/web/app.js' });
// wllama's worker code is inlined in its bundle; the wasm files are fetched at run time from wasm/ beside local.js.
await build({ ...js, entryPoints: ['src/web/local/index.ts'], outfile: 'dist/web/local.js', target: 'es2022' });
await build({ ...js, entryPoints: ['src/web/sw.ts'], outfile: 'dist/web/sw.js', format: 'iife' });
await build({ entryPoints: ['src/web/style.css'], bundle: true, minify: true, outfile: 'dist/web/app.css', logLevel: 'warning' });
copyFileSync('src/web/index.html', 'dist/web/index.html');
const wllama = dirname(require.resolve('@wllama/wllama/esm/wasm/wllama.wasm'));
const compat = join(dirname(require.resolve('@wllama/wllama-compat/package.json')), 'wasm');
copyFileSync(join(wllama, 'wllama.wasm'), 'dist/web/wasm/wllama.wasm');
copyFileSync(join(compat, 'wllama.wasm'), 'dist/web/wasm/compat/wllama.wasm');
copyFileSync(join(compat, 'wllama.js'), 'dist/web/wasm/compat/wllama.js');
const kb = (f) => (statSync(`dist/web/${f}`).size / 1024).toFixed(0);
console.error(`web UI: dist/web (app.js ${kb('app.js')} KiB, local.js ${kb('local.js')} KiB, app.css ${kb('app.css')} KiB, wasm ${(statSync('dist/web/wasm/wllama.wasm').size / 2 ** 20).toFixed(1)} MiB)`);
