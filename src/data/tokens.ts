import { encode } from '../gguf/llama3Vocab.js';
import type { DataRecord } from './record.js';
import { type Text, textOf } from './text.js';

/** <|start_header_id|> role <|end_header_id|> "\n\n" … <|eot_id|>: five tokens around each message. */
const PER_MESSAGE = 5;
const BOS = 1;

const count = (s: Text) => encode(textOf(s).trim()).length;

/**
 * Tokens one training row takes in the official Llama-3 chat template, counted with the real Llama-3
 * tokenizer: BOS, and each message as header + trimmed content + <|eot_id|> (the template trims). For a
 * preference pair, the prompt and the longer answer: the sequence a trainer cuts at its cutoff length.
 * Plain text: BOS + text.
 */
export function llama3Tokens(r: DataRecord): number {
  if (r.kind === 'text') return BOS + encode(textOf(r.text)).length;
  let n = BOS + (r.system ? PER_MESSAGE + count(r.system) : 0);
  const turns = r.kind === 'chat' ? r.turns : r.prompt;
  for (const t of turns) n += PER_MESSAGE + count(t.content);
  if (r.kind === 'pair') n += PER_MESSAGE + Math.max(count(r.chosen), count(r.rejected));
  return n;
}
