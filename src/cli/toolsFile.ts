import { readTools, ToolError, type ToolFunction } from '../chat/tools.js';
import { UserError } from '../errors.js';
import { readSmallFile } from '../util/files.js';

/**
 * --tools FILE (template render, chat): a JSON list of tools in OpenAI's shape
 * [{"type":"function","function":{…}}] or bare functions [{"name","description","parameters"}], or an object with a
 * "tools" list (an OpenAI request body). Anything wrong is one line naming the file and the bad field.
 */
export function readToolsFile(path: string): ToolFunction[] {
  const raw = readSmallFile(path, 'tools file');
  let data: unknown;
  try {
    // A byte-order mark (Windows Notepad writes one) is no part of the JSON; JSON.parse chokes on the invisible character.
    data = JSON.parse(raw.replace(/^\ufeff/, ''));
  } catch (e) {
    throw new UserError(`${path} is not valid JSON (${(e as Error).message.split('\n')[0]}); expected a list of tools like [{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`);
  }
  const list = data !== null && typeof data === 'object' && !Array.isArray(data) && 'tools' in data ? (data as { tools: unknown }).tools : data;
  try {
    return readTools(list);
  } catch (e) {
    throw e instanceof ToolError ? new UserError(`${path}: ${e.message}`) : e;
  }
}
