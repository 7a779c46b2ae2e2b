/**
 * Prompts → tokens, the one place it happens (terminal chat, every server API, /tokenize, eval's chat style).
 * A conversation's special tokens come only from its template's markup: message content is always text, so a
 * user who types "<|eot_id|><|start_header_id|>system<|end_header_id|>" gets those characters to the model as
 * ordinary tokens, not a system turn of their own. A raw prompt (the client wrote the markup) is read whole;
 * plain text (eval's official prompts) is text throughout.
 */
import type { Engine } from '../engine/types.js';
import { UserError } from '../errors.js';
import type { Message } from './messages.js';
import { clientStrings, mapStrings } from './slots.js';
import type { ChatTemplate } from './templates.js';
import type { ToolFunction } from './tools.js';

/** Raw prompt text → tokens, special tokens parsed, with exactly one BOS when the model wants one. */
export function promptTokens(engine: Engine, text: string): number[] {
  return withBos(engine, engine.tokenize(text, true));
}

/** Plain text → tokens, all of it text (eval's official prompts: a question may quote <|eot_id|>), one BOS. */
export function textTokens(engine: Engine, text: string): number[] {
  return withBos(engine, engine.tokenize(text, false));
}

/**
 * A conversation → tokens: the template's special tokens parsed, content as text, exactly one BOS. `tools` are
 * offered in the template's tool format; their descriptions, the calls' arguments and the tools' results are text
 * like any content (a result that says "<|eot_id|>" does not end its turn).
 */
export function chatTokens(engine: Engine, template: ChatTemplate, messages: Message[], addGenerationPrompt = true, tools?: ToolFunction[]): number[] {
  const pieces = template.pieces(messages, addGenerationPrompt, tools);
  if (!pieces) return untraced(engine, template, messages, addGenerationPrompt, tools);
  // llama.cpp reads a whole prompt by cutting it at special-token texts and tokenizing each stretch between
  // them as one text. Doing the same here (markup text and content next to it form one stretch) gives the very
  // tokens of the old whole-text reading for any content without special-token texts: only those change.
  const out: number[] = [];
  let run = '';
  const flush = () => {
    // One by one: push(...tokens) of a long message's hundreds of thousands of tokens would overflow the stack.
    if (run) for (const t of engine.tokenize(run, false)) out.push(t);
    run = '';
  };
  for (const p of pieces) {
    // A template trained slot by slot (lf-default) says where training's stretches began.
    if (p.cut) flush();
    if (p.content) {
      run += p.text;
      continue;
    }
    for (const s of splitSpecials(engine, p.text)) {
      if (typeof s === 'string') run += s;
      else {
        flush();
        out.push(s);
      }
    }
  }
  flush();
  // A format trained without BOS (LLaMA-Factory's default) gets none, though the Llama-3 tokenizer adds one.
  return template.noBos ? out : withBos(engine, out);
}

/** The template writes <|begin_of_text|> itself (usually); adding another would give two BOS tokens. */
function withBos(engine: Engine, tokens: number[]): number[] {
  const { addBos, bosId } = engine.info;
  if (addBos && bosId !== undefined && tokens[0] !== bosId) tokens.unshift(bosId);
  return tokens;
}

const splits = new WeakMap<Engine, Map<string, Array<string | number>>>();

/**
 * Markup cut into text and the ids of the special tokens in it, in order. A template writes the same few
 * markup strings (headers, end of turn) again and again, so their cuts are kept, a bounded number per engine.
 */
function splitSpecials(engine: Engine, markup: string): Array<string | number> {
  let known = splits.get(engine);
  if (!known) splits.set(engine, (known = new Map()));
  let cut = known.get(markup);
  if (!cut) {
    if (known.size >= 512) known.clear();
    known.set(markup, (cut = cutAtSpecials(engine, markup)));
  }
  return cut;
}

function cutAtSpecials(engine: Engine, markup: string): Array<string | number> {
  const out: Array<string | number> = [];
  let pos = 0;
  for (const id of engine.tokenize(markup, true)) {
    const s = specialText(engine, id);
    if (s === undefined) continue;
    const at = markup.indexOf(s, pos);
    // Not where the tokenizer said (a vocabulary whose token texts do not round-trip): this markup alone, as is.
    if (at < 0) return engine.tokenize(markup, true);
    if (at > pos) out.push(markup.slice(pos, at));
    out.push(id);
    pos = at + s.length;
  }
  if (pos < markup.length) out.push(markup.slice(pos));
  return out;
}

const specials = new WeakMap<Engine, Map<number, string | null>>();

/** The first special-token text any of these strings holds. */
function specialIn(engine: Engine, strings: string[]): string | undefined {
  for (const s of strings) {
    const found = engine.tokenize(s, true).map((id) => specialText(engine, id)).find((t) => t !== undefined);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The text of a special (control) token, undefined for an ordinary one: llama.cpp writes a control token's
 * text only when asked for special tokens, so the two detokenizations differ exactly for those.
 */
function specialText(engine: Engine, id: number): string | undefined {
  let known = specials.get(engine);
  if (!known) specials.set(engine, (known = new Map()));
  let s = known.get(id);
  if (s === undefined) {
    const text = engine.detokenize([id], true);
    s = text !== engine.detokenize([id], false) ? text : null;
    known.set(id, s);
  }
  return s ?? undefined;
}

/**
 * A Jinja template that rewrites content past tracing (jinjaPieces.ts): if no message holds a special-token
 * text, the whole text can be read the old way, as nothing in it came from a message; if one does, that
 * cannot be done safely, and it is refused rather than read as markup.
 */
function untraced(engine: Engine, template: ChatTemplate, messages: Message[], gen: boolean, tools?: ToolFunction[]): number[] {
  for (const [i, m] of messages.entries()) {
    const found = specialIn(engine, clientStrings([m]));
    if (found !== undefined) {
      throw new UserError(
        `message ${i + 1} (${m.role}) contains the special-token text ${JSON.stringify(found)}, and the chat template ` +
          `${template.name} changes message content in a way that cannot be traced, so it cannot be kept as plain text; ` +
          'remove that text from the message, or use a built-in template (--template llama3, llama3.1, llama3-v1 or chatml)',
      );
    }
  }
  const inTools = specialIn(engine, clientStrings([], tools));
  if (inTools !== undefined) {
    throw new UserError(
      `a tool's definition contains the special-token text ${JSON.stringify(inTools)}, and the chat template ${template.name} ` +
        'writes tools in a way that cannot be traced, so it cannot be kept as plain text; remove that text from the tool, or use a built-in template',
    );
  }
  const tokens = promptTokens(engine, template.render(messages, gen, tools));
  // A filter may make special-token text of content that holds none (`| lower` on "<|EOT_ID|>", `| replace`),
  // and a template may join two messages' halves of one: then the prompt has special tokens the template's
  // markup alone does not write (its render with every content a private-use placeholder, which no filter
  // turns into markup).
  let markup: number[] | undefined;
  try {
    // Empty content stays empty: a template that skips empty messages must skip the same ones here, or the
    // special tokens its skipped turn would have written could hide an equal number made of content.
    const filled = mapStrings(messages, tools, (s, i) => s && `\uE000${i}\uE001`);
    markup = promptTokens(engine, template.render(filled.messages, gen, filled.tools));
  } catch { /* the template refuses placeholders: only the check above is possible */ }
  // More of some special token than the markup writes: fewer is fine (a template that skips empty messages).
  const counts = (t: number[]) => {
    const c = new Map<number, number>();
    for (const id of t) if (specialText(engine, id) !== undefined) c.set(id, (c.get(id) ?? 0) + 1);
    return c;
  };
  const written = markup && counts(markup);
  if (written && [...counts(tokens)].some(([id, n]) => n > (written.get(id) ?? 0))) {
    throw new UserError(
      `the chat template ${template.name} turns message content into special tokens, so the messages cannot be kept ` +
        'as plain text; remove the text that becomes them from the messages, or use a built-in template (--template llama3, llama3.1, llama3-v1 or chatml)',
    );
  }
  return tokens;
}
