/**
 * `create`: make a model in the store from a Hugging Face folder (converted, an adapter merged, quantized) or a
 * GGUF (copied or quantized), and register it with its template and system prompt — what `ollama create` does
 * with a Modelfile's FROM, ADAPTER, TEMPLATE and SYSTEM. chat, serve and eval use the same code to convert a
 * folder they are given (convertFirst in cli/).
 *
 * Atomic: the GGUF is written to a hidden temp file in the model's folder (removed on Ctrl-C, see
 * util/files.ts), then renamed and recorded in the manifest in one synchronous step, which no signal handler
 * can come between; an interrupted create leaves no entry and no file.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkChatTemplate, TEMPLATE_NAMES } from '../chat/templates.js';
import { QUANT_TYPES, quantizeInWorker } from '../engine/llamacpp/quantize.js';
import { UserError } from '../errors.js';
import { readGguf } from '../gguf/reader.js';
import { meta, tensorTypeName } from '../gguf/types.js';
import { freeBytes, tempDone, tempPath } from '../util/files.js';
import { humanBytes } from '../util/human.js';
import type { CatalogModel } from './catalog.js';
import type { TensorHook } from '../convert/convert.js';
import type { PeftAdapter } from '../convert/peft.js';
import { type Converters, converters, type ConvertPhase } from './converters.js';
import { checkCreateName, sourceKey } from './created.js';
import { ggufFromPath, NeedsConversionError, parseModelRef } from './modelRef.js';
import { resolveLocal } from './resolve.js';
import { type CreatedInfo, type LocalModel, listStore, matchLocal, modelsDir, pruneEmpty, recordEntry, removeLocal, repoDir, type StoreEntry } from './store.js';

export interface CreateOptions {
  /** The model's name; or, with `into`, none (a conversion kept beside the pulled folder it came from). */
  name?: string;
  into?: { repo: string; catalogName?: string };
  /** SRC: a Hugging Face folder, a GGUF, a store name or a catalog name. */
  from?: string;
  /** A PEFT adapter folder merged into the weights. */
  adapter?: string;
  /** GGUF type to write (any case); default: the converter's auto (BF16 for a BF16 checkpoint), or a GGUF as it is. */
  quantize?: string;
  template?: string;
  /** --template-file: its path (for messages) and its Jinja source. */
  templateFile?: { path: string; source: string };
  /**
   * A folder source: tokenizer.chat_template written into the GGUF instead of the folder's own, so that llama.cpp,
   * ollama and anything else reading the file see the format the model was trained with (train export: a run
   * trained with LLaMA-Factory's `default` on a Llama-3 base must not carry the base's template).
   */
  chatTemplate?: string;
  /** A folder source: tokenizer.ggml.add_bos_token instead of the tokenizer's (ConvertOptions.addBos). */
  addBos?: boolean;
  system?: string;
  force?: boolean;
  /** A cache made by chat, serve or eval. */
  auto?: boolean;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (doneBytes: number, totalBytes: number, phase: ConvertPhase | 'copy') => void;
  /** Said before the slow part starts (what is made from what). */
  onStart?: (what: string) => void;
}

export interface CreateResult {
  model: LocalModel;
  type: string;
  bytes: number;
  /** Entries --force replaced. */
  replaced: number;
}

/** A source, found: a folder to convert or a GGUF to copy, and what it brings along (a catalog or created model's template). */
interface Source {
  kind: 'folder' | 'gguf';
  path: string;
  catalog?: CatalogModel;
  created?: CreatedInfo;
}

/** SRC as create takes it; every way it can be wrong is one line. */
export function findSource(from: string): Source {
  if (existsSync(from)) {
    const path = resolve(from);
    if (statSync(path).isDirectory() && existsSync(join(path, 'adapter_config.json')) && !existsSync(join(path, 'config.json'))) {
      throw new UserError(`${from} is a PEFT LoRA adapter, not a model: give it as --adapter ${from}, and its base model as --from`, 2);
    }
    try {
      return { kind: 'gguf', path: resolve(ggufFromPath(path)) };
    } catch (e) {
      if (e instanceof NeedsConversionError) return { kind: 'folder', path };
      throw e;
    }
  }
  const ref = parseModelRef(from);
  if (ref.kind === 'path') throw new UserError(`no such file or folder: ${from}`);
  try {
    const r = resolveLocal(from);
    return { kind: 'gguf', path: r.path, catalog: r.catalog, created: r.created };
  } catch (e) {
    if (e instanceof NeedsConversionError) return { kind: 'folder', path: resolve(e.dir), catalog: e.catalog };
    if (e instanceof UserError && /is not downloaded/.test(e.message)) {
      throw new UserError(`${from} is not downloaded; run: llama3-zh pull ${from}  (a catalog model's full weights: llama3-zh pull ${from} --format safetensors), then create again`);
    }
    throw e;
  }
}

/** The GGUF types create writes from a folder (the converter's) and from a GGUF (llama.cpp's quantizer's). */
function checkType(type: string, kind: Source['kind'], convertTypes: string[]): string {
  const t = type.toUpperCase();
  const known = kind === 'folder' ? convertTypes.map((x) => x.toUpperCase()) : Object.keys(QUANT_TYPES);
  if (!known.includes(t)) {
    throw new UserError(`unknown --quantize type '${type}'; ${kind === 'folder' ? 'from a Hugging Face folder' : 'from a GGUF'} the types are: ${known.join(', ')}`, 2);
  }
  return t;
}

export async function createModel(o: CreateOptions): Promise<CreateResult> {
  // Everything that can be wrong is checked before a byte is written.
  const repo = o.into?.repo ?? checkCreateName(o.name!);
  if (o.template !== undefined && !TEMPLATE_NAMES.includes(o.template)) {
    throw new UserError(`unknown template "${o.template}"; choose one of: ${TEMPLATE_NAMES.join(', ')}`, 2);
  }
  if (o.template !== undefined && o.templateFile) throw new UserError('give --template or --template-file, not both', 2);
  if (o.templateFile) checkChatTemplate(o.templateFile.source, `template file ${o.templateFile.path}`);
  const inUse = () => {
    const taken = o.name ? matchLocal(repo) : [];
    if (taken.length && !o.force) {
      throw new UserError(`a model named ${o.name} is in the store already (${taken.map((m) => m.path).join(', ')}); pass --force to replace it, or choose another name`);
    }
    return taken;
  };
  inUse();
  let cv: Converters | undefined;
  let adapter: PeftAdapter | undefined;
  let from = o.from;
  if (o.adapter) {
    cv = await converters();
    adapter = cv.readPeftAdapter(o.adapter);
    // No --from: the adapter's base_model_name_or_path, found in the store or the catalog, else the exact error.
    try {
      from ??= cv.resolveAdapterBase(adapter, undefined);
    } catch (e) {
      // Its message names convert's flag for the base; create's is --from.
      if (e instanceof UserError) throw new UserError(e.message.replace(/--base /g, '--from '), e.exitCode);
      throw e;
    }
  }
  if (from === undefined) throw new UserError('create needs --from SRC: a Hugging Face folder, a GGUF file, a store name or a catalog name', 2);
  const src = findSource(from);
  if (adapter && src.kind === 'gguf') {
    throw new UserError(`--adapter merges into the base model's own weights, and ${from} is a GGUF; give the base model's Hugging Face folder as --from (or run the adapter at load time: llama3-zh convert ${o.adapter} --base ${from} --out adapter.gguf, then --lora adapter.gguf)`, 2);
  }
  if (src.kind === 'folder') cv ??= await converters();
  const type = o.quantize !== undefined ? checkType(o.quantize, src.kind, cv?.CONVERT_TYPES ?? []) : undefined;
  if (src.kind === 'gguf') checkSplit(src.path, type);
  if ((o.chatTemplate !== undefined || o.addBos !== undefined) && src.kind !== 'folder') throw new UserError(`${from} is a GGUF: its chat template is written when a Hugging Face folder is converted, not when a GGUF is copied`, 2);

  // A model made from another created model keeps its template and system prompt unless told otherwise (ollama's FROM does).
  const inherited = src.created;
  // Without a system prompt its conversations may have none: the template must render those too.
  if (o.templateFile && (o.system ?? inherited?.system) === undefined) checkChatTemplate(o.templateFile.source, `template file ${o.templateFile.path}`, { withoutSystem: true });
  const created: CreatedInfo = {
    name: o.name,
    from,
    source: src.path,
    sourceKey: sourceKey(src.path),
    ...(o.adapter ? { adapter: resolve(o.adapter), adapterKey: sourceKey(o.adapter) } : {}),
    type: type ?? '',
    template: o.templateFile ? undefined : o.template ?? inherited?.template ?? src.catalog?.template,
    templateSource: o.templateFile?.source ?? (o.template === undefined ? inherited?.templateSource : undefined),
    system: o.system ?? inherited?.system,
    ...(o.auto ? { auto: true } : {}),
  };

  const dir = repoDir(repo);
  mkdirSync(dir, { recursive: true });
  const stem = (o.name ?? repo).split('/').pop()!;
  const tmp = tempPath(join(dir, `${stem}.gguf`));
  let done = false;
  try {
    let written: { type: string; bytes: number };
    if (src.kind === 'folder') {
      o.onStart?.(`converting ${src.path}${o.adapter ? ` with the adapter ${o.adapter} merged` : ''}${type ? ` to ${type}` : ''}`);
      const hook: TensorHook | undefined = adapter ? cv!.mergeHook(adapter, cv!.adapterBaseShape(src.path)) : undefined;
      const r = await cv!.convertModel({ src: src.path, out: tmp, type, hook, name: o.name, chatTemplate: o.chatTemplate, addBos: o.addBos, threads: o.threads, onProgress: o.onProgress, signal: o.signal });
      written = { type: r.type.toUpperCase(), bytes: r.bytes };
    } else {
      written = await fromGguf(src.path, tmp, type, o);
    }
    const file = `${stem}-${written.type}.gguf`;
    created.type = written.type;
    const entry: StoreEntry = {
      format: 'gguf',
      quant: written.type,
      primary: file,
      files: [{ path: file, size: statSync(tmp).size }],
      ...(o.into?.catalogName ?? src.catalog?.name ? { catalogName: o.into?.catalogName ?? src.catalog?.name } : {}),
      pulledAt: new Date().toISOString(),
      created,
    };
    // From here on, synchronous: no Ctrl-C handler runs between removing the old model, the rename and the record.
    // Asked again: another create of the same NAME may have finished while this one converted.
    const taken = inUse();
    let replaced = 0;
    for (const old of taken) { removeLocal(old); replaced++; }
    if (o.into) for (const old of matchLocal(repo).filter((m) => m.entry?.primary === file)) removeLocal(old);
    mkdirSync(dir, { recursive: true });
    renameSync(tmp, join(dir, file));
    tempDone(tmp);
    recordEntry(repo, entry);
    done = true;
    const model = listStore().find((m) => m.repo === repo && m.entry?.primary === file)!;
    return { model, type: written.type, bytes: entry.files[0].size, replaced };
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
    tempDone(tmp);
    // A failed create leaves no folder of its own either.
    if (!done) pruneEmpty(dir, modelsDir());
  }
}

/** The type a GGUF is (general.file_type, else its first matrix's). */
function ownType(f: ReturnType<typeof readGguf>): string {
  const ftype = meta<number>(f, 'general.file_type');
  return Object.entries(QUANT_TYPES).find(([, v]) => v === ftype)?.[0]
    ?? (ftype === 0 ? 'F32' : tensorTypeName(f.tensors.find((t) => t.dims.length >= 2)?.type ?? 0));
}

/**
 * A split GGUF (gguf-split's x-00001-of-00003.gguf) cannot be copied: llama.cpp loads the other parts from beside the
 * first, which a copy of the first alone would not have. llama_model_quantize reads every part and writes one file.
 */
function checkSplit(src: string, type: string | undefined) {
  const f = readGguf(src, { skipArrays: true });
  const parts = meta<number>(f, 'split.count') ?? 1;
  if (parts > 1 && (!type || type === ownType(f))) {
    throw new UserError(`${src} is the first of ${parts} parts of a split GGUF, and create copies one file: give --quantize TYPE to make one file of it (llama.cpp reads every part), or run it where it is`, 2);
  }
}

/** A GGUF source: copied as it is, or quantized with llama.cpp's quantizer. */
async function fromGguf(src: string, tmp: string, type: string | undefined, o: CreateOptions): Promise<{ type: string; bytes: number }> {
  const f = readGguf(src, { skipArrays: true });
  const size = statSync(src).size;
  const free = freeBytes(tmp);
  if (free !== undefined && size > free) throw new UserError(`not enough disk space: ${src} is ${humanBytes(size)} and the store has ${humanBytes(free)} free; free some space or use --models-dir`);
  const own = ownType(f);
  if (!type || type === own) {
    o.onStart?.(`copying ${src}`);
    copyFileSync(src, tmp);
    return { type: own, bytes: size };
  }
  const quantized = f.tensors.find((t) => t.dims.length >= 2 && !['F32', 'F16', 'BF16'].includes(tensorTypeName(t.type)));
  if (quantized) {
    throw new UserError(`${src} is already quantized (${own}); quantizing it again to ${type} loses quality: create from the F16/BF16 GGUF or the Hugging Face folder, or leave out --quantize`);
  }
  o.onStart?.(`quantizing ${src} to ${type}`);
  // llama.cpp writes into a folder of its own: on Ctrl-C the process ends while the native call runs on, and a file
  // it had not opened yet would appear after a removal of the file alone; in a removed folder it cannot be created.
  // (Not *.gguf inside: ls would list a half-written model.)
  const qdir = mkdtempSync(join(dirname(tmp), '.quantize-'));
  const out = join(qdir, 'out.tmp');
  const { result, worker } = quantizeInWorker({ input: src, output: out, ftype: QUANT_TYPES[type], nthread: o.threads ?? availableParallelism(), allowRequantize: false });
  // llama_model_quantize cannot be interrupted (worker.terminate waits for it): on Ctrl-C, drop what was written and end.
  const onAbort = () => {
    rmSync(qdir, { recursive: true, force: true });
    rmSync(tmp, { force: true });
    pruneEmpty(dirname(tmp), modelsDir());
    process.stderr.write('\nllama3-zh create: interrupted; nothing was kept\n');
    process.exit(130);
  };
  o.signal?.addEventListener('abort', onAbort);
  const poll = setInterval(() => { try { o.onProgress?.(statSync(out).size, size, 'quantize'); } catch { /* not there yet */ } }, 200);
  try {
    const r = await result;
    if (r.rc !== 0) throw new UserError(`llama.cpp cannot quantize ${src}: ${r.error}`);
    renameSync(out, tmp);
  } finally {
    clearInterval(poll);
    o.signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
    rmSync(qdir, { recursive: true, force: true });
  }
  return { type, bytes: statSync(tmp).size };
}

/**
 * A PEFT adapter as a llama.cpp runtime LoRA, kept in the adapter's own repo folder and recorded with the base GGUF
 * it runs over (CreatedInfo.base): chat -m ADAPTER then loads that base with --lora this file. Atomic as createModel.
 */
export async function createRuntimeLora(o: { repo: string; dir: string; baseDir: string; baseGguf: string; catalogName?: string; signal?: AbortSignal }): Promise<LocalModel> {
  const cv = await converters();
  const dir = repoDir(o.repo);
  const stem = o.repo.split('/').pop()!;
  const file = `${stem}-lora-F16.gguf`;
  const tmp = tempPath(join(dir, file));
  try {
    // f16: what llama.cpp's convert_lora_to_gguf writes by default with --outtype f16, half of f32's size.
    await cv.convertAdapter({ dir: o.dir, base: o.baseDir, out: tmp, type: 'f16', signal: o.signal });
    const entry: StoreEntry = {
      format: 'gguf', quant: 'F16', primary: file, files: [{ path: file, size: statSync(tmp).size }],
      ...(o.catalogName ? { catalogName: o.catalogName } : {}),
      pulledAt: new Date().toISOString(),
      created: { from: o.dir, source: resolve(o.dir), sourceKey: sourceKey(o.dir), type: 'F16', auto: true, base: resolve(o.baseGguf) },
    };
    renameSync(tmp, join(dir, file));
    tempDone(tmp);
    recordEntry(o.repo, entry);
    return listStore().find((m) => m.repo === o.repo && m.entry?.primary === file)!;
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
    tempDone(tmp);
  }
}
