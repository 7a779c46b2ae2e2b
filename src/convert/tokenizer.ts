/**
 * STAND-IN until helper "tok"'s tokenizer.ts lands (the lead takes tok's file over this one): the contract's
 * signature, with the real Llama-3 vocabulary from gguf/llama3Vocab.ts rather than one read from tokenizer.json.
 * It checks that the folder has a Llama-3 tokenizer.json (128000 BPE tokens + specials), takes eos and the chat
 * template from tokenizer_config.json, and pads the vocabulary to config.json's vocab_size as llama.cpp does.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { FIRST_SPECIAL, llama3TokenizerKVs, VOCAB_SIZE } from '../gguf/llama3Vocab.js';
import type { KV } from '../gguf/types.js';
import { kv } from '../gguf/writer.js';
import { readSmallFile } from '../util/files.js';

export interface TokenizerInfo { kvs: KV[]; vocabSize: number; eogIds: number[] }

function json(path: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(readSmallFile(path, what, 64 << 20)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path} is not valid JSON (${(e as Error).message})`);
  }
}

export async function tokenizerMetadata(dir: string, opts: { vocabSize?: number } = {}): Promise<TokenizerInfo> {
  const tj = join(dir, 'tokenizer.json');
  if (!existsSync(tj)) throw new UserError(`${dir} has no tokenizer.json; convert needs the model's Llama-3 tokenizer (download the whole folder)`);
  const tok = json(tj, 'tokenizer.json');
  const model = tok.model as { type?: string; vocab?: Record<string, number> } | undefined;
  const added = (tok.added_tokens ?? []) as Array<{ id: number; content: string }>;
  if (model?.type !== 'BPE' || !model.vocab || Object.keys(model.vocab).length !== FIRST_SPECIAL) {
    throw new UserError(`${tj} is not a Llama-3 BPE tokenizer (${model?.type ?? 'no model type'}, ${model?.vocab ? Object.keys(model.vocab).length : 0} tokens); convert maps the Llama-3 tokenizer only`);
  }
  const byContent = new Map(added.map((a) => [a.content, a.id]));
  const tcPath = join(dir, 'tokenizer_config.json');
  const tc = existsSync(tcPath) ? json(tcPath, 'tokenizer_config.json') : {};
  const name = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | null)?.content);
  const eosName = name(tc.eos_token);
  const eos = eosName !== undefined ? byContent.get(eosName) : undefined;
  const kvs = [...llama3TokenizerKVs()];
  const vocabSize = Math.max(opts.vocabSize ?? VOCAB_SIZE, VOCAB_SIZE);
  if (vocabSize > VOCAB_SIZE) {
    const tokens = kvs.find((k) => k.key === 'tokenizer.ggml.tokens')!;
    const types = kvs.find((k) => k.key === 'tokenizer.ggml.token_type')!;
    const pad = Array.from({ length: vocabSize - VOCAB_SIZE }, (_, i) => `[PAD${VOCAB_SIZE + i}]`);
    kvs[kvs.indexOf(tokens)] = kv.strs(tokens.key, [...(tokens.value as string[]), ...pad]);
    kvs[kvs.indexOf(types)] = kv.i32s(types.key, [...(types.value as number[]), ...pad.map(() => 5)]); // 5 = USER_DEFINED
  }
  if (eos !== undefined) kvs.push(kv.u32('tokenizer.ggml.eos_token_id', eos));
  if (typeof tc.chat_template === 'string') kvs.push(kv.str('tokenizer.chat_template', tc.chat_template));
  const eogIds = [...new Set([eos, byContent.get('<|eot_id|>'), byContent.get('<|end_of_text|>'), byContent.get('<|eom_id|>')])].filter((x): x is number => x !== undefined);
  return { kvs, vocabSize, eogIds };
}
