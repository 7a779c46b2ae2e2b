/**
 * The tokenizer.* metadata llama.cpp's convert_hf_to_gguf.py writes for a Llama-3 (gpt2-style byte-level BPE)
 * Hugging Face folder: LlamaModel.set_vocab → _set_vocab_gpt2 → get_vocab_base (tokens and their types),
 * get_vocab_base_pre (tokenizer.ggml.pre from a hash of how the tokenizer encodes a fixed text) and SpecialVocab
 * (merges, special ids, add_bos/add_eos, chat template; see specialVocab.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors.js';
import { kv } from '../gguf/writer.js';
import type { KV } from '../gguf/types.js';
import { readSmallFile } from '../util/files.js';
import { CHKTXT, PRE_TOKENIZER_HASHES } from './preTokenizers.js';
import { type AddedTokenJson, type Json, readSpecialVocab, specialVocabKVs } from './specialVocab.js';

export interface TokenizerInfo {
  kvs: KV[];
  /** Number of tokens written (config.json's vocab_size when given, else the tokenizer's own count). */
  vocabSize: number;
  /** The ids llama.cpp's runtime treats as end of generation (llama-vocab.cpp's special_eog_ids) for this vocabulary. */
  eogIds: number[];
}

/** gguf TokenType. */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** tokenizer.json is megabytes (Llama-3's is 9 MB); this bounds what a wrong file could take. */
const MAX_TOKENIZER_JSON = 256 << 20;

/** Token texts llama-vocab.cpp marks as end of generation whatever the ids say. */
const EOG_TEXTS = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>',
  '<end_of_utterance>', '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
]);

function parseJson(path: string, what: string, max?: number): Json {
  const text = readSmallFile(path, what, max);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path} is not valid JSON (${(e as Error).message}); download the model's own ${what} again`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${path} is not a JSON object; download the model's own ${what} again`);
  return v as Json;
}

/** Whether a tokenizer.json component (or a Sequence of them) is ByteLevel: the mark of gpt2-style BPE. */
function hasByteLevel(c: unknown): boolean {
  if (!c || typeof c !== 'object') return false;
  const o = c as Json;
  if (o.type === 'ByteLevel') return true;
  const parts = o.pretokenizers ?? o.decoders ?? o.processors;
  return Array.isArray(parts) && parts.some(hasByteLevel);
}

/** Python's str() of a list of ints: "[1, 2, 3]". */
export function pythonListStr(ids: number[]): string {
  return `[${ids.join(', ')}]`;
}

/** get_vocab_base_pre's chkhsh: sha256 of str(tokenizer.encode(chktxt)). AutoTokenizer.encode adds special tokens by default, so Llama-3's BOS is in it. */
export function preTokenizerHash(tok: Tokenizer): string {
  return createHash('sha256').update(pythonListStr(tok.encode(CHKTXT).ids)).digest('hex');
}

/** The hash → tokenizer.ggml.pre table; where llama.cpp lists a hash twice its later `if` wins. */
const PRE_BY_HASH = new Map(PRE_TOKENIZER_HASHES.map(([h, name]) => [h, name] as const));

export function preTokenizerName(hash: string): string | undefined {
  return PRE_BY_HASH.get(hash);
}

/** GPT-2's bytes_to_unicode, reversed: the byte each printable stand-in character means. */
const BYTE_OF_CHAR: Map<string, number> = (() => {
  const m = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    m.set(String.fromCodePoint(printable ? b : 256 + n++), b);
  }
  return m;
})();

/**
 * get_vocab_base's round trip for an added token that is not normalized: tokenizer.decode(tokenizer.encode(text)).
 * The Rust tokenizer encodes the added token to its own id and decodes it through the ByteLevel decoder, which turns
 * a text made only of byte stand-ins into those bytes (invalid UTF-8 becoming U+FFFD) and leaves any other text as
 * it is; transformers then applies clean_up_tokenization when tokenizer_config.json asks for it.
 */
export function byteLevelRoundTrip(text: string, cleanUp: boolean): string {
  const bytes: number[] = [];
  let all = true;
  for (const ch of text) {
    const b = BYTE_OF_CHAR.get(ch);
    if (b === undefined) { all = false; break; }
    bytes.push(b);
  }
  let out = all ? new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes)) : text;
  if (cleanUp) {
    // transformers' PreTrainedTokenizerBase.clean_up_tokenization
    out = out.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',').replaceAll(" ' ", "'")
      .replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s").replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
  }
  return out;
}

/** ModelBase.does_token_look_special. */
function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t)
    || (t.startsWith('<|') && t.endsWith('|>'))
    || (t.startsWith('<｜') && t.endsWith('｜>'))
    || (t.startsWith('<unused') && t.endsWith('>'));
}

function readFolder(dir: string) {
  const tjPath = join(dir, 'tokenizer.json');
  if (!existsSync(tjPath)) {
    if (existsSync(join(dir, 'tokenizer.model'))) {
      throw new UserError(`${dir} has a sentencepiece tokenizer.model and no tokenizer.json: llama3-zh converts Llama-3 folders (byte-level BPE in tokenizer.json); convert this model with llama.cpp's convert_hf_to_gguf.py`);
    }
    throw new UserError(`${dir} has no tokenizer.json; copy the model's tokenizer.json and tokenizer_config.json into it (llama3-zh converts Llama-3 BPE tokenizers)`);
  }
  const tj = parseJson(tjPath, 'tokenizer.json', MAX_TOKENIZER_JSON);
  const model = (tj.model && typeof tj.model === 'object' ? tj.model : {}) as Json;
  const type = model.type ?? (model.merges !== undefined ? 'BPE' : undefined);
  if (type !== 'BPE') {
    throw new UserError(`${tjPath}: the tokenizer model is ${type === undefined ? 'missing' : JSON.stringify(type)}, not BPE; llama3-zh converts Llama-3 (byte-level BPE) tokenizers`);
  }
  if (!model.vocab || typeof model.vocab !== 'object' || Array.isArray(model.vocab)) {
    throw new UserError(`${tjPath}: model.vocab is missing or not an object; download the model's own tokenizer.json again`);
  }
  if (!hasByteLevel(tj.pre_tokenizer) && !hasByteLevel(tj.decoder)) {
    throw new UserError(`${tjPath} is a sentencepiece-style BPE (Llama-2/Mistral), not Llama-3's byte-level BPE: llama3-zh converts Llama-3 tokenizers; convert this model with llama.cpp's convert_hf_to_gguf.py`);
  }
  const tcPath = join(dir, 'tokenizer_config.json');
  const tc = existsSync(tcPath) ? parseJson(tcPath, 'tokenizer_config.json') : undefined;
  return { tjPath, tj, model, tc };
}

export async function tokenizerMetadata(dir: string, opts: { vocabSize?: number } = {}): Promise<TokenizerInfo> {
  const { tjPath, tj, model, tc } = readFolder(dir);
  const added = (Array.isArray(tj.added_tokens) ? tj.added_tokens : []) as AddedTokenJson[];
  const special = readSpecialVocab(dir, tj, tc === undefined ? undefined : structuredClone(tc), tjPath);

  // tokenizer.vocab: the model's vocabulary with the added tokens over it.
  const idOf = new Map<string, number>(Object.entries(model.vocab as Record<string, number>));
  const addedByContent = new Map<string, AddedTokenJson>();
  for (const a of added) { idOf.set(a.content, a.id); addedByContent.set(a.content, a); }
  const textOf = new Map<number, string>();
  let maxId = -1;
  for (const [t, id] of idOf) {
    if (!Number.isInteger(id) || id < 0) throw new UserError(`${tjPath}: token ${JSON.stringify(t)} has id ${JSON.stringify(id)}, not a token id; download the model's own tokenizer.json again`);
    textOf.set(id, t);
    if (id > maxId) maxId = id;
  }
  const vocabSize = opts.vocabSize ?? idOf.size;
  if (maxId >= vocabSize) {
    throw new UserError(`config.json's vocab_size ${vocabSize} is smaller than the tokenizer, whose largest token id is ${maxId}; the model and ${tjPath} do not belong together`);
  }

  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tj, tc ?? {});
  } catch (e) {
    throw new UserError(`${tjPath} cannot be loaded as a tokenizer (${(e as Error).message}); download the model's own tokenizer.json again`);
  }
  const hash = preTokenizerHash(tok);
  const pre = preTokenizerName(hash);
  if (pre === undefined) {
    throw new UserError(`the tokenizer in ${dir} is not one llama.cpp recognises (pre-tokenizer hash ${hash}), so its GGUF would tokenize wrongly; use the base model's own tokenizer.json and tokenizer_config.json (a Llama-3 one hashes to llama-bpe)`);
  }

  const cleanUp = tc?.clean_up_tokenization_spaces === true;
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    let t = textOf.get(i);
    if (t === undefined) {
      tokens.push(`[PAD${i}]`);
      types.push(TOKEN_TYPE.UNUSED);
      continue;
    }
    const a = addedByContent.get(t);
    if (!a) {
      types.push(TOKEN_TYPE.NORMAL);
    } else {
      // llama.cpp's tokenizer takes CONTROL and USER_DEFINED texts as already normalized.
      if (!a.normalized) t = byteLevelRoundTrip(t, cleanUp);
      if (a.special || looksSpecial(t)) {
        types.push(TOKEN_TYPE.CONTROL);
      } else {
        t = t.replaceAll('\u2581', ' '); // pre-normalize user-defined spaces (added for Gemma)
        types.push(TOKEN_TYPE.USER_DEFINED);
      }
    }
    tokens.push(t);
  }

  const kvs: KV[] = [];
  // LlamaModel.set_vocab, before _set_vocab_gpt2.
  if (tc && tc.add_prefix_space !== undefined && tc.add_prefix_space !== null) kvs.push(kv.bool('tokenizer.ggml.add_space_prefix', !!tc.add_prefix_space));
  kvs.push(
    kv.str('tokenizer.ggml.model', 'gpt2'),
    kv.str('tokenizer.ggml.pre', pre),
    kv.strs('tokenizer.ggml.tokens', tokens),
    kv.i32s('tokenizer.ggml.token_type', types),
    ...specialVocabKVs(special),
  );
  if (vocabSize === 49152) {
    // LlamaModel.set_vocab: granite's small models never add BOS.
    const at = kvs.findIndex((m) => m.key === 'tokenizer.ggml.add_bos_token');
    const off = kv.bool('tokenizer.ggml.add_bos_token', false);
    if (at >= 0) kvs[at] = off; else kvs.push(off);
  }

  const eog = new Set<number>();
  tokens.forEach((t, i) => { if (EOG_TEXTS.has(t)) eog.add(i); });
  for (const typ of ['eos', 'eot', 'eom']) { const id = special.ids.get(typ); if (id !== undefined) eog.add(id); }
  return { kvs, vocabSize, eogIds: [...eog].sort((x, y) => x - y) };
}
