import { PHONE_MEMORY } from '../../estimate/browserLimits.js';
import { UserError } from '../../errors.js';
import { resolveLocal } from '../../hub/resolve.js';
import { exportSite } from '../../site/export.js';
import { WLLAMA_VERSION } from '../../site/models.js';
import { serveSite } from '../../site/serve.js';
import { humanBytes } from '../../util/human.js';
import { num, parseFlags } from '../flags.js';
import { progressBar } from '../progress.js';

const HELP = `llama3-zh web — the model in the browser: phones and laptops, no server

  llama3-zh web export DIR --model MODEL [--model MODEL …] [--ctx-size N] [--part-size MB] [--force]
      Write a static site into DIR: the chat page, llama.cpp as WebAssembly (@wllama/wllama ${WLLAMA_VERSION}),
      the models (split into parts of at most --part-size MB, for browsers' 2 GB limit on one buffer),
      models.json, an app manifest and a service worker: the site installs as an app and works offline
      after the first visit. Any static file server hosts it; threads only where it sends
        Cross-Origin-Opener-Policy: same-origin  and  Cross-Origin-Embedder-Policy: require-corp
      (DIR/_headers says so to Netlify and Cloudflare Pages), else one thread. The page says which.
      --model MODEL    a .gguf file or a model in the store (repeat for several; the page has a menu)
      --ctx-size N     tokens of context in the browser (default: the model's, at most 4096)
      --part-size MB   largest part (default 512, at most 2000)
      --force          replace DIR when it is not empty (only once the new site is whole)

  llama3-zh web serve DIR [--port 8080] [--host 127.0.0.1]
      Serve an exported site with the COOP/COEP headers (threads on). Any static server works too:
      python3 -m http.server -d DIR 8080 (one thread).`;

export async function webCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h') { console.log(HELP); return; }
  if (sub === 'export') return exportCommand(rest);
  if (sub === 'serve') return serveCommand(rest);
  throw new UserError(`unknown subcommand "web ${sub}"; use web export or web serve (llama3-zh web --help)`, 2);
}

async function exportCommand(args: string[]) {
  const { values, positionals } = parseFlags('web', args, {
    model: { type: 'string', short: 'm', multiple: true },
    'ctx-size': { type: 'string', short: 'c' },
    'part-size': { type: 'string' },
    force: { type: 'boolean' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 1) throw new UserError('usage: llama3-zh web export DIR --model MODEL [--model MODEL …]', 2);
  if (!values.model?.length) throw new UserError('give the model to put on the site: --model FILE.gguf (or a model in the store)', 2);
  // llama.cpp pads a context to a multiple of 256 tokens: less would be 256 anyway.
  const ctx = num('--ctx-size', values['ctx-size'], { int: true, min: 256, max: 131072 });
  const partMb = num('--part-size', values['part-size'], { min: 16, max: 2000 }) ?? 512;
  const models = values.model.map((m) => {
    const r = resolveLocal(m);
    if (r.lora?.length) throw new UserError(`${m} is a LoRA adapter over ${r.path}; the browser runs one GGUF: merge it first (llama3-zh create NAME --from ${m})`);
    return { path: r.path, id: r.name };
  });
  const bar = progressBar('web export');
  let started = false;
  const report = await exportSite({
    dir: positionals[0], models, ctx, force: values.force, partBytes: Math.round(partMb * 2 ** 20), engine: WLLAMA_VERSION,
    onProgress: (done, total) => { if (!started) { bar.start(total); started = true; } bar.update(done); },
  });
  if (started) bar.done();
  for (const p of report.plans) {
    const parts = p.split.parts.length;
    console.log(`${p.model.id}: ${humanBytes(p.model.bytes)} in ${parts} ${parts === 1 ? 'file' : 'parts'}, needs about ${humanBytes(p.model.need)} in a tab at ${p.model.ctx} tokens of context` +
      (p.model.need > PHONE_MEMORY ? ` (too much for most phones: a phone's tab holds about ${humanBytes(PHONE_MEMORY)})` : ' (fits a phone)'));
  }
  console.log(`site: ${report.dir}\n  llama3-zh web serve ${positionals[0]}        (threads on)\n  python3 -m http.server -d ${positionals[0]} 8080   (any static server: one thread)`);
}

async function serveCommand(args: string[]) {
  const { values, positionals } = parseFlags('web', args, { port: { type: 'string', short: 'p' }, host: { type: 'string' } }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length !== 1) throw new UserError('usage: llama3-zh web serve DIR [--port 8080]', 2);
  const port = num('--port', values.port, { int: true, min: 0, max: 65535 }) ?? 8080;
  const { url } = await serveSite(positionals[0], { port, host: values.host ?? '127.0.0.1' });
  console.log(`serving ${positionals[0]} at ${url}/ (threads on: COOP/COEP sent); Ctrl+C to stop`);
  await new Promise(() => {});
}
