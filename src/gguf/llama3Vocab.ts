import tokenizer from 'llama3-tokenizer-js';
import { kv } from './writer.js';
import type { KV } from './types.js';

/** The real Llama-3 vocabulary (128256 tokens, 280147 merges), as the npm package llama3-tokenizer-js ships it. */
export const VOCAB_SIZE = 128256;
export const FIRST_SPECIAL = 128000;
export const TOKEN = {
  BOS: 128000, END_OF_TEXT: 128001, START_HEADER: 128006, END_HEADER: 128007, EOM: 128008, EOT: 128009,
  /** "\n\n", the last token of every Llama-3 generation prompt */
  BLANK_LINE: 271,
  /** "assistant" */
  ASSISTANT: 78191,
} as const;

/** Encode text to token ids exactly as llama.cpp's llama-bpe pre-tokenizer does (no BOS). */
export function encode(text: string): number[] {
  return tokenizer.encode(text, { bos: false, eos: false });
}

export function decode(ids: number[]): string {
  return tokenizer.decode(ids);
}

let cached: KV[] | undefined;

/** The tokenizer.ggml.* metadata of a Llama-3 GGUF (gpt2-style BPE, llama-bpe pre-tokenizer). */
export function llama3TokenizerKVs(): KV[] {
  if (!cached) {
    const tokens = tokenizer.vocabById.slice();
    if (tokens.length !== VOCAB_SIZE) throw new Error(`llama3-tokenizer-js has ${tokens.length} tokens, expected ${VOCAB_SIZE}`);
    const types = tokens.map((_, i) => (i >= FIRST_SPECIAL ? 3 : 1)); // 3 = control, 1 = normal
    const merges = [...tokenizer.merges.keys()]; // insertion order is merge priority
    cached = [
      kv.str('tokenizer.ggml.model', 'gpt2'),
      kv.str('tokenizer.ggml.pre', 'llama-bpe'),
      kv.strs('tokenizer.ggml.tokens', tokens),
      kv.i32s('tokenizer.ggml.token_type', types),
      kv.strs('tokenizer.ggml.merges', merges),
      kv.u32('tokenizer.ggml.bos_token_id', TOKEN.BOS),
    ];
  }
  return cached;
}
