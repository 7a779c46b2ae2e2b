import { ModelManager, Wllama, type WllamaLogger } from '@wllama/wllama';
import { BROWSER_BATCH } from '../../estimate/browserLimits.js';
import type { SiteModel } from '../siteModels.js';
import { isIos, isPhone } from './memory.js';

/**
 * llama.cpp compiled to WebAssembly (@wllama/wllama), which runs it in a Web Worker of its own: the page only
 * posts requests and reads OpenAI-shaped chunks back. The files sit beside this script (assets/wasm/), so a
 * site with no network still finds them.
 */

const WASM = new URL('wasm/wllama.wasm', import.meta.url).href;
/** The build for browsers without JSPI or Memory64 (Safari, older ones): wllama would fetch it from jsDelivr. */
const COMPAT = { wasm: new URL('wasm/compat/wllama.wasm', import.meta.url).href, worker: new URL('wasm/compat/wllama.js', import.meta.url).href };

const quiet: WllamaLogger = { debug() {}, log() {}, warn: (...a: unknown[]) => console.warn(...a), error: (...a: unknown[]) => console.error(...a) };

export interface Loaded {
  threads: number;
  multithread: boolean;
  /** Why there is one thread, when there is. */
  single?: 'not-isolated' | 'one-core' | 'phone';
  cached: boolean;
  seconds: number;
}

export interface Progress { loaded: number; total: number }

/**
 * Threads need SharedArrayBuffer, which browsers give only to a cross-origin isolated page (a server that sends
 * COOP: same-origin and COEP: require-corp). On iPhones threads make Safari end the tab (wllama #18), and a
 * phone's small cores gain little past 4.
 */
function threadPlan(): { threads: number; single?: Loaded['single'] } {
  const cores = navigator.hardwareConcurrency || 1;
  if (!globalThis.crossOriginIsolated) return { threads: 1, single: 'not-isolated' };
  if (isIos()) return { threads: 1, single: 'phone' };
  if (cores < 2) return { threads: 1, single: 'one-core' };
  return { threads: Math.min(isPhone() ? 4 : 8, cores) };
}

/** Whether the browser's storage (OPFS) holds the whole model at this URL: then loading it needs no network. */
export async function isCached(url: string): Promise<boolean> {
  const models = await new ModelManager().getModels().catch(() => []);
  return models.some((m) => m.url === url);
}

/** A load given up for a newer one (another model chosen meanwhile). */
export class Superseded extends Error {
  override name = 'Superseded';
}

export class BrowserEngine {
  private w?: Wllama;
  private loadedId?: string;
  /** The newest load: an older one that ends later must not replace it (nor keep its download going). */
  private current?: AbortController;

  get modelId(): string | undefined {
    return this.loadedId;
  }

  /** Load one model (its first part's URL names the rest), replacing the one loaded. */
  async load(model: SiteModel, url: string, onProgress: (p: Progress) => void, headers?: Record<string, string>): Promise<Loaded> {
    this.current?.abort();
    const mine = new AbortController();
    this.current = mine;
    await this.unload();
    const t0 = performance.now();
    const plan = threadPlan();
    const w = new Wllama({ default: WASM }, { logger: quiet, allowOffline: true, parallelDownloads: 3 });
    w.setCompat(COMPAT);
    const cached = await isCached(url);
    await w.loadModelFromUrl(url, {
      n_ctx: model.ctx, n_batch: BROWSER_BATCH, n_ubatch: BROWSER_BATCH, n_threads: plan.threads,
      progressCallback: (p: Progress) => { if (!mine.signal.aborted) onProgress(p); },
      signal: mine.signal, ...(headers ? { headers } : {}),
    }).catch(async (e: unknown) => {
      await w.exit().catch(() => {});
      throw mine.signal.aborted ? new Superseded('another model was chosen') : e;
    });
    if (mine.signal.aborted) {
      await w.exit().catch(() => {});
      throw new Superseded('another model was chosen');
    }
    // wllama does not check that llama.cpp loaded anything: a model it could not read has no vocabulary.
    if (!(w.getModelMetadata().hparams.nVocab > 0)) {
      await w.exit().catch(() => {});
      throw new Error('the engine could not read this GGUF');
    }
    this.w = w;
    this.loadedId = model.id;
    return { threads: w.getNumThreads(), multithread: w.isMultithread(), single: plan.single, cached, seconds: (performance.now() - t0) / 1000 };
  }

  /** Give up the load in progress, if any (its download stops; it ends with Superseded). */
  cancel() {
    this.current?.abort();
  }

  async unload(): Promise<void> {
    const w = this.w;
    this.w = undefined;
    this.loadedId = undefined;
    await w?.exit().catch(() => {});
  }

  /** The OpenAI request the page builds, in wllama's names (llama-server's: repeat_penalty, not repetition_penalty). */
  async *stream(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<Record<string, unknown>> {
    if (!this.w) throw new Error('no model is loaded in this browser');
    const { repetition_penalty, stream_options, model, ...rest } = body;
    void stream_options; void model;
    const chunks = await this.w.createChatCompletion({
      ...rest, ...(repetition_penalty !== undefined ? { repeat_penalty: repetition_penalty } : {}),
      stream: true, abortSignal: signal,
    } as Parameters<Wllama['createChatCompletion']>[0] & { stream: true });
    for await (const c of chunks) yield c as unknown as Record<string, unknown>;
  }
}
