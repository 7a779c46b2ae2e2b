import { UserError } from '../errors.js';

/**
 * The key a client command (chat --base-url, eval --base-url) sends to a server: --api-key, else LLAMA3_ZH_API_KEY
 * (the variable `llama3-zh serve` reads its key from, so one setting serves both ends), else OPENAI_API_KEY (what
 * OpenAI's own clients read). Where it came from is kept for the message when a server refuses it.
 */
export function clientApiKey(flag: string | undefined): { apiKey?: string; keyFrom?: string } {
  if (flag !== undefined) {
    if (!flag.trim()) throw new UserError('--api-key is empty; give the key the server wants', 2);
    return { apiKey: headerSafe(flag, '--api-key'), keyFrom: '--api-key' };
  }
  for (const name of ['LLAMA3_ZH_API_KEY', 'OPENAI_API_KEY']) {
    const v = process.env[name];
    if (v?.trim()) return { apiKey: headerSafe(v, name), keyFrom: name };
  }
  return {};
}

/**
 * A key an HTTP header can carry: printable, Latin-1 at most (a pasted line break, or a key copied with a character
 * of another script). Said without the key, which is a secret.
 */
export function headerSafe(key: string, from: string): string {
  if (/[^\x20-\x7e\x80-\xff]/.test(key)) {
    throw new UserError(`the key from ${from} has a line break or a character an HTTP header cannot carry; copy it again`, 2);
  }
  return key;
}
