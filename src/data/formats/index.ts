import { UserError } from '../../errors.js';
import { isObject } from '../record.js';
import { alpaca } from './alpaca.js';
import { firefly } from './firefly.js';
import { type Format, FORMAT_NAMES, type FormatName } from './format.js';
import { openai } from './openai.js';
import { preference } from './preference.js';
import { sharegpt } from './sharegpt.js';
import { text } from './text.js';

export { type Format, FORMAT_NAMES, type FormatName, type NoteLoss } from './format.js';

/** In the order detection tries them: the most specific shapes first. */
export const FORMATS: Format[] = [preference, sharegpt, firefly, openai, alpaca, text];

export function formatByName(name: string, flag: string): Format {
  const f = FORMATS.find((x) => x.name === name.toLowerCase());
  if (!f) throw new UserError(`${flag} ${JSON.stringify(name)} is not a format; formats: ${FORMAT_NAMES.join(', ')}`, 2);
  return f;
}

/** The format most of the first rows look like; undefined when none fits any. */
export function detectFormat(rows: unknown[]): Format | undefined {
  const votes = new Map<FormatName, number>();
  for (const o of rows) {
    if (!isObject(o)) continue;
    const f = FORMATS.find((x) => x.looksLike(o));
    if (f) votes.set(f.name, (votes.get(f.name) ?? 0) + 1);
  }
  let best: Format | undefined;
  for (const f of FORMATS) if ((votes.get(f.name) ?? 0) > (best ? votes.get(best.name)! : 0)) best = f;
  return best;
}

export { alpaca, firefly, openai, preference, sharegpt, text };
