/**
 * The browser chat page. Its answers come from the server's public OpenAI-compatible API (/v1/models,
 * /v1/chat/completions streaming, /tokenize) or from llama.cpp in this browser (local/, on the models of a
 * models.json: an exported site has only that). It keeps conversations and settings in localStorage, and renders
 * every model reply and imported text as sanitized Markdown. With tools set, the person plays the tool: each call
 * the model makes is shown with a box for its result, and the answer goes on from the results (toolCalls.ts).
 */
import DOMPurify from 'dompurify';
import { marked } from 'marked';
import hljs from 'highlight.js/lib/common';
import { type Backend, type ChatChunk, isContextFull } from './backend.js';
import type { BrowserBackend } from './local/index.js';
import { RunPanel } from './runPanel.js';
import { api, apiKey, ServerBackend } from './serverBackend.js';
import { STRINGS, type Lang } from './strings.js';
import { callBlock, resultBlock, resultInput } from './toolBlocks.js';
import { CallAssembler, callName, dropPendingCalls, type PageCall, pendingCalls, readToolsSetting, wire, type WireTool } from './toolCalls.js';
import { initTraining, type Training } from './train.js';

/** A turn: an assistant's may carry tool calls, a tool's is a call's result (OpenAI's tool message). */
interface Msg { role: 'user' | 'assistant' | 'tool'; content: string; stats?: string; toolCalls?: PageCall[]; toolCallId?: string; name?: string }
interface Conv { id: string; title: string; messages: Msg[]; updated: number }
interface Settings {
  system: string; maxTokens: number; topP: number; temperature: number; repetitionPenalty: number;
  seed: number | null; model: string; lang: Lang; theme: 'dark' | 'light';
  /** The Tools setting as typed (a JSON list); '' = no tools. */
  tools: string;
  /** Where answers come from on a served page; an exported site runs in the browser only. */
  runOn: 'server' | 'browser';
}

/** The 中文智者 preset (src/chat/presets.ts), the original Streamlit page's defaults otherwise. */
const DEFAULTS: Settings = {
  system: '你是一个调皮活泼的中文智者，名字叫shareAI-Llama3，喜欢用有趣的语言和适当的表情回答问题。',
  maxTokens: 1020, topP: 0.8, temperature: 0.6, repetitionPenalty: 1.07, seed: null, model: '', lang: 'zh', theme: 'dark', tools: '', runOn: 'server',
};

const KEY = { settings: 'llama3zh.settings', convs: 'llama3zh.conversations', current: 'llama3zh.current' };
/** An exported site (web export): no server behind it, the models are in models.json beside the page. */
const STATIC = document.documentElement.dataset.site === 'static';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const load = <T>(k: string, d: T): T => { try { const v = localStorage.getItem(k); return v ? { ...d, ...JSON.parse(v) } as T : d; } catch { return d; } };

let settings: Settings = load(KEY.settings, DEFAULTS);
let convs: Conv[] = (() => { try { return JSON.parse(localStorage.getItem(KEY.convs) ?? '[]') as Conv[]; } catch { return []; } })();
let current: Conv = convs.find((c) => c.id === localStorage.getItem(KEY.current)) ?? newConv();
let controller: AbortController | undefined;
let contextSize = 0;
let training: Training | undefined;
const askKey = () => prompt(t('apiKey'));
const server = new ServerBackend(askKey);
let browser: BrowserBackend | undefined;
let backend: Backend = server;
let panel: RunPanel;

const t = (k: keyof typeof STRINGS.zh) => STRINGS[settings.lang][k];

function newConv(): Conv {
  return { id: Math.random().toString(36).slice(2) + Date.now().toString(36), title: '', messages: [], updated: Date.now() };
}

function save() {
  localStorage.setItem(KEY.settings, JSON.stringify(settings));
  current.updated = Date.now();
  if (current.messages.length && !convs.includes(current)) convs.unshift(current);
  localStorage.setItem(KEY.convs, JSON.stringify(convs));
  localStorage.setItem(KEY.current, current.id);
}

/** Markdown → sanitized HTML: nothing in a reply or an imported file can run script. */
function renderMarkdown(el: HTMLElement, text: string) {
  el.innerHTML = DOMPurify.sanitize(marked.parse(text, { async: false }) as string, {
    // No ids or names (a reply could shadow the page's own controls), no styles (a fake full-screen prompt), no forms.
    FORBID_ATTR: ['id', 'name', 'style'],
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
  });
  el.querySelectorAll('pre code').forEach((code) => {
    hljs.highlightElement(code as HTMLElement);
    const btn = document.createElement('button');
    btn.className = 'copy';
    btn.textContent = t('copy');
    btn.onclick = () => void navigator.clipboard?.writeText(code.textContent ?? '').then(() => { btn.textContent = t('copied'); });
    code.parentElement!.append(btn);
  });
}

function renderMessages() {
  // While an answer streams, its element must stay the one being written to.
  if (controller) return;
  const box = $('messages');
  box.replaceChildren();
  const pending = new Set(pendingCalls(current.messages).map((c) => c.id));
  current.messages.forEach((m, i) => {
    const div = document.createElement('div');
    div.className = `msg ${m.role}`;
    div.dataset.index = String(i);
    if (m.role === 'tool') {
      div.append(resultBlock(m.name ?? callName(current.messages, m.toolCallId), m.content, t('toolResult')));
    } else {
      const body = document.createElement('div');
      body.className = 'body';
      if (m.role === 'assistant') renderMarkdown(body, m.content);
      else body.textContent = m.content;
      // A reply that is only calls has no text to show.
      body.hidden = !m.content && !!m.toolCalls?.length;
      div.append(body);
      for (const c of m.toolCalls ?? []) {
        const block = callBlock(c, t('toolCall'));
        if (pending.has(c.id)) block.append(resultInput(t('resultPlaceholder'), t('sendResult'), (text) => giveResult(c, text)));
        div.append(block);
      }
    }
    const tools = document.createElement('div');
    tools.className = 'tools';
    if (m.stats) { const s = document.createElement('span'); s.className = 'stats'; s.textContent = m.stats; tools.append(s); }
    const last = i === current.messages.length - 1;
    // After a failed answer the last message is the question: it can be retried.
    if (last) tools.append(button(t('regenerate'), 'regenerate', () => void regenerate()));
    if (m.role === 'user') tools.append(button(t('edit'), 'edit', () => editMessage(i, div)));
    div.append(tools);
    box.append(div);
  });
  box.scrollTop = box.scrollHeight;
  box.querySelector<HTMLTextAreaElement>('.call-result')?.focus();
  $('title').textContent = current.title || 'llama3-zh';
  renderConversations();
}

/** The person's result for a call; once every call of the reply has one, the model answers from them. */
function giveResult(call: PageCall, text: string) {
  if (controller) return;
  const conv = current;
  conv.messages.push({ role: 'tool', content: text, toolCallId: call.id, name: call.name });
  save();
  if (pendingCalls(conv.messages).length) renderMessages();
  else void answer();
}

/** The Tools setting, or undefined with the page saying what is wrong with it (then nothing is sent). */
function toolsToSend(): { tools?: WireTool[] } | undefined {
  const read = readToolsSetting(settings.tools);
  if (read && 'error' in read) { notice(toolsMessage()); return undefined; }
  // The browser engine reads calls only in templates llama.cpp knows for tools (wllama gives the JSON as text
  // for the others), where the server writes and reads each format itself: in the browser, no tools yet.
  if (read && backend.kind === 'browser') { notice(t('toolsServerOnly')); return {}; }
  return read ? { tools: read.tools } : {};
}

/** What the Tools field says under it: the tools that are on, or what is wrong. */
function toolsMessage(): string {
  const read = readToolsSetting(settings.tools);
  if (!read) return '';
  if ('error' in read) return t(read.error === 'json' ? 'badToolsJson' : 'badTools').replace('{e}', read.message);
  return t('toolsOn').replace('{n}', String(read.names.length)).replace('{names}', read.names.join(', '));
}

function showToolsStatus() {
  const el = $('tools-status');
  const read = readToolsSetting(settings.tools);
  el.textContent = toolsMessage();
  el.hidden = !read;
  el.dataset.state = read && 'error' in read ? 'error' : 'ok';
}

function button(label: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = label;
  b.onclick = onClick;
  return b;
}

function renderConversations() {
  const ul = $('conversations');
  ul.replaceChildren();
  for (const c of convs) {
    const li = document.createElement('li');
    if (c === current) li.className = 'active';
    const name = button(c.title || t('untitled'), 'open', () => { if (!controller) { current = c; save(); closeMenu(); renderMessages(); } });
    li.append(name, button('✎', 'rename', () => {
      const title = prompt(t('rename'), c.title);
      if (title !== null) { c.title = title.trim(); save(); renderMessages(); }
    }), button('✕', 'delete', () => {
      if (controller || !confirm(t('confirmDelete'))) return;
      convs = convs.filter((x) => x !== c);
      if (c === current) current = convs[0] ?? newConv();
      save();
      renderMessages();
    }));
    ul.append(li);
  }
}

/** On a phone the side panel covers the chat: close it once a choice is made. */
function closeMenu() {
  document.body.classList.remove('sidebar-open');
}

function editMessage(i: number, div: HTMLElement) {
  if (controller) return;
  const area = document.createElement('textarea');
  area.className = 'edit-box';
  area.value = current.messages[i].content;
  div.replaceChildren(area, button(t('resend'), 'resend', () => {
    const text = area.value.trim();
    if (!text) return;
    current.messages = current.messages.slice(0, i);
    void send(text);
  }));
  area.focus();
}

async function loadModels() {
  const list = await backend.models().catch((e: Error) => { notice(`${t('error')}: ${e.message}`); return []; });
  const sel = $<HTMLSelectElement>('model');
  sel.replaceChildren(...list.map((m) => new Option(m.demo ? `${m.id} (demo)` : m.id, m.id)));
  if (!list.some((m) => m.id === settings.model)) settings.model = list[0]?.id ?? '';
  sel.value = settings.model;
  contextSize = list.find((m) => m.id === settings.model)?.contextSize ?? 0;
  sel.onchange = () => {
    // Not while an answer streams: loading another model in the browser would end the engine that writes it.
    if (controller) { sel.value = settings.model; return; }
    settings.model = sel.value;
    contextSize = list.find((m) => m.id === sel.value)?.contextSize ?? 0;
    save();
    void showBrowserModel();
  };
  if (backend.kind === 'browser' && !list.length) notice(t('noBrowserModels'));
  await showBrowserModel();
}

/** The browser engine, made once (its bundle is loaded only now): an exported site's models.json, or the server's. */
async function browserBackend(): Promise<BrowserBackend> {
  if (!browser) {
    const local = await import(new URL('local.js', import.meta.url).href) as typeof import('./local/index.js');
    browser = new local.BrowserBackend({
      manifest: STATIC ? 'models.json' : '/web/models.json',
      onLoad: (e) => {
        // "Load anyway" still on screen after another model was chosen loads nothing.
        if (e.phase === 'memory') panel.memory(e.model, e.budget, () => { if (settings.model === e.model.id) void browser!.use(e.model.id, { anyway: true }).catch(() => {}); });
        else panel.event(e);
      },
      headers: () => { const key = STATIC ? undefined : apiKey(); return key ? { authorization: `Bearer ${key}` } : undefined; },
    });
  }
  return browser;
}

/** In the browser: the chosen model's state (loaded, or its size and a Load button). */
async function showBrowserModel() {
  if (backend.kind !== 'browser' || !browser) { panel.hide(); return; }
  const b = browser;
  const want = settings.model;
  // Each await may end after the person chose again: then this call is stale and must not touch the load.
  const chosen = () => settings.model === want && backend === b;
  const m = (await b.site().catch(() => [])).find((x) => x.id === want);
  if (!chosen()) return;
  if (!m) { panel.hide(); return; }
  if (b.loadedId === m.id) { if (b.ready) panel.event(b.ready); return; }
  // Another model was chosen while one downloads: that one is given up, its progress no longer shown.
  if (b.loadingId !== m.id) b.cancel();
  const cached = await b.isCached(m.id);
  if (!chosen()) return;
  if (cached) void b.use(m.id).catch(() => {});
  // A Load button still on screen after another choice (the panel is redrawn only after these awaits) loads nothing.
  else panel.idle(m, () => { if (chosen()) void b.use(m.id).catch(() => {}); });
}

/** Where answers come from: the server, or this browser (a served page's switch; an exported site has only the browser). */
async function useBackend(on: 'server' | 'browser') {
  backend = on === 'browser' ? await browserBackend() : server;
  // Answers go to the server now: a model still downloading into the browser is given up.
  if (on === 'server') { browser?.cancel(); panel.hide(); }
  contextSize = 0;
  await loadModels();
}

/**
 * The messages to send: the system prompt always, then the newest turns that fit the context with room for
 * the answer; the oldest turns go first, and the page says how many were left out.
 */
async function fitToContext(history: Msg[]): Promise<{ messages: Array<Record<string, unknown>>; dropped: number; count: number }> {
  const head = settings.system.trim() ? [{ role: 'system', content: settings.system }] : [];
  let turns = history.map(wire);
  let dropped = 0;
  if (!contextSize) await loadModels();
  if (!contextSize) return { messages: [...head, ...turns], dropped, count: 0 };
  const reserve = Math.min(settings.maxTokens, Math.floor(contextSize / 2));
  for (;;) {
    const count = await backend.countTokens(settings.model, [...head, ...turns]);
    if (!count) return { messages: [...head, ...turns], dropped, count: 0 };
    if (count + reserve <= contextSize || turns.length <= 1) return { messages: [...head, ...turns], dropped, count };
    const next = withoutOldestRound(turns);
    if (!next) return { messages: [...head, ...turns], dropped, count };
    turns = next;
    dropped++;
  }
}

/** The turns less the oldest whole round (a user turn and its answer, with the calls and results between them). */
function withoutOldestRound<M extends { role?: unknown }>(turns: M[]): M[] | undefined {
  const first = turns.findIndex((m) => m.role !== 'system');
  const next = turns.findIndex((m, k) => k > first && m.role === 'user');
  return first < 0 || next < 0 ? undefined : [...turns.slice(0, first), ...turns.slice(next)];
}

function notice(text: string) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = !text;
}

async function send(text: string) {
  if (controller) return;
  dropPendingCalls(current.messages);
  current.messages.push({ role: 'user', content: text });
  if (!current.title) current.title = text.slice(0, 30);
  await answer();
}

async function regenerate() {
  if (controller) return;
  if (current.messages.at(-1)?.role === 'assistant') current.messages.pop();
  await answer();
}

/** Stream the next answer into the page, with a ▌ cursor, until it ends or Stop is pressed. */
async function answer() {
  notice('');
  const tools = toolsToSend();
  if (!tools) return;
  // The conversation this answer belongs to, even if the user opens another one meanwhile.
  const conv = current;
  const history = conv.messages.slice();
  const reply: Msg = { role: 'assistant', content: '' };
  conv.messages.push(reply);
  save();
  renderMessages();
  const bodyEl = $('messages').lastElementChild!.querySelector('.body') as HTMLElement;
  bodyEl.classList.add('streaming');
  controller = new AbortController();
  $('send').hidden = true;
  $('stop').hidden = false;
  let tokens = 0;
  let pieces = 0;
  let first = 0;
  const calls = new CallAssembler();
  let finished = false;
  try {
    let { messages, dropped, count } = await fitToContext(history);
    const request = () => ({
      model: settings.model || undefined, messages, stream: true, stream_options: { include_usage: true }, ...tools,
      // Never ask for more than the context has left after the prompt.
      max_tokens: count && contextSize ? Math.max(1, Math.min(settings.maxTokens, contextSize - count)) : settings.maxTokens, top_p: settings.topP, temperature: settings.temperature,
      repetition_penalty: settings.repetitionPenalty, ...(settings.seed !== null ? { seed: settings.seed } : {}),
    });
    for (;;) {
      if (dropped) notice(t('trimmed').replace('{n}', String(dropped)));
      try {
        await readAnswer(backend.stream(request(), controller.signal));
        break;
      } catch (e) {
        // A backend that cannot count tokens (the browser's) says when the prompt does not fit: drop a round, ask again.
        const fewer = isContextFull(e) ? withoutOldestRound(messages) : undefined;
        if (!fewer) throw e;
        messages = fewer;
        dropped++;
      }
    }
  } catch (e) {
    // (A model too big for this device is said by the run panel, with its way out.)
    // (A model given up for another one, Superseded, ends its answer quietly too.)
    if (!['AbortError', 'MemoryRefused', 'Superseded'].includes((e as Error).name)) notice(`${t('error')}: ${(e as Error).message}`);
  } finally {
    const secs = first ? (performance.now() - first) / 1000 : 0;
    // A reply that is only calls streams no text to time (the server sends the calls once they are read).
    if (tokens) reply.stats = first || !calls.calls().length ? `${tokens} tokens · ${secs > 0 ? (Math.max(0, tokens - 1) / secs).toFixed(1) : '—'} tokens/s` : `${tokens} tokens`;
    controller.abort(); // a failed or finished stream must not go on generating on the server
    controller = undefined;
    $('send').hidden = false;
    $('stop').hidden = true;
    // Only a finished reply's calls: a stream cut short may have half a call.
    const got = finished ? calls.calls().filter((c) => c.id && c.name) : [];
    if (got.length) reply.toolCalls = got;
    if (!reply.content && !got.length) conv.messages.splice(conv.messages.indexOf(reply), 1);
    try { save(); } catch (e) { notice(`${t('error')}: ${(e as Error).message}`); }
    renderMessages();
  }

  async function readAnswer(chunks: AsyncIterable<ChatChunk>) {
    for await (const data of chunks) {
      const choice = data.choices?.[0];
      // The server streams calls in OpenAI's shape: their id and name first, then pieces of their arguments.
      if (choice?.delta?.tool_calls) calls.add(choice.delta.tool_calls as Parameters<CallAssembler['add']>[0]);
      if (choice?.finish_reason) finished = true;
      const delta = choice?.delta?.content;
      if (delta) {
        first ||= performance.now();
        pieces++;
        reply.content += delta;
        renderMarkdown(bodyEl, reply.content + '▌');
      }
      if (data.usage) tokens = data.usage.completion_tokens;
      if (data.error) throw new Error(data.error.message);
    }
    // An engine that sends no usage (the browser's may not) sent about one token a piece.
    tokens ||= pieces;
  }
}

function bindSlider(id: string, key: 'maxTokens' | 'topP' | 'temperature' | 'repetitionPenalty') {
  const input = $<HTMLInputElement>(id);
  const out = $<HTMLOutputElement>(`${id}-out`);
  input.value = String(settings[key]);
  out.textContent = input.value;
  input.oninput = () => { settings[key] = Number(input.value); out.textContent = input.value; save(); };
}

function applyLanguage() {
  document.documentElement.lang = settings.lang === 'zh' ? 'zh-CN' : 'en';
  document.querySelectorAll<HTMLElement>('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t as keyof typeof STRINGS.zh); });
  document.querySelectorAll<HTMLElement>('[data-t-placeholder]').forEach((el) => el.setAttribute('placeholder', t(el.dataset.tPlaceholder as keyof typeof STRINGS.zh)));
  document.querySelectorAll<HTMLElement>('[data-t-title]').forEach((el) => el.setAttribute('title', t(el.dataset.tTitle as keyof typeof STRINGS.zh)));
  $('toggle-lang').textContent = settings.lang === 'zh' ? 'EN' : '中文';
  showToolsStatus();
}

function exportConversation() {
  const blob = new Blob([JSON.stringify({ title: current.title, messages: current.messages }, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `${current.title || 'chat'}.json`;
  a.click();
  URL.revokeObjectURL(a.href);
}

/** A turn as the page exports it: a question, an answer (with its calls), or a tool's result for a call. */
function isMsg(m: unknown): m is Msg {
  const x = m as Msg | null;
  const str = (v: unknown) => typeof v === 'string';
  if (!x || !['user', 'assistant', 'tool'].includes(x.role) || !str(x.content)) return false;
  if (x.toolCalls !== undefined && !(x.role === 'assistant' && Array.isArray(x.toolCalls) && x.toolCalls.every((c) => str(c?.id) && str(c.name) && str(c.arguments)))) return false;
  return x.role !== 'tool' || (str(x.toolCallId) && (x.name === undefined || str(x.name)));
}

async function importConversation(file: File) {
  if (controller) return;
  try {
    const data = JSON.parse(await file.text());
    const list = Array.isArray(data) ? data : data?.messages;
    if (!Array.isArray(list) || !list.every(isMsg)) throw new Error(t('badImport'));
    const messages = list.map((m: Msg): Msg => ({
      role: m.role, content: m.content,
      ...(m.toolCalls?.length ? { toolCalls: m.toolCalls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })) } : {}),
      ...(m.role === 'tool' ? { toolCallId: m.toolCallId, ...(m.name !== undefined ? { name: m.name } : {}) } : {}),
    }));
    current = { ...newConv(), title: typeof data.title === 'string' ? data.title : file.name.replace(/\.json$/, ''), messages };
    convs.unshift(current);
    save();
    renderMessages();
  } catch (e) {
    notice(`${t('error')}: ${(e as Error).message}`);
  }
}

function init() {
  document.documentElement.dataset.theme = settings.theme;
  applyLanguage();
  const system = $<HTMLTextAreaElement>('system');
  system.value = settings.system;
  system.oninput = () => { settings.system = system.value; save(); };
  const tools = $<HTMLTextAreaElement>('tools');
  tools.value = settings.tools;
  // Kept as typed (a list half pasted survives a reload), checked as it changes.
  tools.oninput = () => { settings.tools = tools.value; save(); showToolsStatus(); };
  bindSlider('max-tokens', 'maxTokens');
  bindSlider('top-p', 'topP');
  bindSlider('temperature', 'temperature');
  bindSlider('repetition-penalty', 'repetitionPenalty');
  const seed = $<HTMLInputElement>('seed');
  seed.value = settings.seed === null ? '' : String(settings.seed);
  seed.oninput = () => { settings.seed = seed.value === '' ? null : Math.max(0, Math.floor(Number(seed.value))); save(); };
  const input = $<HTMLTextAreaElement>('input');
  $('composer').onsubmit = (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || controller) return;
    // Tools that do not read are said, and the question stays in the box until they are fixed.
    if (!toolsToSend()) return;
    input.value = '';
    void send(text);
  };
  // Enter sends; Shift+Enter is a new line (and Enter while composing Chinese with an IME is not a send).
  input.onkeydown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $<HTMLFormElement>('composer').requestSubmit(); }
  };
  $('stop').onclick = () => controller?.abort();
  $('reset').onclick = () => { if (!controller) { current.messages = []; current.title = ''; notice(''); save(); renderMessages(); } };
  $('new-chat').onclick = () => { if (!controller) { current = newConv(); notice(''); closeMenu(); renderMessages(); } };
  $('toggle-lang').onclick = () => { settings.lang = settings.lang === 'zh' ? 'en' : 'zh'; save(); applyLanguage(); renderMessages(); training?.render(); };
  // (renderMessages waits while an answer streams; the finished answer is drawn in the new language.)
  $('toggle-theme').onclick = () => { settings.theme = settings.theme === 'dark' ? 'light' : 'dark'; document.documentElement.dataset.theme = settings.theme; save(); };
  $('menu').onclick = () => document.body.classList.toggle('sidebar-open');
  $('close-menu').onclick = closeMenu;
  $('export').onclick = exportConversation;
  $<HTMLInputElement>('import').onchange = (e) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void importConversation(f); };
  panel = new RunPanel($('run-status'), t);
  const runOn = $<HTMLSelectElement>('run-on');
  runOn.value = STATIC ? 'browser' : settings.runOn;
  runOn.onchange = () => {
    if (controller) { runOn.value = backend.kind; return; }
    settings.runOn = runOn.value === 'browser' ? 'browser' : 'server';
    save();
    void useBackend(settings.runOn);
  };
  renderMessages();
  if (STATIC) {
    // The exported site works offline once visited: its service worker keeps the page and the engine (sw.ts).
    navigator.serviceWorker?.register('sw.js').catch((e: Error) => console.warn(`no offline copy: ${e.message}`));
    void useBackend('browser');
    return;
  }
  // The training view exists only when the server was started with --train-dir. After the models: a server
  // with an API key asks for it once, not once per request in flight.
  void useBackend(settings.runOn).finally(() => void initTraining((path) => api(path, askKey), t).then((tr) => { training = tr; }));
}

init();
