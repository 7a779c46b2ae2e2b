import { availableParallelism } from 'node:os';
import {
  type Llama, type LlamaContext, type LlamaGrammar, LlamaGrammarEvaluationState, type LlamaModel, type Token,
  TokenBias,
} from 'node-llama-cpp';
import { readGguf } from '../../gguf/reader.js';
import { type GgufFile, meta } from '../../gguf/types.js';
import { UserError } from '../../errors.js';
import { checkFits } from '../errors.js';
import { checkAdapters, readModelFile } from '../modelFile.js';
import { TextStream } from '../textStream.js';
import {
  type EmbedResult, type Engine, type FinishReason, type GenerateRequest, type GenerateResult, GREEDY, type LoadOptions, type LoraAdapter,
  type ModelInfo, type OutputFormat, type Sampling, type TokenLogprob,
} from '../types.js';
import { DEFAULT_EMBEDDING_TOKENS, Embedder, poolingOf } from './embedder.js';
import { grammarSchema } from './jsonSchema.js';
import { Lockstep } from './lockstep.js';
import { recentErrors, runtime } from './runtime.js';
import { SequencePool } from './sequencePool.js';

/**
 * node-llama-cpp sends a whole-number override as an int, which llama.cpp ignores for float keys.
 * A nudge below float32 precision makes it a float without changing the value llama.cpp stores.
 */
function asFloatOverride(v: number): number {
  return Number.isInteger(v) ? v * (1 + 2 ** -40) : v;
}

/**
 * A schema's grammar, or a rejection that says why not. node-llama-cpp converts the schema synchronously and
 * console.warn's what it cannot honour (a $ref outside #/$defs, maxItems below prefixItems…) before going on
 * with a looser grammar; the warnings are caught here and become the error, so the server's log stays clean
 * and the client learns its schema was not followed (grammarSchema refuses what we know of beforehand; this
 * catches what a node-llama-cpp upgrade may add).
 */
function schemaGrammar(llama: Llama, schema: unknown): Promise<LlamaGrammar> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { warnings.push(String(args.at(-1))); };
  let grammar: Promise<LlamaGrammar>;
  try {
    grammar = llama.createGrammarForJsonSchema(schema as never);
  } finally {
    console.warn = warn;
  }
  if (!warnings.length) return grammar;
  grammar.catch(() => {});
  return Promise.reject(new Error(warnings[0].replace(/\. .*$/s, '')));
}

/** The grammars that JSON output needs, compiled once per model and schema. */
class Grammars {
  private cache = new Map<string, Promise<LlamaGrammar>>();
  constructor(private llama: Llama) {}

  get(format: OutputFormat): Promise<LlamaGrammar> {
    // Checked (iteratively, with size limits) before anything recursive sees the schema: JSON.stringify below,
    // node-llama-cpp's grammar builder, llama.cpp's parser.
    const schema = format.type === 'json_schema' ? grammarSchema(format.schema) : undefined;
    const key = JSON.stringify(schema ?? format);
    let g = this.cache.get(key);
    if (g) {
      // Most recently used last; the oldest goes when the cache is full, so clients cannot grow it without end.
      this.cache.delete(key);
      this.cache.set(key, g);
    } else {
      if (this.cache.size >= 32) this.cache.delete(this.cache.keys().next().value!);
      g = format.type === 'json'
        ? this.llama.getGrammarFor('json')
        : schemaGrammar(this.llama, schema).catch((e: Error) => {
          this.cache.delete(key);
          throw new UserError(`the JSON schema is not supported: ${e.message}`);
        });
      this.cache.set(key, g);
    }
    return g;
  }
}

/** node-llama-cpp's JSON grammars end a finished value with four newlines; that is where the reply ends. */
const GRAMMAR_END = '\n\n\n\n';

/** Never silently drop the start of the conversation to make room: we stop at the context size instead. */
const NO_SHIFT = { strategy: 'eraseBeginning', size: 0 } as const;

/** Prompt tokens one request evaluates per lockstep step (see generate). */
const PREFILL_CHUNK = 128;

/**
 * The most context tokens (all sequences together) we ask llama.cpp for. Past this, node-llama-cpp and llama.cpp
 * take tens of GB and minutes before they fail (--ctx-size 4000000000 on a 2-layer test model: 16 GB, still going
 * after 60 s); the longest-context Llama-3 variants take 1M.
 */
const MAX_CONTEXT = 1 << 22;

export class LlamaCppEngine implements Engine {
  private constructor(
    readonly info: ModelInfo,
    private model: LlamaModel,
    private context: LlamaContext,
    private pool: SequencePool,
    private grammars: Grammars,
    /** The engine that loaded the model frees it; engines made by withAdapters free only their context. */
    private ownsModel: boolean,
    private options: LoadOptions,
    /** Drives all running generations one decode step at a time, and gives embeddings their turns (see lockstep.ts). */
    private lockstep = new Lockstep(),
  ) {
    this.embedder = info.embedding && new Embedder(model, info.embedding, info.threads, this.lockstep, info.vocabSize);
  }

  /** The model's embeddings (embedder.ts); none on an engine with adapters, whose embeddings would not be the adapter's. */
  private embedder?: Embedder;

  /** `file`: the header as readModelFile read and checked it (loadEngine does, before importing this module). */
  static async load(o: LoadOptions, file: GgufFile = readModelFile(o)): Promise<LlamaCppEngine> {
    const arch = meta<string>(file, 'general.architecture') ?? '';
    const trainCtx = Number(meta(file, `${arch}.context_length`) ?? 4096);
    const contextSize = o.contextSize ?? Math.min(trainCtx, 8192);
    if (!Number.isInteger(contextSize) || contextSize < 16) {
      throw new UserError(o.contextSize === undefined
        ? `${o.modelPath}: its context length (${arch}.context_length) is ${trainCtx}; we need at least 16 tokens. Give --ctx-size N`
        : `--ctx-size must be a whole number of at least 16 (got ${o.contextSize})`);
    }
    const threads = o.threads ?? availableParallelism();
    const parallel = o.parallel ?? 1;
    if (contextSize * parallel > MAX_CONTEXT) {
      const asked = parallel > 1 ? `${contextSize} tokens × ${parallel} sequences` : `${contextSize} tokens`;
      throw new UserError(`a context of ${asked} is more than the ${MAX_CONTEXT.toLocaleString('en-US')} tokens we load; give a smaller --ctx-size`);
    }

    const embedTokens = o.embeddingContextSize ?? Math.min(DEFAULT_EMBEDDING_TOKENS, trainCtx);
    if (!Number.isInteger(embedTokens) || embedTokens < 1 || embedTokens > MAX_CONTEXT) {
      throw new UserError(`--embedding-ctx-size must be a whole number from 1 to ${MAX_CONTEXT} (got ${embedTokens})`);
    }
    // The docs' "at most the model's context": past it the positions are not ones the model learned, and the context,
    // taken at the first embedding request, would cost ~1 MB a token (a 500 at every request when memory runs out).
    if (embedTokens > trainCtx) {
      throw new UserError(`--embedding-ctx-size ${embedTokens} is more than the ${trainCtx} tokens this model was trained for; give at most ${trainCtx}`);
    }
    const pooling = poolingOf(file, arch);

    const llama = await runtime(o.gpu ?? 'auto');
    let model: LlamaModel;
    try {
      const overrides = {
        ...(o.ropeFreqBase !== undefined ? { rope: { freq_base: asFloatOverride(o.ropeFreqBase) } } : {}),
        ...(pooling?.override !== undefined ? { pooling_type: pooling.override } : {}),
      };
      model = await llama.loadModel({
        modelPath: o.modelPath,
        metadataOverrides: Object.keys(overrides).length ? ({ [arch]: overrides } as never) : undefined,
      });
    } catch (e) {
      const why = recentErrors.filter((l) => !/failed to load model/i.test(l)).pop() ?? (e as Error).message;
      throw new UserError(`${o.modelPath}: llama.cpp could not load this model: ${why}`);
    }
    let context: LlamaContext;
    try {
      context = await LlamaCppEngine.createContext(model, { ...o, contextSize, threads, parallel });
    } catch (e) {
      await model.dispose();
      throw e;
    }
    const bosId = model.tokens.bos ?? undefined;
    const fileRopeBase = meta(file, `${arch}.rope.freq_base`);
    const info: ModelInfo = {
      path: o.modelPath,
      name: meta<string>(file, 'general.name') ?? o.modelPath,
      contextSize: Math.floor(context.contextSize / parallel),
      trainContextSize: trainCtx,
      ropeFreqBase: o.ropeFreqBase ?? (typeof fileRopeBase === 'number' ? fileRopeBase : undefined),
      parallel,
      threads,
      chatTemplate: meta<string>(file, 'tokenizer.chat_template'),
      bosToken: model.tokens.bosString ?? undefined,
      eosToken: model.tokens.eosString ?? undefined,
      addBos: model.tokens.shouldPrependBosToken,
      bosId,
      vocabSize: (() => { const t = file.metadata.get('tokenizer.ggml.tokens'); return t?.skipped ?? (Array.isArray(t?.value) ? t.value.length : 0); })(),
      // node-llama-cpp's embedding contexts take no LoRA adapters: a model loaded with some would embed as its base.
      embedding: pooling && !o.lora?.length ? { size: model.embeddingVectorSize, maxTokens: embedTokens, pooling: pooling.pooling } : undefined,
    };
    return new LlamaCppEngine(info, model, context, new SequencePool(context, parallel), new Grammars(llama), true, { ...o, contextSize, threads, parallel });
  }

  private static async createContext(model: LlamaModel, o: LoadOptions & { contextSize: number; threads: number; parallel: number }): Promise<LlamaContext> {
    try {
      return await model.createContext({
        contextSize: o.contextSize * o.parallel,
        sequences: o.parallel,
        threads: o.threads,
        batchSize: o.batchSize,
        lora: o.lora?.length ? { adapters: o.lora.map((a) => ({ filePath: a.path, scale: a.scale })) } : undefined,
      });
    } catch (e) {
      throw new UserError(`could not create a context of ${o.contextSize} tokens × ${o.parallel} sequences: ${(e as Error).message}`);
    }
  }

  async withAdapters(lora: LoraAdapter[]): Promise<Engine> {
    checkAdapters(lora, readGguf(this.info.path, { skipArrays: true }));
    const o = { ...this.options, lora, contextSize: this.info.contextSize, threads: this.info.threads, parallel: this.info.parallel };
    const context = await LlamaCppEngine.createContext(this.model, o);
    return new LlamaCppEngine({ ...this.info, embedding: undefined }, this.model, context, new SequencePool(context, o.parallel), this.grammars, false, o);
  }

  tokenize(text: string, special = false): number[] {
    return this.model.tokenize(text, special) as number[];
  }

  detokenize(tokens: number[], special = false): string {
    return this.model.detokenize(tokens as Token[], special);
  }

  specialTokenId(text: string): number | undefined {
    const t = this.model.tokenize(text, true);
    return t.length === 1 && this.model.detokenize(t, true) === text ? t[0] : undefined;
  }

  isEndOfGeneration(token: number): boolean {
    return this.model.isEogToken(token as Token);
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const { prompt } = req;
    const ctx = this.info.contextSize;
    if (prompt.length === 0) throw new UserError('the prompt is empty');
    if (!(req.maxTokens >= 1)) throw new UserError(`max tokens must be at least 1 (got ${req.maxTokens})`);
    checkFits(this.info, prompt.length);
    const s: Sampling = { ...GREEDY, ...req.sampling };
    const maxTokens = Math.min(req.maxTokens, ctx - prompt.length);
    const stopTokens = new Set(req.stopTokens ?? []);
    const stream = new TextStream((t) => this.detokenize(t), [...(req.stopStrings ?? []), ...(req.format ? [GRAMMAR_END] : [])]);
    const grammar = req.format ? await this.grammars.get(req.format) : undefined;
    const topN = req.logprobs;
    const logprobs: TokenLogprob[] | undefined = topN !== undefined ? [] : undefined;

    const seq = await this.pool.acquire(prompt);
    const tokens: number[] = [];
    let finishReason: FinishReason = 'length';
    let stoppedBy: number | string | undefined;
    let cached = 0;
    let prefilled: (() => void) | undefined;
    const t0 = performance.now();
    let tFirst = t0;
    try {
      if (req.signal?.aborted) {
        finishReason = 'abort';
      } else {
        ({ cached, done: prefilled } = await this.pool.share(seq, prompt, await SequencePool.reuse(seq, prompt), req.signal));
        const history = prompt.slice();
        const recent = () => history.slice(-s.repeatLastN);
        const penalize = s.repeatLastN > 0 && (s.repeatPenalty !== 1 || s.presencePenalty !== 0 || s.frequencyPenalty !== 0);
        this.lockstep.join();
        let it: ReturnType<typeof seq.evaluateWithMetadata> | undefined;
        try {
          // Chunked prefill (vLLM's, llama-server's n_ubatch-sized prompt steps): a long prompt goes in one
          // lockstep step of PREFILL_CHUNK tokens at a time, beside the running requests' next tokens, so it
          // delays them by one chunk's time per step instead of stalling them for the whole prompt.
          let at = cached;
          while (prompt.length - at > PREFILL_CHUNK && !req.signal?.aborted) {
            const chunk = prompt.slice(at, at + PREFILL_CHUNK) as Token[];
            await this.lockstep.next(this.pool.id(seq), () => seq.evaluateWithoutGeneratingNewTokens(chunk, { contextShift: NO_SHIFT }));
            at += chunk.length;
            this.pool.stepped(seq);
          }
          if (req.signal?.aborted) finishReason = 'abort';
          else it = seq.evaluateWithMetadata(prompt.slice(at) as Token[], { probabilities: topN !== undefined }, {
            temperature: s.temperature,
            topK: s.temperature > 0 ? s.topK : undefined,
            topP: s.temperature > 0 ? s.topP : undefined,
            minP: s.temperature > 0 ? s.minP : undefined,
            seed: s.seed,
            repeatPenalty: penalize
              ? { punishTokens: recent as () => Token[], penalty: s.repeatPenalty, presencePenalty: s.presencePenalty, frequencyPenalty: s.frequencyPenalty }
              : undefined,
            grammarEvaluationState: grammar ? new LlamaGrammarEvaluationState({ model: this.model, grammar }) : undefined,
            tokenBias: s.logitBias?.size ? this.tokenBias(s.logitBias) : undefined,
            yieldEogToken: true,
            contextShift: NO_SHIFT,
          });
          const live = it;
          while (live) {
            const step = await this.lockstep.next(this.pool.id(seq), () => live.next());
            if (step.done) break;
            const { token } = step.value;
            if (tokens.length === 0) { tFirst = performance.now(); prefilled?.(); }
            let lp: TokenLogprob | undefined;
            if (logprobs) {
              // Sorted most likely first, over the distribution the sampler drew from.
              const probs = (step.value as { probabilities?: Map<Token, number> }).probabilities ?? new Map<Token, number>();
              const top: TokenLogprob['top'] = [];
              for (const [t, p] of probs) { if (top.length >= topN!) break; top.push({ token: t, logprob: Math.log(p) }); }
              lp = { token, logprob: Math.log(probs.get(token) ?? 0), top };
            }
            if (!req.ignoreEndOfGeneration && (stopTokens.has(token) || this.model.isEogToken(token))) {
              finishReason = 'stop';
              stoppedBy = token;
              break;
            }
            tokens.push(token);
            if (lp) logprobs!.push(lp);
            req.onToken?.(token, lp);
            history.push(token);
            const delta = stream.push(token);
            if (delta) req.onText?.(delta);
            if (stream.done) { finishReason = 'stop'; stoppedBy = stream.stoppedBy; break; }
            if (req.signal?.aborted) { finishReason = 'abort'; break; }
            if (tokens.length >= maxTokens) break;
          }
        } finally {
          this.lockstep.leave();
          await it?.return();
        }
      }
    } finally {
      prefilled?.();
      this.pool.release(seq);
    }
    const tail = stream.flush();
    if (tail) req.onText?.(tail);
    if (stream.stoppedBy !== undefined) { finishReason = 'stop'; stoppedBy = stream.stoppedBy; }
    const tEnd = performance.now();
    const promptMs = tFirst - t0;
    const generationMs = tEnd - tFirst;
    const evaluated = prompt.length - cached;
    return {
      // A grammar's closing newlines are its end marker, not part of the JSON.
      text: req.format && stoppedBy === GRAMMAR_END ? stream.result.trimEnd() : stream.result,
      tokens,
      finishReason,
      stoppedBy: req.format && stoppedBy === GRAMMAR_END ? undefined : stoppedBy,
      logprobs,
      usage: { promptTokens: prompt.length, completionTokens: tokens.length, cachedTokens: cached },
      timings: {
        promptMs,
        generationMs,
        promptTokensPerSecond: promptMs > 0 ? (evaluated / promptMs) * 1000 : 0,
        // The first token comes with the prompt pass; the rest are the decode rate.
        generationTokensPerSecond: generationMs > 0 && tokens.length > 1 ? ((tokens.length - 1) / generationMs) * 1000 : 0,
      },
    };
  }

  /** OpenAI's logit_bias as llama.cpp's logit-bias sampler takes it. */
  private tokenBias(bias: ReadonlyMap<number, number>): TokenBias {
    const tb = new TokenBias(this.model.tokenizer);
    for (const [token, b] of bias) {
      const logit = b <= -100 ? -Infinity : b;
      // TokenBias.set skips end-of-generation tokens, so a client could not ban <|eot_id|> (to get a reply of
      // a fixed length) or favour it; the sampler itself takes any token, so those go into its table directly.
      if (this.model.isEogToken(token as Token)) (tb as unknown as { _biases: Map<Token, number> })._biases.set(token as Token, logit);
      else tb.set(token as Token, { logit });
    }
    return tb;
  }

  async nextTokenLogprobs(prompt: number[], candidates: number[], o: { reuseCache?: boolean } = {}): Promise<number[]> {
    if (prompt.length === 0) throw new UserError('the prompt is empty');
    checkFits(this.info, prompt.length);
    const seq = await this.pool.acquire(prompt);
    try {
      const { cached, done } = o.reuseCache === false
        ? { cached: await SequencePool.clear(seq), done: () => {} }
        : await this.pool.share(seq, prompt, await SequencePool.reuse(seq, prompt));
      const rest = prompt.slice(cached) as Token[];
      const last = rest.length - 1;
      const out = await seq.controlledEvaluate([
        ...rest.slice(0, last),
        // includeTop: 1 brings the top token's logit (the normaliser needs the maximum; includeMax does not give it).
        [rest[last], { generateNext: { logits: { filter: { tokens: candidates as Token[], includeTop: 1 } }, totalLogitWeight: true } }],
      ]).finally(done);
      const next = out[last]?.next;
      if (!next?.logits || next.totalLogitWeight === undefined) throw new Error('llama.cpp returned no logits');
      const logits = next.logits;
      const max = Math.max(...logits.values());
      // log softmax: x - max - log(sum(exp(x - max)))
      const logZ = max + Math.log(next.totalLogitWeight);
      return candidates.map((c) => (logits.get(c as Token) ?? -Infinity) - logZ);
    } finally {
      this.pool.release(seq);
    }
  }

  embeddingTokens(input: string | number[]): number[] {
    return this.embedderOrRefuse().tokens(input);
  }

  embed(inputs: Array<string | number[]>, o: { signal?: AbortSignal } = {}): Promise<EmbedResult> {
    return this.embedderOrRefuse().embed(inputs, o);
  }

  private embedderOrRefuse(): Embedder {
    if (!this.embedder) {
      throw new UserError(!this.ownsModel || this.options.lora?.length
        ? 'a model with LoRA adapters does not embed here (node-llama-cpp\'s embedding contexts take no adapters, so it would embed as its base model); use --embedding-model FILE'
        : `${this.info.path} is a reranker (its pooling_type is rank): it scores pairs and gives no embedding vectors`);
    }
    return this.embedder;
  }

  async close(): Promise<void> {
    await this.embedder?.close();
    await this.context.dispose();
    if (this.ownsModel) await this.model.dispose();
  }
}
