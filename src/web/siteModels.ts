/**
 * models.json: the models a page can run in the browser. `web export` writes it beside the site; `serve` answers
 * it at /web/models.json for the models it serves. One shape for both, so the page has one way to load a model.
 */
export interface SiteModel {
  /** The name the page shows (the served model's id, or the exported file's). */
  id: string;
  /**
   * The GGUF's parts, relative to models.json: one file, or llama.cpp split parts ("-00001-of-00003.gguf"). The
   * folder holds a key of the model's bytes: the browser caches by URL and never checks again, so another
   * model behind the same name must have another URL.
   */
  files: string[];
  /** Bytes of all parts. */
  bytes: number;
  /** What the engine takes in the tab: weights, KV cache of `ctx` tokens, one batch (estimate/browser.ts). */
  need: number;
  /** The context the page loads the model with. */
  ctx: number;
}

export interface SiteManifest {
  format: 1;
  /** The @wllama/wllama version the site was made with (its wasm is beside it). */
  engine: string;
  models: SiteModel[];
}
