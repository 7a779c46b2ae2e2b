import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { messagesJson } from '../../chat/messageJson.js';
import { parseMessages, type Message } from '../../chat/messages.js';
import { localReplier } from '../../chat/localReplier.js';
import { apiBase } from '../../chat/openaiHttp.js';
import { findPreset, SYSTEM_PRESETS } from '../../chat/presets.js';
import { openRemote } from '../../chat/remote.js';
import type { Replier } from '../../chat/replier.js';
import { ChatSession, type Answer } from '../../chat/session.js';
import { applySetting, type ChatSettings, DEMO_DEFAULTS, describeSettings, SETTING_KEYS } from '../../chat/settings.js';
import type { ToolCall, ToolFunction } from '../../chat/tools.js';
import { UserError } from '../../errors.js';
import { readSmallFile, writeFileAtomic } from '../../util/files.js';
import { clientApiKey } from '../apiKey.js';
import { callJson, callLine, historyLines, RESULT_HINT, resultPrompt, toolList } from '../chatTools.js';
import { parseFlags } from '../flags.js';
import { CANCELLED, LineReader, readQuoted } from '../lineReader.js';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, openModel } from '../modelFlags.js';
import { readToolsFile } from '../toolsFile.js';

const HELP = `llama3-zh chat — chat with a model in the terminal

  llama3-zh chat [-m MODEL] [options]            interactive, streaming, multi-turn
  llama3-zh chat [-m MODEL] -p "你是谁" [--json]   one answer on stdout, stats on stderr
  echo "你是谁" | llama3-zh chat [-m MODEL]         the same, prompt from standard input
  llama3-zh chat --base-url URL [--model NAME]   the same with a model on an OpenAI-compatible server

${MODEL_FLAGS_HELP}

A model on a server (vLLM, llama.cpp's llama-server, SGLang, another 'llama3-zh serve'):
  --base-url URL            chat with a model of this OpenAI-compatible server, e.g.
                            http://127.0.0.1:8000/v1 (the /v1 may be left out); the
                            conversation goes to its /v1/chat/completions and the server
                            applies its own chat template; the local-model flags above
                            (all but -m) have no effect there and are refused
  -m, --model NAME          the server's model (default: its only one, or the first it lists)
  --api-key KEY             sent as "Authorization: Bearer KEY" (default: ${'$'}LLAMA3_ZH_API_KEY,
                            then ${'$'}OPENAI_API_KEY)

Conversation:
  -s, --system TEXT         system prompt
  --preset NAME             a system prompt preset: ${Object.entries(SYSTEM_PRESETS).map(([k, p]) => `${k} (${p.aliases.join(', ')})`).join('; ')}
  --history N               rounds of history kept, newest first (default ${DEMO_DEFAULTS.historyRounds})
  -p, --prompt TEXT         one-shot: answer TEXT and exit
  --json                    one-shot: print {reply, finish_reason, usage, timings} as JSON
  --tools FILE              offer these tools (a JSON list, OpenAI's shape); you play the tool: the chat
                            shows each call and asks for its result. One-shot prints the calls as JSON lines
  -i, --interactive         interactive even when standard input is not a terminal
  With --base-url, the oldest rounds are left out only when the server refuses the
  conversation as too long for its context (it alone knows its tokens).

Generation (defaults are the llama3-Chinese-chat demo's):
  -n, --max-tokens N        (${DEMO_DEFAULTS.maxTokens})   --temperature T (${DEMO_DEFAULTS.temperature}, 0 = greedy)
  --top-p P (${DEMO_DEFAULTS.topP})   --top-k K (${DEMO_DEFAULTS.topK}, 0 = off)   --min-p P (${DEMO_DEFAULTS.minP})
  --repeat-penalty R (${DEMO_DEFAULTS.repeatPenalty})   --repeat-last-n N (${DEMO_DEFAULTS.repeatLastN})
  --presence-penalty P (0)   --frequency-penalty P (0)   --seed N
  --stop TEXT               stop when the reply contains TEXT (repeatable)
  With --base-url these go as OpenAI's fields and vLLM's extras (top_k, min_p,
  repetition_penalty; repeat_penalty and repeat_last_n for llama-server).

In the chat: /help lists the slash commands; Ctrl-C stops an answer, Ctrl-C twice leaves.`;

const SLASH_HELP = `Commands:
  /system [TEXT]     show or set the system prompt (/system none clears it)
  /reset             forget the conversation (keeps the system prompt)
  /history           show the conversation (tool calls and results too)
  /tools             list the tools offered (--tools FILE)
  /save FILE         save the conversation as JSON      /load FILE   load one
  /set [KEY VALUE]   show or change a setting, e.g. /set temperature 0.2
  /help              this list                          /exit        leave
  """                start and end a multi-line message
  Ctrl-C stops the current answer; at the prompt, Ctrl-C twice leaves.`;

const FLAG_SETTINGS: Record<string, string> = {
  'max-tokens': 'max_tokens', temperature: 'temperature', 'top-p': 'top_p', 'top-k': 'top_k', 'min-p': 'min_p',
  'repeat-penalty': 'repeat_penalty', 'repeat-last-n': 'repeat_last_n', 'presence-penalty': 'presence_penalty',
  'frequency-penalty': 'frequency_penalty', seed: 'seed', history: 'history',
};

const dim = (s: string) => (process.stderr.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

function stats(a: Answer): string {
  const t = a.timings;
  const parts = [
    `${a.usage.completionTokens} tokens`,
    `${t.generationTokensPerSecond.toFixed(1)} tok/s`,
  ];
  // A server that sent no usage (an answer interrupted before it came) gives no prompt count; a local prompt is never empty.
  if (a.usage.promptTokens) {
    parts.push(`prompt ${a.usage.promptTokens} tokens${a.usage.cachedTokens ? ` (${a.usage.cachedTokens} cached)` : ''} in ${(t.promptMs / 1000).toFixed(2)} s`);
  }
  if (a.finishReason === 'length') parts.push('stopped at the max-tokens limit');
  if (a.finishReason === 'abort') parts.push('interrupted');
  return `[${parts.join(' · ')}]`;
}

function trimNotice(a: Answer, ctx: number | undefined): string | undefined {
  if (!a.droppedToFit) return undefined;
  const context = ctx ? `the ${ctx}-token context` : "the server's context";
  return `(left out the ${a.droppedToFit} oldest round${a.droppedToFit > 1 ? 's' : ''} of the conversation to fit ${context}; the system prompt is kept)`;
}

/** --tools FILE, read before the model loads: a bad file is a usage error (exit 2), one line naming the field. */
function toolsFlag(file: string): ToolFunction[] {
  try {
    return readToolsFile(file);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`--tools ${e.message}`, 2);
    throw e;
  }
}

/** A template with no tool format (a Jinja one that never mentions tools) is said at once, not at the first question. */
function checkToolFormat(session: ChatSession) {
  try {
    session.replier.checkTools(session.tools ?? []);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`--tools: ${e.message}`, 2);
    throw e;
  }
}

export async function chatCommand(args: string[]): Promise<void> {
  const { values } = parseFlags('chat', args, {
    ...MODEL_FLAGS,
    system: { type: 'string', short: 's' },
    preset: { type: 'string' },
    prompt: { type: 'string', short: 'p' },
    json: { type: 'boolean' },
    interactive: { type: 'boolean', short: 'i' },
    'max-tokens': { type: 'string', short: 'n' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    'min-p': { type: 'string' },
    'repeat-penalty': { type: 'string' },
    'repeat-last-n': { type: 'string' },
    'presence-penalty': { type: 'string' },
    'frequency-penalty': { type: 'string' },
    seed: { type: 'string' },
    history: { type: 'string' },
    stop: { type: 'string', multiple: true },
    tools: { type: 'string' },
    'base-url': { type: 'string' },
    'api-key': { type: 'string' },
  });
  if (values.help) { console.log(HELP); return; }

  // Check every flag before loading a multi-gigabyte model.
  const settings: ChatSettings = { ...DEMO_DEFAULTS };
  for (const [flag, name] of Object.entries(FLAG_SETTINGS)) {
    const v = (values as Record<string, unknown>)[flag];
    if (typeof v === 'string') {
      try { applySetting(settings, name, v); } catch (e) { throw new UserError(`--${flag}: ${(e as Error).message}`, 2); }
    }
  }
  let system = values.system;
  if (values.preset !== undefined) {
    if (system !== undefined) throw new UserError('give --system or --preset, not both', 2);
    system = findPreset(values.preset);
    if (system === undefined) throw new UserError(`unknown preset "${values.preset}"; presets: ${Object.keys(SYSTEM_PRESETS).join(', ')}`, 2);
  }
  const oneShot = values.prompt !== undefined || (!process.stdin.isTTY && !values.interactive);
  let question = values.prompt;
  if (oneShot && question === undefined) {
    question = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  }
  if (oneShot && !question?.trim()) throw new UserError('the prompt is empty; pass -p TEXT or pipe text in', 2);
  if (values.stop?.some((s) => s === '')) throw new UserError('--stop needs a non-empty text', 2);
  if (values.json && !oneShot) throw new UserError('--json goes with one-shot mode (-p TEXT or piped input)', 2);
  const tools = values.tools !== undefined ? toolsFlag(values.tools) : undefined;
  const remote = values['base-url'] !== undefined ? remoteFlags(values) : undefined;
  if (!remote && values['api-key'] !== undefined) throw new UserError('--api-key goes with --base-url URL (a server that wants a key)', 2);

  if (!oneShot && process.stderr.isTTY) process.stderr.write(dim(remote ? 'connecting…\r' : 'loading model…\r'));
  let replier: Replier;
  if (remote) {
    const opened = await openRemote({ ...remote, model: values.model });
    replier = opened.replier;
    if (opened.notice) console.error(dim(opened.notice));
  } else {
    const model = await openModel(values);
    if (model.demoNotice) console.error(model.demoNotice);
    replier = localReplier(model);
  }
  const session = new ChatSession(replier, settings, system, values.stop ?? [], tools);
  try {
    if (tools) checkToolFormat(session);
    if (oneShot) await runOnce(session, question!, !!values.json);
    else await runRepl(session);
  } finally {
    await replier.close();
  }
}

/** --base-url and the key; a flag about a local model (its file, context, threads, adapters) is a usage error there. */
function remoteFlags(values: Record<string, unknown>) {
  const local = Object.keys(MODEL_FLAGS).filter((f) => f !== 'model' && values[f] !== undefined);
  if (local.length) {
    const named = local.map((f) => `--${f}`).join(', ');
    throw new UserError(`${named} ${local.length > 1 ? 'have' : 'has'} no effect on a remote server (--base-url): the server loads the model, its context and template; leave ${local.length > 1 ? 'them' : 'it'} out`, 2);
  }
  return { base: apiBase(values['base-url'] as string), ...clientApiKey(values['api-key'] as string | undefined) };
}

async function runOnce(session: ChatSession, question: string, json: boolean) {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    let shown = false;
    // An answer that fails half-way (a server's connection lost) still ends its line before the error.
    const a = await session.ask(question, { signal: ac.signal, onText: json ? undefined : (d) => { shown = true; process.stdout.write(d); } })
      .catch((e) => { if (shown) process.stdout.write('\n'); throw e; });
    const calls = a.toolCalls.map(callJson);
    const info = session.replier.info;
    const notice = trimNotice(a, info.contextSize);
    if (notice) console.error(notice);
    if (a.notice) console.error(a.notice);
    if (json) {
      console.log(JSON.stringify({
        // {model: path, template} locally; {model: name, base_url} for a server's model.
        ...info.record,
        reply: a.content,
        // OpenAI's finish_reason for a reply that calls tools.
        finish_reason: calls.length ? 'tool_calls' : a.finishReason,
        ...(session.tools ? { tool_calls: calls } : {}),
        usage: {
          prompt_tokens: a.usage.promptTokens,
          completion_tokens: a.usage.completionTokens,
          total_tokens: a.usage.promptTokens + a.usage.completionTokens,
          cached_tokens: a.usage.cachedTokens,
        },
        timings: {
          prompt_ms: a.timings.promptMs,
          generation_ms: a.timings.generationMs,
          prompt_tokens_per_second: a.timings.promptTokensPerSecond,
          generation_tokens_per_second: a.timings.generationTokensPerSecond,
        },
      }));
    } else {
      if (a.content || !calls.length) process.stdout.write('\n');
      // One call per line, as JSON, for a script to run the tools.
      for (const c of calls) console.log(JSON.stringify(c));
      console.error(dim(stats(a)));
    }
    if (a.finishReason === 'abort') process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function loadConversation(session: ChatSession, file: string) {
  let data: unknown;
  try {
    data = JSON.parse(readSmallFile(file, 'conversation file', 64 << 20));
  } catch (e) {
    throw new UserError(`cannot load ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const messages: Message[] = parseMessages(data, file);
  // Settings saved by /save come back too; a plain messages array has none.
  const saved = (data as { settings?: Record<string, unknown> }).settings;
  const settings = { ...session.settings };
  for (const [name, def] of Object.entries(SETTING_KEYS)) {
    const v = saved?.[def.key];
    if (typeof v === 'number') applySetting(settings, name, String(v));
  }
  session.settings = settings;
  session.system = messages.find((m) => m.role === 'system')?.content;
  session.turns = messages.filter((m) => m.role !== 'system');
}

async function runRepl(session: ChatSession) {
  const info = session.replier.info;
  const tty = !!process.stdout.isTTY;
  console.error(dim(`llama3-zh chat · ${[info.name, ...info.banner].join(' · ')}`));
  if (session.tools?.length) console.error(dim(`tools: ${session.tools.map((t) => t.name).join(', ')} (you play them: each call asks you for its result)`));
  console.error(dim('Type a message; /help for commands, /exit to leave.'));
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: !!process.stdin.isTTY, historySize: 200 });
  const lines = new LineReader(rl);
  // Piped input (-i) gets no prompts echoed, only answers and command output.
  const showPrompt = () => { if (process.stdin.isTTY) rl.prompt(); };
  let answering: AbortController | undefined;
  let playingTool = false;
  let hinted = false;
  let lastSigint = 0;
  rl.on('SIGINT', () => {
    if (answering) { answering.abort(); return; }
    const typed = rl.line;
    (rl as unknown as { line: string }).line = '';
    // At a tool's prompt, Ctrl-C cancels the calls waiting for results.
    if (playingTool) { process.stdout.write('\n'); lines.cancelRead(); return; }
    const now = Date.now();
    if (typed) { showPrompt(); lastSigint = now; return; }
    if (now - lastSigint < 2000) { rl.close(); return; }
    lastSigint = now;
    process.stdout.write('\n' + dim('(press Ctrl-C again or type /exit to leave)') + '\n');
    showPrompt();
  });
  const prompt = (p: string) => { rl.setPrompt(p); showPrompt(); };
  const more = () => prompt('... ');

  for (prompt('>>> '); ;) {
    const line = await lines.next();
    if (line === undefined) break;
    if (line === CANCELLED) continue;
    if (line.startsWith('"""')) {
      const text = await readQuoted(line, () => lines.next(), more);
      if (text === undefined) break;
      if (typeof text === 'string' && text) await answer(text);
    } else if (line.startsWith('/')) {
      if (command(line)) break;
      // A loaded conversation may end in calls that wait for their results.
      if (line.startsWith('/load ') && session.tools?.length && session.pendingCalls().length) await playTools(session.pendingCalls());
    } else if (line.trim()) {
      await answer(line);
    }
    prompt('>>> ');
  }
  rl.close();

  /** A question, then the tool loop: while the model calls tools, the person gives their results and it goes on. */
  async function answer(text: string) {
    const a = await generate((io) => session.ask(text, io));
    if (a?.toolCalls.length) await playTools(a.toolCalls);
  }

  async function playTools(first: ToolCall[]) {
    for (let calls = first; calls.length;) {
      const results = await toolResults(calls);
      if (!results) {
        session.cancelCalls();
        console.error(dim('(tool calls cancelled)'));
        return;
      }
      const a = await generate((io) => session.answerCalls(results, io));
      calls = a?.toolCalls ?? [];
    }
  }

  /** Each call's result, as the person playing the tool types it; undefined when they cancel. */
  async function toolResults(calls: ToolCall[]): Promise<string[] | undefined> {
    // How to play the tool, said the first time it is asked.
    if (!hinted) console.error(dim(RESULT_HINT));
    hinted = true;
    const results: string[] = [];
    playingTool = true;
    try {
      for (const [i, c] of calls.entries()) {
        prompt(resultPrompt(c, i, calls.length));
        let got = await lines.next();
        if (typeof got === 'string' && got.startsWith('"""')) got = await readQuoted(got, () => lines.next(), more);
        if (typeof got !== 'string' || !got.trim()) return undefined;
        results.push(got);
      }
      return results;
    } finally {
      playingTool = false;
    }
  }

  /** One reply, streamed, its calls shown as calls; undefined when it failed (said on stderr). */
  async function generate(run: (io: { signal: AbortSignal; onText: (d: string) => void }) => Promise<Answer>): Promise<Answer | undefined> {
    answering = new AbortController();
    let shown = false;
    try {
      const a = await run({ signal: answering.signal, onText: (d) => { shown = true; process.stdout.write(d); } });
      if (a.content || !a.toolCalls.length) process.stdout.write('\n');
      for (const c of a.toolCalls) console.log(callLine(c, tty));
      const notice = trimNotice(a, info.contextSize);
      if (notice) console.error(dim(notice));
      if (a.notice) console.error(dim(a.notice));
      console.error(dim(stats(a)));
      return a;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      // What came of an answer that failed half-way (a server's connection lost) keeps its line.
      if (shown) process.stdout.write('\n');
      console.error(`error: ${e.message}`);
      return undefined;
    } finally {
      answering = undefined;
    }
  }

  /** Run a slash command; true means leave. */
  function command(line: string): boolean {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    const arg = line.trim().slice(cmd.length).trim();
    try {
      switch (cmd) {
        case '/exit': case '/quit': case '/bye':
          return true;
        case '/help': case '/?':
          console.log(SLASH_HELP);
          break;
        case '/system':
          if (!arg) console.log(session.system ?? info.defaultSystem ?? '(no system prompt)');
          else if (arg === 'none') { session.system = undefined; console.error(dim('(system prompt cleared)')); }
          else { session.system = findPreset(arg) ?? arg; console.error(dim('(system prompt set)')); }
          break;
        case '/reset': case '/clear':
          session.reset();
          console.error(dim('(conversation cleared)'));
          break;
        case '/history': {
          const sys = session.system ?? info.defaultSystem;
          if (sys) console.log(`[system] ${sys}`);
          for (const m of session.turns) for (const l of historyLines(m, tty)) console.log(l);
          if (!session.turns.length) console.log('(no messages yet)');
          break;
        }
        case '/tools':
          for (const l of toolList(session.tools)) console.log(l);
          break;
        case '/save': {
          if (!arg) throw new UserError('usage: /save FILE');
          const messages = messagesJson([...(session.system ? [{ role: 'system' as const, content: session.system }] : []), ...session.turns]);
          writeFileAtomic(arg, JSON.stringify({ ...info.record, settings: session.settings, messages }, null, 2) + '\n');
          console.error(dim(`(saved ${session.turns.length} messages to ${arg})`));
          break;
        }
        case '/load':
          if (!arg) throw new UserError('usage: /load FILE');
          loadConversation(session, arg);
          console.error(dim(`(loaded ${session.turns.length} messages from ${arg})`));
          break;
        case '/set':
          if (rest.length === 0) console.log(describeSettings(session.settings));
          else if (rest.length !== 2) throw new UserError('usage: /set KEY VALUE, e.g. /set temperature 0.2');
          else { applySetting(session.settings, rest[0], rest[1]); console.error(dim(`(${rest[0]} = ${rest[1]})`)); }
          break;
        default:
          throw new UserError(`unknown command ${cmd}; /help lists the commands`);
      }
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      console.error(`error: ${e.message}`);
    }
    return false;
  }
}
