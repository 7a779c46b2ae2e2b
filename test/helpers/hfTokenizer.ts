/**
 * STAND-IN written by helper "fwd" until helper "tok" lands the faithful one at this path (same signature; the
 * lead reconciles). It writes a Meta-Llama-3 style tokenizer.json + tokenizer_config.json from the vocabulary
 * and merges llama3-tokenizer-js ships: model BPE over the 128000 byte-level tokens (merges in Meta's string
 * form, "Ġ Ġ"), the 256 special tokens as added_tokens, Meta's pre_tokenizer (Split on the Llama-3 regex, then
 * ByteLevel without its own regex), post_processor (ByteLevel + TemplateProcessing that prepends
 * <|begin_of_text|>) and ByteLevel decoder. Base models end with <|end_of_text|>, instruct ones with <|eot_id|>
 * and carry Meta's chat template, as Meta ships them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tokenizer from 'llama3-tokenizer-js';
import { LLAMA3_JINJA } from '../../src/chat/officialTemplates.js';

const FIRST_SPECIAL = 128000;
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export function writeLlama3Tokenizer(dir: string, opts: { instruct?: boolean; chatTemplate?: string } = {}): void {
  const tokens = tokenizer.vocabById;
  const vocab: Record<string, number> = {};
  for (let i = 0; i < FIRST_SPECIAL; i++) vocab[tokens[i]] = i;
  const added = tokens.slice(FIRST_SPECIAL).map((content, i) => ({
    id: FIRST_SPECIAL + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const bos = tokens[FIRST_SPECIAL];
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bos]: { id: bos, ids: [FIRST_SPECIAL], tokens: [bos] } },
        },
      ],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: true,
      vocab,
      merges: [...tokenizer.merges.keys()], // insertion order is merge priority
    },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json, null, 2));
  const decoder: Record<string, object> = {};
  for (const a of added) decoder[String(a.id)] = { content: a.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  const template = opts.chatTemplate ?? (opts.instruct ? LLAMA3_JINJA : undefined);
  const config = {
    added_tokens_decoder: decoder,
    bos_token: bos,
    ...(template !== undefined ? { chat_template: template } : {}),
    clean_up_tokenization_spaces: true,
    eos_token: opts.instruct ? '<|eot_id|>' : '<|end_of_text|>',
    model_input_names: ['input_ids', 'attention_mask'],
    model_max_length: 1000000000000000019884624838656,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
}
