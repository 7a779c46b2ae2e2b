import assert from 'node:assert/strict';
import { getLlama, type LlamaEmbeddingContext, type LlamaModel, LlamaLogLevel, type Token } from 'node-llama-cpp';

/** Short sentences, Chinese and English, an emoji: what retrieval embeds. */
export const SENTENCES = ['今天天气很好，我们去公园散步吧。', '机器学习是人工智能的一个分支。', 'The quick brown fox jumps over the lazy dog.', '猫坐在垫子上🐱', '北京是中国的首都'];

export interface Reference {
  model: LlamaModel;
  /** node-llama-cpp's getEmbeddingFor: the vector as llama.cpp gives it. */
  embed(input: string | number[]): Promise<number[]>;
  /** The tokens getEmbeddingFor reads for a text: BOS and the text's tokens. */
  tokens(text: string): number[];
  close(): Promise<void>;
}

/**
 * node-llama-cpp's own embeddings of a GGUF, loaded here on their own, not through our engine. `mean`: loaded with
 * pooling_type mean (llama.cpp pools); `last`: as the file is, so getEmbeddingFor gives the last token's vector.
 */
export async function reference(path: string, pooling: 'mean' | 'last', contextSize = 256): Promise<Reference> {
  // The GPU choice our engine makes by default ('auto'), so both compute on the same backend.
  const llama = await getLlama({ gpu: 'auto', build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 0 });
  const model = await llama.loadModel({ modelPath: path, metadataOverrides: pooling === 'mean' ? { llama: { pooling_type: 1 } } as never : undefined });
  const context: LlamaEmbeddingContext = await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads: 1 });
  return {
    model,
    embed: async (input) => [...(await context.getEmbeddingFor(typeof input === 'string' ? input : input as Token[])).vector],
    tokens: (text) => [model.tokens.bos!, ...model.tokenize(text)],
    close: async () => { await context.dispose(); await model.dispose(); },
  };
}

export function unit(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
}

/** Every component within `tol`. */
export function assertClose(got: ArrayLike<number>, want: number[], what: string, tol = 1e-5) {
  assert.equal(got.length, want.length, `${what}: ${got.length} numbers, expected ${want.length}`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= tol, `${what}: differs by ${worst} (tolerance ${tol})`);
}

export const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  return dot / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
};
