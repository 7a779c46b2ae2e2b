import { type LlamaEmbeddingContext, type LlamaModel, LlamaVocabularyType, type Token } from 'node-llama-cpp';
import { type GgufFile, meta } from '../../gguf/types.js';
import { UserError } from '../../errors.js';
import type { EmbeddingInfo, EmbedResult } from '../types.js';
import type { Lockstep } from './lockstep.js';

/** Tokens per embedding input unless LoadOptions.embeddingContextSize says otherwise: llama-server's default --ubatch-size. */
export const DEFAULT_EMBEDDING_TOKENS = 512;

/** llama.cpp's enum llama_pooling_type (include/llama.h): the values a GGUF's `<arch>.pooling_type` may hold. */
const POOLING: Record<number, EmbeddingInfo['pooling'] | undefined> = { 1: 'mean', 2: 'cls', 3: 'last' };
const POOLING_MEAN = 1;
const POOLING_NONE = 0;

/**
 * How a model's token vectors become one, and the `<arch>.pooling_type` override it must be loaded with for that.
 * An embedding model states its pooling (BERT's CLS, nomic's mean, Qwen3-Embedding's last token) and keeps it. A
 * decoder chat model states none, and llama.cpp would then give each token's vector (node-llama-cpp's
 * getEmbeddingFor: the last token's); it is mean-pooled instead, as llama-server does with --pooling mean and ollama
 * does for it. The override changes nothing for generation: llama.cpp pools only in contexts made for embeddings.
 * Undefined for a reranker (pooling rank), whose output is a score, not a vector.
 */
export function poolingOf(file: GgufFile, arch: string): { pooling: EmbeddingInfo['pooling']; override?: number } | undefined {
  const stated = meta<number>(file, `${arch}.pooling_type`);
  if (stated === undefined || stated === POOLING_NONE) return { pooling: 'mean', override: POOLING_MEAN };
  const pooling = POOLING[stated];
  return pooling ? { pooling } : undefined;
}

/**
 * Embeddings from a context of their own on a loaded model (created at the first call, so a model that never
 * embeds pays nothing), one input at a time, each decode a solo turn of the engine's lockstep. The whole input is one
 * batch (batchSize = the context), because llama.cpp pools each micro-batch by itself: an input split in two would
 * get the mean of its last part only (llama-server refuses such inputs: "input is too large to process").
 */
export class Embedder {
  private context?: Promise<LlamaEmbeddingContext>;
  /** Set by close(): no decode starts after it. */
  private closed = false;
  /** The decode running now, if any: close() waits for it before freeing the context it runs in. */
  private decoding?: Promise<unknown>;

  constructor(private model: LlamaModel, readonly info: EmbeddingInfo, private threads: number, private lockstep: Lockstep, private vocabSize: number) {}

  /**
   * node-llama-cpp's rule for the tokens it adds around an embedding input (tokenizerUtils.ts, after llama-vocab.cpp's
   * llama_tokenize_impl): BERT's CLS … SEP, T5's EOS, else BOS and EOS as the tokenizer's add_bos/add_eos say. Added
   * here rather than left to getEmbeddingFor, so the limit and `usage` count the tokens that are embedded.
   */
  tokens(input: string | number[]): number[] {
    const tokens = typeof input === 'string' ? (this.model.tokenize(input, false) as number[]) : input.slice();
    const { vocabularyType: type, tokens: t } = this.model;
    const first = type === LlamaVocabularyType.wpm ? t.bos
      : type === LlamaVocabularyType.rwkv || type === LlamaVocabularyType.ugm ? null
        : t.shouldPrependBosToken ? t.bos : null;
    const last = type === LlamaVocabularyType.wpm ? t.sep
      : type === LlamaVocabularyType.ugm ? t.eos
        : type !== LlamaVocabularyType.rwkv && t.shouldAppendEosToken ? t.eos : null;
    if (first != null && tokens[0] !== first) tokens.unshift(first);
    if (last != null && tokens.at(-1) !== last) tokens.push(last);
    return tokens;
  }

  async embed(inputs: Array<string | number[]>, o: { signal?: AbortSignal } = {}): Promise<EmbedResult> {
    const lists = inputs.map((input, i) => {
      if (Array.isArray(input) && input.some((t) => !Number.isInteger(t) || t < 0 || t >= this.vocabSize)) {
        // llama.cpp aborts the whole process on a token id outside the vocabulary.
        throw new UserError(`input ${i} has a token id that is not one of this model's (0 to ${this.vocabSize - 1})`);
      }
      const tokens = this.tokens(input);
      if (tokens.length === 0) throw new UserError(`input ${i} is empty`);
      if (tokens.length > this.info.maxTokens) {
        throw new UserError(`input ${i} is ${tokens.length} tokens; at most ${this.info.maxTokens} are embedded at once (--embedding-ctx-size); shorten or split it`);
      }
      return tokens;
    });
    const context = await this.open();
    const vectors: number[][] = [];
    for (const tokens of lists) {
      o.signal?.throwIfAborted();
      const e = await this.lockstep.alone(() => {
        // Checked when the turn comes, not when it was queued: the engine may have closed in between.
        if (this.closed) throw new Error('the model is closed: it embeds no more');
        const decode = context.getEmbeddingFor(tokens as Token[]);
        this.decoding = decode.catch(() => undefined);
        return decode;
      });
      vectors.push([...e.vector]);
    }
    return { vectors, tokens: lists.map((t) => t.length) };
  }

  private open(): Promise<LlamaEmbeddingContext> {
    if (this.closed) return Promise.reject(new Error('the model is closed: it embeds no more'));
    this.context ??= this.model.createEmbeddingContext({ contextSize: this.info.maxTokens, batchSize: this.info.maxTokens, threads: this.threads })
      .catch((e: Error) => {
        // Not the client's doing (memory, most likely): a server error, and the next request tries again.
        this.context = undefined;
        throw new Error(`could not create the embedding context of ${this.info.maxTokens} tokens: ${e.message}`);
      });
    return this.context;
  }

  /**
   * Frees the embedding context once the decode running in it is done: disposing it under a running decode (a
   * server's shutdown with an embedding in flight) frees memory llama.cpp is still using, and the process crashes.
   */
  async close(): Promise<void> {
    this.closed = true;
    const c = this.context;
    this.context = undefined;
    await this.decoding;
    await (await c?.catch(() => undefined))?.dispose();
  }
}
