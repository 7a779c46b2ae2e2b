// Bundles the browser chat page (src/web) into dist/web: one HTML, one JS and one CSS file, no CDN.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';

mkdirSync('dist/web', { recursive: true });
await build({
  entryPoints: ['src/web/main.ts'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  outfile: 'dist/web/app.js',
  legalComments: 'none',
  logLevel: 'warning',
});
await build({ entryPoints: ['src/web/style.css'], bundle: true, minify: true, outfile: 'dist/web/app.css', logLevel: 'warning' });
copyFileSync('src/web/index.html', 'dist/web/index.html');
const kb = (f) => (statSync(`dist/web/${f}`).size / 1024).toFixed(0);
console.error(`web UI: dist/web (app.js ${kb('app.js')} KiB, app.css ${kb('app.css')} KiB)`);
