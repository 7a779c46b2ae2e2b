/** The one engine interface every command uses: chat, the server, eval and the web UI. */

export interface LoraAdapter {
  path: string;
  scale: number;
}

export interface LoadOptions {
  modelPath: string;
  /** Tokens per sequence. Default: the model's training context, at most 8192. */
  contextSize?: number;
  /** CPU threads. Default: the machine's cores (llama.cpp's own default of 4 is ~60x slower on 2 cores). */
  threads?: number;
  /** Requests served at once, each on its own sequence of one shared context, decoded in shared batches. */
  parallel?: number;
  lora?: LoraAdapter[];
  /** Override the GGUF's RoPE frequency base (rope_theta). */
  ropeFreqBase?: number;
  /** Tokens per decode batch (llama.cpp n_batch). */
  batchSize?: number;
  /**
   * Most tokens one embedding input may have (BOS included). Default 512, at most the model's training context:
   * llama.cpp must take an input in one batch to pool it, and its embedding context keeps vocabulary-sized logits
   * for every token of that batch (about 1 MB per token for Llama-3's 128256 tokens), as llama-server's --ubatch 512 does.
   */
  embeddingContextSize?: number;
  gpu?: 'auto' | false;
}

export interface Sampling {
  /** 0 = greedy */
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  /** 1 = off. Divides positive logits of recently seen tokens (HF repetition_penalty). */
  repeatPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** How many recent tokens (prompt and reply) the penalties look at. */
  repeatLastN: number;
  seed?: number;
  /** Added to each listed token's logit before sampling (OpenAI's logit_bias); -100 or less bans the token. */
  logitBias?: ReadonlyMap<number, number>;
}

export const GREEDY: Sampling = {
  temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, repeatLastN: 64,
};

/** Output constrained by a grammar, as OpenAI's response_format asks. */
export type OutputFormat = { type: 'json' } | { type: 'json_schema'; schema: object };

export interface TokenLogprob {
  token: number;
  /** Natural log of the probability the token was drawn with (after temperature, top-k and top-p). */
  logprob: number;
  /** The most likely tokens at this step, most likely first. */
  top: Array<{ token: number; logprob: number }>;
}

export interface GenerateRequest {
  prompt: number[];
  maxTokens: number;
  sampling?: Partial<Sampling>;
  stopStrings?: string[];
  stopTokens?: number[];
  signal?: AbortSignal;
  /** Go on past end-of-generation tokens (benchmarks; llama-server's ignore_eos). */
  ignoreEndOfGeneration?: boolean;
  /** Each token of the reply (end-of-generation tokens are not), before its text; with `logprobs`, its log-probability. */
  onToken?: (token: number, logprob?: TokenLogprob) => void;
  /** Report log-probabilities of each generated token and this many alternatives (0-20). */
  logprobs?: number;
  /** Constrain the reply to JSON (any object, or one matching a JSON schema). */
  format?: OutputFormat;
  /** Streamed text; never half a UTF-8 character, never part of a stop string. */
  onText?: (delta: string) => void;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV cache was reused from the previous request on the sequence. */
  cachedTokens: number;
}

export interface Timings {
  promptMs: number;
  generationMs: number;
  promptTokensPerSecond: number;
  generationTokensPerSecond: number;
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  /** The stop token id or stop string that ended the reply. */
  stoppedBy?: number | string;
  /** One per generated token, when the request asked for `logprobs`. */
  logprobs?: TokenLogprob[];
  usage: Usage;
  timings: Timings;
}

export interface ModelInfo {
  path: string;
  name: string;
  /** Tokens per sequence of the created context. */
  contextSize: number;
  trainContextSize: number;
  /** The RoPE frequency base in use: the load option's override, else the GGUF's (undefined if it states none). */
  ropeFreqBase?: number;
  parallel: number;
  threads: number;
  /** tokenizer.chat_template from the GGUF, if any */
  chatTemplate?: string;
  bosToken?: string;
  eosToken?: string;
  /** Whether the tokenizer wants a BOS in front of a prompt. */
  addBos: boolean;
  bosId?: number;
  /** Token ids run from 0 to vocabSize - 1. */
  vocabSize: number;
  /** What `embed` gives; undefined for a model that cannot embed (a reranker). */
  embedding?: EmbeddingInfo;
}

export interface EmbeddingInfo {
  /** Numbers in each vector (llama.cpp's n_embd_out). */
  size: number;
  /** Most tokens one input may have, BOS included (LoadOptions.embeddingContextSize). */
  maxTokens: number;
  /**
   * How the token vectors become one: the GGUF's own pooling_type (an embedding model's CLS, mean or last token), and
   * mean for a model that states none, as llama-server --pooling mean and ollama embed with a decoder chat model.
   */
  pooling: 'mean' | 'cls' | 'last';
}

export interface EmbedResult {
  /** One per input, in order; as llama.cpp pools them, not normalised (the APIs normalise as theirs do). */
  vectors: number[][];
  /** Tokens each input was embedded from, BOS included. */
  tokens: number[];
}

export interface Engine {
  readonly info: ModelInfo;
  /** With `special`, special-token text such as <|eot_id|> becomes its token. Never adds BOS. */
  tokenize(text: string, special?: boolean): number[];
  detokenize(tokens: number[], special?: boolean): string;
  /** The single token a special-token text maps to, if it is one. */
  specialTokenId(text: string): number | undefined;
  isEndOfGeneration(token: number): boolean;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  /**
   * Log-probabilities (natural log, temperature 1) of `candidates` as the next token after `prompt`. The prompt's
   * cached prefix is reused unless `reuseCache` is false (benchmarks measure what the reuse brings).
   */
  nextTokenLogprobs(prompt: number[], candidates: number[], o?: { reuseCache?: boolean }): Promise<number[]>;
  /**
   * The same model with other LoRA adapters: shares the weights in memory, has its own context (KV cache).
   * Closing the returned engine frees only that context.
   */
  withAdapters(lora: LoraAdapter[]): Promise<Engine>;
  /**
   * The tokens an embedding of `input` reads: a text's tokens (as text: special-token names are plain characters), or
   * token ids as given, with the BOS (and the EOS) the tokenizer adds, unless already there; what node-llama-cpp's
   * getEmbeddingFor and llama-server's /v1/embeddings read.
   */
  embeddingTokens(input: string | number[]): number[];
  /**
   * One vector per input from a context of its own (generation's KV cache is never touched), one input at a time;
   * each decode takes its turn between the generation steps of this engine, never on the same cores at the same time,
   * and the running generations keep at least half the time (lockstep.ts `alone`).
   * An input over `info.embedding.maxTokens` is a UserError. Stops between inputs when `signal` aborts.
   */
  embed(inputs: Array<string | number[]>, o?: { signal?: AbortSignal }): Promise<EmbedResult>;
  close(): Promise<void>;
}
