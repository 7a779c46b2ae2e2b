import { readFileSync } from 'node:fs';
import { parseMessages } from '../../chat/messages.js';
import { NATIVE_TEMPLATES, resolveTemplate, TEMPLATE_NAMES, withDefaultSystem } from '../../chat/templates.js';
import { toolSyntaxFor } from '../../chat/tools.js';
import { UserError } from '../../errors.js';
import { readGguf } from '../../gguf/reader.js';
import { meta } from '../../gguf/types.js';
import { findConversion } from '../../hub/created.js';
import { NeedsConversionError } from '../../hub/modelRef.js';
import { resolveLocal, type ResolvedModel } from '../../hub/resolve.js';
import { AUTO_TYPE } from '../convertFirst.js';
import { parseFlags } from '../flags.js';
import { checkTemplateFlags, readTemplateFile } from '../modelFlags.js';
import { readSmallFile } from '../../util/files.js';
import { readToolsFile } from '../toolsFile.js';

const HELP = `llama3-zh template — chat templates

  llama3-zh template render --messages FILE.json [--tools TOOLS.json]
                            [--template NAME | --template-file F | -m MODEL]
                            [--no-generation-prompt] [--json]
      Print the exact prompt text a model gets for these messages (like llama.cpp's
      /apply-template). FILE.json is [{"role":"user","content":"你好"}, ...] or an object with
      a "messages" array; "-" reads standard input. Messages may carry tool calls in OpenAI's
      shape (assistant "tool_calls", "tool" messages with "tool_call_id"). With -m the
      template and BOS/EOS come from the GGUF, or from what 'llama3-zh create' recorded
      (template, system prompt), and --template, if given, still wins.
      --tools TOOLS.json offers these tools, written in the template's tool format: a list
      [{"type":"function","function":{"name":"get_weather","description":"…",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}] (or bare
      functions {"name","description","parameters"}). --json also names the syntax the
      model's calls are read with.

  llama3-zh template list
      The built-in templates: ${TEMPLATE_NAMES.join(', ')}.`;

export async function templateCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    for (const t of Object.values(NATIVE_TEMPLATES)) console.log(`${t.name.padEnd(10)} stops: ${t.stops.join(' ')}`);
    console.log(`${'jinja'.padEnd(10)} the GGUF's tokenizer.chat_template or --template-file, via @huggingface/jinja`);
    return;
  }
  if (sub !== 'render') {
    if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { console.log(HELP); return; }
    throw new UserError(`unknown subcommand 'template ${sub}'; use 'template render' or 'template list'`, 2);
  }
  const { values } = parseFlags('template render', rest, {
    messages: { type: 'string' },
    tools: { type: 'string' },
    template: { type: 'string' },
    'template-file': { type: 'string' },
    model: { type: 'string', short: 'm' },
    'no-generation-prompt': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) { console.log(HELP); return; }
  if (!values.messages) throw new UserError('template render needs --messages FILE.json', 2);
  checkTemplateFlags(values);
  let raw: string;
  try {
    raw = values.messages === '-' ? readFileSync(0, 'utf8') : readSmallFile(values.messages, 'messages file', 64 << 20);
  } catch (e) {
    throw e instanceof UserError ? e : new UserError(`cannot read messages file ${values.messages}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw.replace(/^\ufeff/, ''));
  } catch (e) {
    throw new UserError(`${values.messages} is not valid JSON (${(e as Error).message.split('\n')[0]}); expected [{"role":"user","content":"..."}]`);
  }
  const messages = parseMessages(data, values.messages);
  const tools = values.tools !== undefined ? readToolsFile(values.tools) : undefined;
  let modelSource: string | undefined;
  let bosToken: string | undefined;
  let eosToken: string | undefined;
  let recorded: ResolvedModel | undefined;
  if (values.model) {
    recorded = renderable(values.model);
    const f = readGguf(recorded.path);
    modelSource = meta<string>(f, 'tokenizer.chat_template');
    const tokens = meta<string[]>(f, 'tokenizer.ggml.tokens');
    bosToken = tokens?.[meta<number>(f, 'tokenizer.ggml.bos_token_id') ?? -1];
    eosToken = tokens?.[meta<number>(f, 'tokenizer.ggml.eos_token_id') ?? -1];
  }
  // A created model's recorded template and system prompt, as chat and serve use them.
  const picked = resolveTemplate({
    name: values.template ?? recorded?.template,
    fileSource: readTemplateFile(values['template-file']) ?? (values.template === undefined ? recorded?.templateSource : undefined),
    modelSource,
    jinja: { bosToken, eosToken },
  });
  const template = recorded?.system !== undefined ? withDefaultSystem(picked, recorded.system) : picked;
  const prompt = template.render(messages, !values['no-generation-prompt'], tools);
  if (values.json) console.log(JSON.stringify({ template: template.name, prompt, ...(tools ? { toolSyntax: toolSyntaxFor(template).name } : {}) }));
  else process.stdout.write(prompt);
}

/**
 * The GGUF -m names; for a Hugging Face folder, the conversion chat and serve made of it. template converts nothing
 * (and takes no --yes): a folder not converted yet is an error saying what converts it.
 */
function renderable(arg: string): ResolvedModel {
  try {
    return resolveLocal(arg);
  } catch (e) {
    if (!(e instanceof NeedsConversionError)) throw e;
    const cached = findConversion(e.dir, AUTO_TYPE);
    const c = cached?.entry?.created;
    if (cached) return { path: cached.path, name: arg, template: c?.template, templateSource: c?.templateSource, system: c?.system, created: c };
    throw new UserError(`${e.asked} is a Hugging Face (safetensors) model folder, not converted yet: run llama3-zh chat -m ${e.asked} --yes (or llama3-zh create NAME --from ${e.asked}) once, or render without -m (--template NAME)`);
  }
}
