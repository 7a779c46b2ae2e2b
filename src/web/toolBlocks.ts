/**
 * The blocks that show a tool call, a tool's result, and the box where the person playing the tool types a result.
 * Names, arguments and results are model or user text: they only ever go into the page as text (textContent), never
 * as markup.
 */
import type { PageCall } from './toolCalls.js';

/** Arguments pretty-printed (2-space JSON); what does not parse is shown as it came. */
export function prettyArgs(args: string): string {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A label and a function name: the head of a call's block and of a result's. */
function head(label: string, name: string): HTMLElement {
  const h = el('div', 'call-head');
  h.append(el('span', 'call-label', label), ' ', el('code', 'call-name', name));
  return h;
}

/** A call: the function's name and its arguments. */
export function callBlock(call: PageCall, label: string): HTMLElement {
  const b = el('div', 'call');
  b.append(head(label, call.name), el('pre', 'call-args', prettyArgs(call.arguments)));
  return b;
}

/** A tool's result, under the function it came from. */
export function resultBlock(name: string, result: string, label: string): HTMLElement {
  const b = el('div', 'tool-result');
  b.append(head(label, name), el('pre', 'result-text', result));
  return b;
}

/**
 * Under a call waiting for its result: where the person playing the tool types it. Enter sends, Shift+Enter is a
 * new line (and Enter while an IME composes is not a send), as in the question box.
 */
export function resultInput(placeholder: string, sendLabel: string, onSend: (text: string) => void): HTMLElement {
  const box = el('div', 'call-answer');
  const area = el('textarea', 'call-result');
  area.rows = 2;
  area.placeholder = placeholder;
  const send = el('button', 'send-result', sendLabel);
  send.type = 'button';
  const submit = () => { const text = area.value.trim(); if (text) onSend(text); };
  send.onclick = submit;
  area.onkeydown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  };
  box.append(area, send);
  return box;
}
