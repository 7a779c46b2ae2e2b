import { basename, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { humanBytes } from '../util/human.js';
import { type CreateOptions, type CreateResult, createModel } from '../hub/create.js';
import { conversionName, findConversion, sourceKey, staleConversions } from '../hub/created.js';
import { NeedsConversionError } from '../hub/modelRef.js';
import type { ResolvedModel } from '../hub/resolve.js';
import { type LocalModel, removeLocal, storeName } from '../hub/store.js';
import { confirm, withInterrupt } from './fetchModel.js';
import { duration, progressBar } from './progress.js';

/**
 * The type chat, serve and eval convert a Hugging Face folder to: Q4_K_M, what `pull` takes by default and the
 * catalog's GGUF repos ship (ollama's library default too) — a quarter of BF16's size at a small loss, so an 8B
 * model runs on a laptop. `create --quantize` makes any other.
 */
export const AUTO_TYPE = 'Q4_K_M';

/** Run createModel on the terminal: what is made, a progress bar, Ctrl-C leaving nothing, a summary line. */
export async function createWithUi(o: CreateOptions): Promise<CreateResult> {
  const started = performance.now();
  let bar: ReturnType<typeof progressBar> | undefined;
  let phase = '';
  const r = await withInterrupt(async (signal) => {
    try {
      return await createModel({
        ...o,
        signal,
        onStart: (what) => console.error(`${what}…`),
        onProgress: (done, total, p) => {
          if (p !== phase) { bar?.done(); phase = p; bar = progressBar(p === 'quantize' ? 'quantizing' : p === 'copy' ? 'copying' : 'converting'); bar.start(total); }
          bar!.update(done, total);
        },
      });
    } catch (e) {
      if (!signal.aborted) throw e;
      process.stderr.write('\n');
      throw new UserError('interrupted; nothing was kept', 130);
    } finally {
      bar?.done();
    }
  });
  const secs = (performance.now() - started) / 1000;
  console.error(`${r.replaced ? 'replaced' : 'created'} ${storeName(r.model)}: GGUF ${r.type}, ${humanBytes(r.bytes)} in ${duration(secs)} (${r.model.path})`);
  return r;
}

/** What a user would name a model made from `src`: the folder's name, made a valid one. */
function suggestedName(src: string): string {
  return basename(resolve(src)).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').toLowerCase() || 'my-model';
}

/** A cached conversion as a model to load, with what it was created with. */
function asResolved(m: LocalModel, name: string, base?: ResolvedModel): ResolvedModel {
  const c = m.entry?.created;
  return { ...base, path: m.path, name, template: c?.template, templateSource: c?.templateSource, system: c?.system, created: c };
}

/** A conversion found earlier, unless its source has changed since (then it is made again). */
export function isStale(r: ResolvedModel): boolean {
  const c = r.created;
  if (!c?.auto) return false;
  try {
    return sourceKey(c.source) !== c.sourceKey;
  } catch {
    return false; // the source is gone: the conversion is all there is
  }
}

/**
 * A Hugging Face folder where chat, serve or eval need a GGUF: the conversion cached in the store from an earlier
 * run when its folder is unchanged; else converted now — after asking on a terminal, or with --yes; in a script,
 * the exact commands to run, and exit 1.
 */
export async function convertFirst(e: NeedsConversionError, o: { yes?: boolean; command: string; base?: ResolvedModel }): Promise<ResolvedModel> {
  // A pulled folder's conversion is kept beside it, in its repo (rm NAME removes both); a folder elsewhere gets a name of its own.
  const cached = findConversion(e.dir, AUTO_TYPE);
  if (cached) return asResolved(cached, e.repo ? e.asked : basename(e.dir), o.base);
  const name = e.repo ? undefined : conversionName(e.dir, AUTO_TYPE);
  const interactive = process.stdin.isTTY && process.stderr.isTTY;
  const what = `${e.asked} is a Hugging Face (safetensors) model folder and llama.cpp runs GGUF`;
  const why = o.command === 'eval' ? `${AUTO_TYPE}, the default for chat and serve; for scores nearer the full model: llama3-zh create NAME --from ${e.asked} --quantize q8_0` : `${AUTO_TYPE}, the default for chat and serve`;
  if (!o.yes && !interactive) {
    throw new UserError(`${what}: convert it once with  llama3-zh create ${suggestedName(e.dir)} --from ${e.asked} --quantize q4_k_m  and run that name, or add --yes to convert it now (to ${AUTO_TYPE}, kept in the store for the next run)`);
  }
  if (!o.yes) {
    console.error(`${what}: it is converted first, to ${why}, and kept in the store${name ? ` as ${name}` : ''} for the next run.`);
    if (!(await confirm('Convert it now? [y/N] '))) throw new UserError(`not converted; to convert it yourself: llama3-zh create ${suggestedName(e.dir)} --from ${e.asked} --quantize q4_k_m`);
  } else {
    console.error(`${what}: converting it to ${why}; kept in the store${name ? ` as ${name}` : ''} for the next run`);
  }
  const stale = staleConversions(e.dir, AUTO_TYPE);
  const r = await createWithUi({
    name, into: e.repo ? { repo: e.repo, catalogName: e.catalog?.name } : undefined, from: e.dir, quantize: AUTO_TYPE, auto: true, force: true,
  });
  // Conversions of the folder as it was before: the new one replaces them.
  for (const s of stale) if (s.path !== r.model.path) removeLocal(s);
  return asResolved(r.model, e.repo ? e.asked : basename(e.dir), o.base);
}
