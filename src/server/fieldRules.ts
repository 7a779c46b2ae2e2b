import { badRequest } from './http.js';

/**
 * Fields of the OpenAI, vLLM and ollama APIs this server does not implement, each with the values that are still
 * fine because the reply is what it would be without them (a default, an empty list). Any other value is a 400
 * that names the field and says why: no client gets a reply that quietly ignored what it asked for. Fields no
 * API defines are accepted, as vLLM does (clients send extras). README, "Request fields", has the whole table.
 */
export interface FieldRule {
  field: string;
  fine: (v: unknown) => boolean;
  why: string;
}

type Body = Record<string, unknown>;

const empty = (v: unknown) => v === '' || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && v !== null && Object.keys(v).length === 0);
const is = (...values: unknown[]) => (v: unknown) => values.includes(v);
const never = () => false;
const rule = (field: string, fine: FieldRule['fine'], why: string): FieldRule => ({ field, fine, why });

/** null counts as absent, as in OpenAI's API. */
export function refuseUnsupported(body: Body, rules: FieldRule[], prefix = '') {
  for (const r of rules) {
    const v = body[r.field];
    if (v === undefined || v === null || r.fine(v)) continue;
    throw badRequest(`"${prefix}${r.field}" ${r.why}`, `${prefix}${r.field}`);
  }
}

/** OpenAI's deprecated functions API (before tools, 2023): its replies are shaped otherwise ("function_call"). */
const USE_TOOLS = 'is OpenAI\'s deprecated functions API, which this server does not answer; send the functions as "tools" ([{"type":"function","function":{…}}])';
const USE_TOOL_CHOICE = 'is OpenAI\'s deprecated functions API, which this server does not answer; use "tool_choice"';
const USE_TOOL_CALLS = 'is OpenAI\'s deprecated functions API; send the calls as "tool_calls"';
const USE_SCHEMA = 'is not supported; use "response_format" with a JSON schema';

/** vLLM's sampling and decoding extras both OpenAI endpoints take (top_k, min_p, repetition_penalty, ignore_eos, stop_token_ids are implemented). */
const VLLM: FieldRule[] = [
  rule('use_beam_search', is(false), 'is not supported: this server samples, it does not run beam search'),
  rule('min_tokens', is(0), 'is not supported; for replies of a fixed length use "ignore_eos" with "max_tokens"'),
  rule('allowed_token_ids', empty, 'is not supported; use "logit_bias"'),
  rule('bad_words', empty, 'is not supported; use "logit_bias" or "stop"'),
  rule('include_stop_str_in_output', is(false), 'is not supported: a stop string is never part of the reply'),
  rule('skip_special_tokens', is(true), 'false is not supported: special tokens are never written into replies'),
  rule('prompt_logprobs', never, 'is not supported; "logprobs" gives those of the reply'),
  rule('truncate_prompt_tokens', never, 'is not supported: a prompt over the context is refused, never cut; shorten it'),
  rule('return_tokens_as_token_ids', is(false), 'is not supported'),
  rule('logits_processors', empty, 'is not supported'),
  rule('guided_json', never, USE_SCHEMA),
  rule('guided_regex', never, USE_SCHEMA),
  rule('guided_choice', never, USE_SCHEMA),
  rule('guided_grammar', never, USE_SCHEMA),
  rule('structured_outputs', never, USE_SCHEMA),
];

export const OPENAI_CHAT_RULES: FieldRule[] = [
  rule('functions', empty, USE_TOOLS),
  rule('function_call', is('none', 'auto'), USE_TOOL_CHOICE),
  rule('audio', never, 'is not supported: this model writes text only'),
  rule('modalities', (v) => Array.isArray(v) && v.every((m) => m === 'text'), 'may only be ["text"]: this model writes text only'),
  rule('web_search_options', never, 'is not supported: this server does not search the web'),
  // vLLM's chat extras.
  rule('echo', is(false), 'is not supported in chat completions; /v1/completions echoes the prompt'),
  rule('chat_template', never, "is not supported: each model's own chat template is used"),
  rule('chat_template_kwargs', empty, 'is not supported: the chat templates here take no arguments'),
  rule('add_generation_prompt', is(true), 'false is not supported: the reply is always a new assistant turn'),
  rule('continue_final_message', is(false), 'is not supported: the reply is always a new assistant turn'),
  rule('add_special_tokens', is(false), 'is not supported: the chat template places the special tokens'),
  rule('documents', empty, 'is not supported: put the documents into a message'),
  ...VLLM,
];

export const OPENAI_COMPLETION_RULES: FieldRule[] = VLLM;

/** Fields of one chat message (OpenAI's and ollama's). */
export const MESSAGE_RULES: FieldRule[] = [
  rule('function_call', never, USE_TOOL_CALLS),
  rule('audio', never, 'is not supported: this model reads and writes text only'),
  rule('images', empty, 'is not supported: this model reads text only'),
];

/** ollama's /api/chat and /api/generate. */
export const OLLAMA_RULES: FieldRule[] = [
  rule('images', empty, 'is not supported: this model reads text only'),
  rule('think', is(false), 'is not supported: this model does not think; send false or leave it out'),
  rule('template', is(''), "is not supported: each model's own chat template is used"),
  rule('context', empty, 'is not supported (ollama has deprecated it); send the conversation to /api/chat as "messages"'),
  rule('logprobs', is(false), 'is not supported on the ollama API here; /v1/chat/completions gives "logprobs"'),
  rule('top_logprobs', is(0), 'is not supported on the ollama API here; /v1/chat/completions gives "top_logprobs"'),
];

/** ollama's `options` (num_ctx is checked against the context by the route). */
export const OLLAMA_OPTION_RULES: FieldRule[] = [
  rule('typical_p', is(1), 'is not supported (typical sampling); leave it at 1'),
  rule('mirostat', is(0), 'is not supported (mirostat sampling); leave it at 0 and use temperature, top_k and top_p'),
];
