/**
 * A native template: one function writes the prompt as pieces of markup and content, and the text is their
 * concatenation, so what `render` shows is exactly what chatTokens tokenizes.
 */
import type { Message } from '../messages.js';
import type { ChatTemplate, PromptPiece } from '../templates.js';
import type { ToolCallSyntax, ToolFunction } from '../tools.js';

export interface PieceWriter {
  /** The template's own text: its special-token texts become those tokens. */
  markup(text: string): void;
  /** Text from the conversation or its tools: only ever text. */
  content(text: string): void;
  /** The next piece is tokenized apart from the text before it (a template trained slot by slot). */
  cut(): void;
}

/** Writes one conversation; `tools` is undefined when none are offered (an empty list is none). */
export type Writer = (messages: Message[], gen: boolean, out: PieceWriter, tools: ToolFunction[] | undefined) => void;

export interface NativeOptions {
  toolSyntax: ToolCallSyntax;
  defaultSystem?: string;
  noBos?: true;
}

export function native(name: string, stops: string[], write: Writer, o: NativeOptions): ChatTemplate {
  const pieces = (messages: Message[], gen = true, tools?: ToolFunction[]) => {
    const out: PromptPiece[] = [];
    let cut = false;
    const push = (p: PromptPiece) => {
      if (!p.text) return;
      out.push(cut && out.length ? { ...p, cut } : p);
      cut = false;
    };
    write(messages, gen, {
      markup: (text) => push({ text }),
      content: (text) => push({ text, content: true }),
      cut: () => { cut = true; },
    }, tools?.length ? tools : undefined);
    return out;
  };
  return {
    name, stops, defaultSystem: o.defaultSystem, toolSyntax: o.toolSyntax, ...(o.noBos ? { noBos: o.noBos } : {}),
    pieces, render: (messages, gen = true, tools) => pieces(messages, gen, tools).map((p) => p.text).join(''),
  };
}

/** Runs of consecutive tool results, so a format that answers several calls in one turn can join them. */
export function* turns(messages: Message[]): Generator<Message | Message[]> {
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].role !== 'tool') { yield messages[i]; continue; }
    let j = i;
    while (j + 1 < messages.length && messages[j + 1].role === 'tool') j++;
    yield messages.slice(i, j + 1);
    i = j;
  }
}
