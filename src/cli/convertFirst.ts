import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../errors.js';
import { humanBytes } from '../util/human.js';
import { type CreateOptions, type CreateResult, createModel, createRuntimeLora } from '../hub/create.js';
import { conversionName, findConversion, sourceKey, staleConversions } from '../hub/created.js';
import { findStored, NeedsConversionError, parseModelRef } from '../hub/modelRef.js';
import { planPull } from '../hub/pull.js';
import type { ResolvedModel } from '../hub/resolve.js';
import { type LocalModel, modelsDir, removeLocal, storeName } from '../hub/store.js';
import { confirm, describePlan, pullWithUi, withInterrupt } from './fetchModel.js';
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
    // A merged adapter (a catalog LoRA with modules_to_save) is stale when either folder changed.
    if (c.adapter !== undefined && c.adapterKey !== undefined && existsSync(c.adapter) && sourceKey(c.adapter) !== c.adapterKey) return true;
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
  if (existsSync(join(e.dir, 'adapter_config.json')) && !existsSync(join(e.dir, 'config.json'))) return adapterFirst(e, o);
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

/**
 * A pulled PEFT adapter (a catalog LoRA such as llama3-8b-doc2markmap-lora): its base is found (the store, by
 * adapter_config.json's base_model_name_or_path) or pulled (the catalog's `base`), converted, and the adapter applied:
 * as a runtime LoRA over the base GGUF (convertAdapter) when it has no modules_to_save, else merged into a GGUF of
 * its own (llama.cpp's adapters cannot carry full lm_head or norm tensors).
 */
async function adapterFirst(e: NeedsConversionError, o: { yes?: boolean; command: string }): Promise<ResolvedModel> {
  const { converters } = await import('../hub/converters.js');
  const cv = await converters();
  const adapter = cv.readPeftAdapter(e.dir);
  let baseDir: string;
  try {
    baseDir = cv.resolveAdapterBase(adapter);
  } catch (err) {
    const name = e.catalog?.base;
    if (!name || !(err instanceof UserError)) throw err;
    baseDir = await pullBase(name, e.asked, o);
  }
  const repo = e.repo ?? undefined;
  if (!repo) throw new UserError(`${e.asked} is a PEFT LoRA adapter: merge it with llama3-zh create NAME --from BASE --adapter ${e.asked}`);
  if (adapter.full.size > 0) {
    console.error(`${e.asked} has modules_to_save (${[...adapter.full.keys()].join(', ')}), which a llama.cpp LoRA cannot carry: merging it into ${baseDir}`);
    const r = await createWithUi({ into: { repo, catalogName: e.catalog?.name }, from: baseDir, adapter: e.dir, quantize: AUTO_TYPE, auto: true, force: true });
    return asResolved(r.model, e.asked, { path: r.model.path, name: e.asked, catalog: e.catalog });
  }
  // A base in the store is converted into its own repo folder (rm removes both), as a pulled folder always is.
  const rel = relative(modelsDir(), baseDir).split(sep);
  const baseRepo = rel.length === 2 && rel[0] !== '..' ? rel.join('/') : undefined;
  const base = await convertFirst(new NeedsConversionError(baseDir, baseRepo ?? baseDir, baseRepo), { yes: true, command: o.command });
  console.error(`converting the adapter ${e.dir} to a llama.cpp LoRA over ${base.path}`);
  const lora = await withInterrupt((signal) => createRuntimeLora({ repo, dir: e.dir, baseDir, baseGguf: base.path, catalogName: e.catalog?.name, signal }));
  return { path: base.path, lora: [{ path: lora.path, scale: 1 }], catalog: e.catalog, name: e.asked, created: lora.entry?.created, repo };
}

/** A LoRA's base model from the catalog, pulled as its safetensors folder (asking, or --yes; in a script, the command). */
async function pullBase(name: string, asked: string, o: { yes?: boolean }): Promise<string> {
  const ref = parseModelRef(name);
  if (ref.kind !== 'hub') throw new UserError(`the base model of ${asked}, ${name}, is not a hub model`);
  const stored = findStored(ref);
  if (stored?.format === 'safetensors') return dirname(stored.path);
  const interactive = process.stdin.isTTY && process.stderr.isTTY;
  if (!o.yes && !interactive) {
    throw new UserError(`${asked} is a LoRA adapter for ${name}, which is not downloaded; run: llama3-zh pull ${name} --format safetensors  (or add --yes to fetch it now)`);
  }
  const plan = await planPull(ref, { format: 'safetensors' });
  console.error(`${asked} is a LoRA adapter for ${name}: ${describePlan(plan)}`);
  if (!o.yes && !(await confirm('Download its base now? [y/N] '))) throw new UserError(`not downloaded; to fetch it later: llama3-zh pull ${name} --format safetensors`);
  const r = await pullWithUi(plan, { format: 'safetensors' });
  return dirname(r.model.path);
}
