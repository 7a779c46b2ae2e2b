import type { Backend, ChatChunk, PageModel } from '../backend.js';
import { ContextFull } from '../backend.js';
import type { SiteManifest, SiteModel } from '../siteModels.js';
import { BrowserEngine, isCached, type Loaded } from './engine.js';
import { type MemoryBudget, memoryBudget } from './memory.js';

/**
 * The page's answers from llama.cpp in this browser: the models of a models.json (an exported site's, or the
 * server's /web/models.json), each downloaded once into the browser's storage (OPFS) and loaded on demand.
 * This module is its own bundle (assets/local.js): the page loads it only when it runs a model here.
 */

export type LoadEvent =
  | { phase: 'download'; loaded: number; total: number; rate: number }
  | { phase: 'load' }
  /** Over the tab's budget: not loaded; use(id, { anyway: true }) loads it regardless. */
  | { phase: 'memory'; model: SiteModel; budget: MemoryBudget }
  | ({ phase: 'ready'; model: SiteModel } & Loaded)
  | { phase: 'error'; message: string };

export interface BrowserOptions {
  /** models.json's URL; the parts' URLs are relative to it. */
  manifest: string;
  onLoad(e: LoadEvent): void;
  /** Sent with models.json and the downloads (a server's API key, as the page holds it when they are asked for). */
  headers?: () => Record<string, string> | undefined;
}

/** llama.cpp's words when a prompt does not fit (server-context.cpp), as wllama passes them on. */
const OVERFLOW = /exceed|context size|kv_cache_full|n_ctx/i;

export class BrowserBackend implements Backend {
  readonly kind = 'browser';
  private engine = new BrowserEngine();
  private list?: SiteModel[];
  private loading?: { id: string; done: Promise<void> };
  /** How the loaded model runs, for the page to show again after a switch to the server and back. */
  ready?: LoadEvent;

  constructor(private o: BrowserOptions) {}

  private async manifest(): Promise<SiteModel[]> {
    if (!this.list) {
      const res = await fetch(this.o.manifest, { headers: this.o.headers?.() });
      // A gateway (serve --backend) has no model file of its own to give: nothing runs in the browser there.
      if (res.status === 404) return (this.list = []);
      if (!res.ok) throw new Error(`${this.o.manifest}: HTTP ${res.status}`);
      const m = await res.json() as SiteManifest;
      if (m.format !== 1 || !Array.isArray(m.models)) throw new Error(`${this.o.manifest} is not a llama3-zh models.json`);
      this.list = m.models;
    }
    return this.list;
  }

  /** The models of models.json, as it lists them. */
  site(): Promise<SiteModel[]> {
    return this.manifest();
  }

  get loadedId(): string | undefined {
    return this.engine.modelId;
  }

  get loadingId(): string | undefined {
    return this.loading?.id;
  }

  async isCached(id: string): Promise<boolean> {
    const m = (await this.manifest()).find((x) => x.id === id);
    return !!m && isCached(this.url(m));
  }

  private url(m: SiteModel): string {
    return new URL(m.files[0], new URL(this.o.manifest, location.href)).href;
  }

  async models(): Promise<PageModel[]> {
    return (await this.manifest()).map((m) => ({ id: m.id, contextSize: m.ctx }));
  }

  /**
   * Load `id` unless it is loaded or loading; resolves when it is ready, rejects when it cannot be. A model over
   * the tab's budget is refused at once (MemoryRefused, after a `memory` event) unless `anyway`.
   */
  use(id: string, o: { anyway?: boolean } = {}): Promise<void> {
    if (this.engine.modelId === id) return Promise.resolve();
    if (this.loading?.id === id) return this.loading.done;
    const done = this.load(id, !!o.anyway).finally(() => { if (this.loading?.done === done) this.loading = undefined; });
    this.loading = { id, done };
    return done;
  }

  /** Another model was chosen: the one loading is given up, and says nothing more. */
  cancel() {
    this.loading = undefined;
    this.engine.cancel();
  }

  private async load(id: string, anyway: boolean): Promise<void> {
    // Only the newest load speaks: one given up for another model says nothing more.
    const say = (e: LoadEvent) => { if (this.loading?.id === id) this.o.onLoad(e); };
    const model = (await this.manifest()).find((m) => m.id === id);
    if (!model) throw new Error(`no model "${id}" in ${this.o.manifest}`);
    const budget = memoryBudget();
    if (model.need > budget.bytes && !anyway) {
      say({ phase: 'memory', model, budget });
      throw new MemoryRefused();
    }
    try {
      const t0 = performance.now();
      let last = -1;
      // The total is models.json's: wllama asks each part's size with a HEAD that carries no API key.
      const loaded = await this.engine.load(model, this.url(model), (p) => {
        const done = Math.min(p.loaded, model.bytes);
        if (done === last) return;
        last = done;
        const secs = (performance.now() - t0) / 1000;
        say({ phase: 'download', loaded: done, total: model.bytes, rate: secs > 0 ? done / secs : 0 });
        if (done >= model.bytes) say({ phase: 'load' });
      }, this.o.headers?.());
      this.ready = { phase: 'ready', model, ...loaded };
      say(this.ready);
    } catch (e) {
      if ((e as Error).name !== 'Superseded') say({ phase: 'error', message: (e as Error).message || String(e) });
      throw e;
    }
  }

  /** The browser has no tokenizer of its own to ask (wllama 3 dropped tokenize): a prompt too long is said by the engine. */
  async countTokens(): Promise<number> {
    return 0;
  }

  async *stream(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<ChatChunk> {
    // Stop while the model still downloads ends this answer; the download goes on for the next one.
    const stopped = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('stopped'), { name: 'AbortError' })), { once: true }));
    await Promise.race([this.use(String(body.model ?? (await this.manifest())[0]?.id)), stopped]);
    let any = false;
    try {
      for await (const c of this.engine.stream(body, signal)) {
        any = true;
        yield c as ChatChunk;
      }
    } catch (e) {
      const err = e as Error;
      if (signal.aborted || err.name === 'AbortError' || err.name === 'WllamaAbortError') throw Object.assign(new Error('stopped'), { name: 'AbortError' });
      if (!any && OVERFLOW.test(err.message)) throw new ContextFull(err.message);
      throw err;
    }
  }
}

/** The person chose not to load a model larger than the tab's budget. */
export class MemoryRefused extends Error {
  constructor() { super('not loaded: the model is larger than this device can hold'); this.name = 'MemoryRefused'; }
}
