/**
 * Replies from a model loaded here: the conversation is windowed and rendered by the model's template
 * (conversation.ts buildPrompt), the engine generates, and with tools the reply's text is read for calls as it
 * streams (HeldReply), in the template's own tool format.
 */
import { buildPrompt } from './conversation.js';
import type { ChatModel } from './model.js';
import type { Replier, ReplierInfo, Reply, ReplyRequest } from './replier.js';
import { HeldReply, pythonTagId } from './toolCalls/heldReply.js';
import { newCallId, type ToolFunction, toolSyntaxFor } from './tools.js';

export function localReplier(model: ChatModel): Replier {
  const { engine, template } = model;
  const e = engine.info;
  const info: ReplierInfo = {
    name: e.name,
    banner: [`template ${template.name}`, `context ${e.contextSize}`, `${e.threads} threads`],
    record: { model: e.path, template: template.name },
    contextSize: e.contextSize,
    defaultSystem: template.defaultSystem,
  };

  async function reply(r: ReplyRequest): Promise<Reply> {
    const s = r.settings;
    const tools = r.tools?.length ? r.tools : undefined;
    const built = buildPrompt(engine, template, r.system ?? template.defaultSystem, r.turns, {
      maxRounds: s.historyRounds,
      reserve: s.maxTokens,
      tools,
    });
    const syntax = toolSyntaxFor(template);
    const held = tools && new HeldReply(syntax, tools, pythonTagId(engine, syntax));
    const show = r.onText;
    const result = await engine.generate({
      prompt: built.tokens,
      maxTokens: s.maxTokens,
      sampling: s,
      stopTokens: model.stopTokens,
      stopStrings: [...model.stopStrings, ...r.stops],
      signal: r.signal,
      onToken: held ? (t) => held.token(t) : undefined,
      onText: held ? (d) => { const out = held.push(d); if (out) show?.(out); } : show,
    });
    // Nothing is parsed without tools (as the server does), nor in a reply cut short: half a call is text.
    const read = held?.end(result.text, result.finishReason);
    if (read?.rest) show?.(read.rest);
    const toolCalls = (read?.calls ?? []).map((c) => ({ id: newCallId(), name: c.name, arguments: c.arguments }));
    return {
      text: result.text,
      content: read ? read.content : result.text,
      toolCalls,
      finishReason: result.finishReason,
      usage: result.usage,
      timings: result.timings,
      droppedToFit: built.droppedToFit,
    };
  }

  return {
    info,
    reply,
    checkTools(tools: ToolFunction[]) {
      // A template with no tool format (a Jinja one that never mentions tools) throws its UserError here.
      template.render([{ role: 'user', content: '你好' }], true, tools);
    },
    close: () => engine.close(),
  };
}
