import type { Message } from './messages.js';
import { clientStrings, mapStrings } from './slots.js';
import type { PromptPiece } from './templates.js';
import type { ToolFunction } from './tools.js';

/**
 * Where each message's content lands in a Jinja template's output, so that content can be tokenized as text
 * while the template's own markup keeps its special tokens. A Jinja template is code we did not write: it may
 * trim content (Meta's does `message['content'] | trim`), move it (the system prompt into the first user turn),
 * repeat or drop it. So the conversation is rendered twice, as it is and with each content replaced by a
 * placeholder of private-use characters; the placeholder render gives the markup between contents, and the
 * real render must be exactly that markup with each content (as is, or trimmed) in the placeholders' places.
 * Anything else (a filter that rewrites content, markup that depends on what the content says) gives
 * undefined, and the caller decides what is safe. With tools, every string a client gave (a tool's description,
 * a call's arguments, slots.ts) is traced the same way, as it is or as tojson escapes it inside a JSON string.
 */
export function jinjaPieces(render: (messages: Message[], tools?: ToolFunction[]) => string, messages: Message[], tools?: ToolFunction[]): PromptPiece[] | undefined {
  const text = render(messages, tools);
  const originals = clientStrings(messages, tools);
  const chars = unusedChars(originals.join('') + text);
  if (!chars) return undefined;
  const [open, close] = chars;
  let marked: string;
  try {
    const filled = mapStrings(messages, tools, (_, i) => `${open}${i}${close}`);
    marked = render(filled.messages, filled.tools);
  } catch {
    // The template objects to a placeholder (it validates content): its pieces cannot be known.
    return undefined;
  }
  const parts = marked.split(new RegExp(`${open}(\\d+)${close}`, 'u'));
  // split with a capture group: even indexes are markup, odd ones message numbers.
  if (parts.some((p, k) => k % 2 === 0 && (p.includes(open) || p.includes(close)))) return undefined;
  // Each part's choices: markup is itself; content is as given, trimmed, or escaped by tojson.
  const choices = parts.map((p, k) => (k % 2 === 0 ? [p] : variants(originals[Number(p)])));
  // Depth-first over those choices, with a loop rather than recursion (a request may carry thousands of
  // messages); `dead` remembers (part, position) pairs that lead nowhere, so no state is explored twice.
  const dead = new Set<string>();
  const chosen: Array<{ pos: number; alt: number }> = [];
  let k = 0;
  let pos = 0;
  let alt = 0;
  // Ambiguity needs content that is all whitespace next to markup that is too: a real template gives a few
  // steps per part. Past this many, give up (undefined) rather than let a request spend seconds here.
  let budget = 64 * parts.length + 4096;
  for (;;) {
    if (--budget < 0) return undefined;
    if (k === parts.length) {
      if (pos === text.length) break;
    } else if (alt > 0 || !dead.has(`${k}:${pos}`)) {
      const opts = choices[k];
      while (alt < opts.length && !text.startsWith(opts[alt], pos)) alt++;
      if (alt < opts.length) {
        chosen.push({ pos, alt });
        pos += opts[alt].length;
        k++;
        alt = 0;
        continue;
      }
      dead.add(`${k}:${pos}`);
    }
    const last = chosen.pop();
    if (!last) return undefined;
    k--;
    pos = last.pos;
    alt = last.alt + 1;
  }
  return chosen
    .map(({ alt: a }, i) => (i % 2 === 0 ? { text: choices[i][a] } : { text: choices[i][a], content: true as const }))
    .filter((p) => p.text !== '');
}

/**
 * What a template may have made of a content: itself, trimmed (@huggingface/jinja's trim is String.trim), or the
 * inside of the JSON string tojson writes for it (a tool's description, an argument, Meta's tool results).
 */
function variants(c: string | undefined): string[] {
  return c === undefined ? [] : [...new Set([c, c.trim(), c.trimStart(), c.trimEnd(), JSON.stringify(c).slice(1, -1)])];
}

/**
 * Two private-use characters (U+E000–U+F8FF) that occur nowhere in `s`, so that a placeholder cannot be confused
 * with content; one pass over `s`, whatever it holds. Undefined if content uses every one of them.
 */
function unusedChars(s: string): [string, string] | undefined {
  const used = new Set<number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xe000 && c <= 0xf8ff) used.add(c);
  }
  const free: string[] = [];
  for (let c = 0xe000; c <= 0xf8ff && free.length < 2; c++) if (!used.has(c)) free.push(String.fromCharCode(c));
  return free.length === 2 ? [free[0], free[1]] : undefined;
}
