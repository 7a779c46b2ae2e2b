/**
 * A Hugging Face Llama-3 tokenizer folder as Meta ships it (tokenizer.json + tokenizer_config.json), built from
 * llama3-tokenizer-js's vocabulary and merges, so the converter's tests read the real 128k BPE without a download.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tokenizer from 'llama3-tokenizer-js';
import { LLAMA3_JINJA } from '../../src/chat/officialTemplates.js';

export interface Llama3TokenizerOptions {
  /** Meta-Llama-3-8B-Instruct: eos <|eot_id|> and Meta's chat template (base model: eos <|end_of_text|>, no template). */
  instruct?: boolean;
  /** tokenizer_config.json's chat_template instead of Meta's (instruct only, unless given). */
  chatTemplate?: string;
  /** '3' = Meta-Llama-3 special-token names; '3.1' = Llama-3.1's (<|finetune_right_pad_id|>, <|eom_id|>, <|python_tag|>). */
  version?: '3' | '3.1';
  /** Merges as Meta saved them ("a b" strings) or as transformers >= 4.45 saves them (["a", "b"] pairs). */
  merges?: 'strings' | 'pairs';
  /**
   * 'sequence': Meta's current file, Sequence[ByteLevel, TemplateProcessing adding <|begin_of_text|>].
   * 'bytelevel': Meta's first upload, ByteLevel alone, which added no BOS (Smaug-Llama-3 kept it; llama.cpp calls it smaug-bpe).
   * 'template': a bare TemplateProcessing, as some derived models save it.
   */
  postProcessor?: 'sequence' | 'template' | 'bytelevel';
}

export const FIRST_SPECIAL = 128000;
export const N_SPECIAL = 256;

/** Meta-Llama-3's tokenizer.json pre-tokenizer regex (tiktoken's cl100k-like pattern with \p{N}{1,3}). */
export const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The 256 special tokens, 128000..128255, named as the given release names them. */
export function specialTokenNames(version: '3' | '3.1' = '3'): string[] {
  // llama3-tokenizer-js carries Llama-3.1's names.
  if (version === '3.1') return tokenizer.vocabById.slice(FIRST_SPECIAL, FIRST_SPECIAL + N_SPECIAL);
  const fixed: Record<number, string> = {
    0: '<|begin_of_text|>', 1: '<|end_of_text|>', 6: '<|start_header_id|>', 7: '<|end_header_id|>', 9: '<|eot_id|>',
  };
  const names: string[] = [];
  let reserved = 0;
  for (let i = 0; i < N_SPECIAL; i++) names.push(fixed[i] ?? `<|reserved_special_token_${reserved++}|>`);
  return names;
}

export const LLAMA31_JINJA_PATH = new URL('../../../test/fixtures/llama3.1-instruct.jinja', import.meta.url);

/** The base vocabulary (ids 0..127999, byte-level unicode strings) and merges in priority order. */
export function llama3BaseVocab(): { tokens: string[]; merges: string[] } {
  return { tokens: tokenizer.vocabById.slice(0, FIRST_SPECIAL), merges: [...tokenizer.merges.keys()] };
}

export function writeLlama3Tokenizer(dir: string, opts: Llama3TokenizerOptions = {}): void {
  const version = opts.version ?? '3';
  const specials = specialTokenNames(version);
  const { tokens, merges } = llama3BaseVocab();
  mkdirSync(dir, { recursive: true });

  const added = specials.map((content, i) => ({
    id: FIRST_SPECIAL + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const text = tokenizerJsonText(opts, version, () => {
    const bosTok = { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } };
    const template = {
      type: 'TemplateProcessing',
      single: [bosTok, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bosTok, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [FIRST_SPECIAL], tokens: ['<|begin_of_text|>'] } },
    };
    const byteLevelPost = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: opts.postProcessor === 'template' ? template : opts.postProcessor === 'bytelevel' ? byteLevelPost
        : { type: 'Sequence', processors: [byteLevelPost, template] },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab: '@VOCAB@', merges: '@MERGES@',
      },
    };
    // The vocab is written by hand: a JS object would move integer-like keys ("0", "12") to the front, and
    // Meta's file lists the vocabulary in id order.
    const vocab = '{\n' + tokens.map((t, i) => `      ${JSON.stringify(t)}: ${i}`).join(',\n') + '\n    }';
    const mergeText = '[\n' + merges.map((m) => '      ' + (opts.merges === 'pairs' ? JSON.stringify(m.split(' ')) : JSON.stringify(m))).join(',\n') + '\n    ]';
    return JSON.stringify(json, null, 2).replace('"@VOCAB@"', () => vocab).replace('"@MERGES@"', () => mergeText);
  });
  writeFileSync(join(dir, 'tokenizer.json'), text);

  const instruct = !!opts.instruct;
  const chatTemplate = opts.chatTemplate ?? (instruct ? (version === '3.1' ? readFileSync(LLAMA31_JINJA_PATH, 'utf8') : LLAMA3_JINJA) : undefined);
  const decoder: Record<string, unknown> = {};
  for (const a of added) decoder[String(a.id)] = { content: a.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  const config: Record<string, unknown> = {
    added_tokens_decoder: decoder,
    bos_token: '<|begin_of_text|>',
    ...(chatTemplate !== undefined ? { chat_template: chatTemplate } : {}),
    clean_up_tokenization_spaces: true,
    eos_token: instruct ? '<|eot_id|>' : '<|end_of_text|>',
    model_input_names: ['input_ids', 'attention_mask'],
    model_max_length: '@MAXLEN@',
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  // transformers writes Python's int(1e30) in full; JSON.stringify would write 1e+30.
  const configText = JSON.stringify(config, null, 2).replace('"@MAXLEN@"', version === '3.1' ? '131072' : '1000000000000000019884624838656');
  writeFileSync(join(dir, 'tokenizer_config.json'), configText + '\n');
}

/** The same tokenizer.json text for the same options, made once per process (9 MB; most tests write it). */
const texts = new Map<string, string>();
function tokenizerJsonText(opts: Llama3TokenizerOptions, version: string, make: () => string): string {
  const key = JSON.stringify([version, opts.postProcessor ?? null, opts.merges ?? null]);
  let t = texts.get(key);
  if (t === undefined) { t = make(); texts.set(key, t); }
  return t;
}
