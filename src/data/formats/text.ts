import { isObject, idField, RowError, typeName } from '../record.js';
import { joinedText } from './lossy.js';
import { isBlank, isText } from '../text.js';
import type { Format } from './format.js';

/** Plain text for continued pre-training: {"text"} (or a line of a .txt file, read as {"text": line}). */
export const text: Format = {
  name: 'text',
  about: '{"text"} or one document per line of a .txt file (continued pre-training)',
  fields: ['id', 'text'],
  looksLike: (o) => isText(o.text),
  read(o) {
    if (!isObject(o)) throw new RowError('a row must be a JSON object');
    if (!isText(o.text)) throw new RowError(`'text' ${o.text === undefined ? 'is missing' : `must be a string, not ${typeName(o.text)}`}`);
    if (isBlank(o.text)) throw new RowError('empty text');
    return { kind: 'text', ...idField(o, 'id'), text: o.text };
  },
  write(r, lost) {
    const out: Record<string, unknown> = {};
    if (r.id !== undefined) out.id = r.id;
    out.text = r.kind === 'text' ? r.text : joinedText(r, lost);
    return out;
  },
};


