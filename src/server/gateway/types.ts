/**
 * What the gateway's routes (`serve --backend`) ask of the backends behind it: any OpenAI-compatible engines
 * (vLLM, llama-server, SGLang, another llama3-zh). The routes translate their APIs onto the backends' OpenAI API;
 * upstream.ts picks the backend, retries, and keeps the health of each.
 */

/** One backend's answer as it arrives: status and headers have come, the body streams. */
export interface BackendReply {
  /** The backend's URL, as given to --backend. */
  backend: string;
  status: number;
  headers: Headers;
  /**
   * The body. A request with `"stream": true` gets it as the backend sends it; any other was read to its end before
   * this reply was returned (so a backend that failed half-way was retried on another). A backend that dies or goes
   * quiet mid-stream makes a read reject with an ApiError (502 or 504). Read it to its end or cancel it: the
   * backend counts the request as outstanding until then.
   */
  body: ReadableStream<Uint8Array>;
  /** The same body, all of it, for a request that did not stream (so a proxy writes it at once). */
  whole?: Buffer;
}

/** A model some live backend lists in its /v1/models. */
export interface UpstreamModel {
  id: string;
  /** The backends that serve it, by URL. */
  backends: string[];
  /** From the first backend's listing (vLLM and llama3-zh give max_model_len). */
  maxModelLen?: number;
  created?: number;
  ownedBy?: string;
}

export interface Upstream {
  /**
   * POST `body` as JSON to `path` ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/tokenize"…) on a
   * backend that serves `body.model`: the least busy, or the one that holds the conversation's prefix in its KV
   * cache. One that refuses the connection, fails before answering, or answers 429/502/503 is left for another.
   * Throws an ApiError: 404 when no backend has the model (naming those there are), 503 when none is up, 504 on a
   * timeout, 502 when every backend failed, 429 when the gateway's queue is full.
   */
  post(path: string, body: Record<string, unknown>, signal: AbortSignal): Promise<BackendReply>;
  /** Every model the live backends list, each once, in the order of the backends. */
  models(): UpstreamModel[];
  /** Milliseconds a client may take nothing of a stream before it is cut off (serve --client-timeout). */
  readonly clientTimeoutMs: number;
  /** The model a request that names none (the simple API) is answered by: the first listed. */
  defaultModel(): string | undefined;
}
