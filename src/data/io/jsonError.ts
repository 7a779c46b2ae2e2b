import { MAX_DEPTH } from './limits.js';

/**
 * Where a JSON text goes wrong and why, for error reports with a column. JSON.parse says "is not valid
 * JSON" without a position for many errors, so a broken line is re-read by this small validator (only
 * broken lines are: the valid ones never pay for it).
 */
export function jsonErrorAt(s: string): { index: number; reason: string } {
  let i = 0;
  const fail = (reason: string): never => { throw new JsonSyntax(i, reason); };
  const ws = () => { for (let c = s.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = s.charCodeAt(++i)); };
  const unexpected = () => fail(i >= s.length ? 'unexpected end of the text (a bracket or quote not closed?)' : `unexpected ${JSON.stringify(s[i])}`);
  const string = () => {
    i++;
    for (;;) {
      const c = s.charCodeAt(i);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 34) { i++; return; }
      if (c === 92) {
        const e = s[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) fail('bad \\u escape (4 hex digits expected)');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          fail(`bad escape \\${e ?? ''}`);
        }
        continue;
      }
      if (c < 32) fail('control character in a string (escape it, e.g. \\n)');
      i++;
    }
  };
  const literal = (word: string) => {
    if (s.startsWith(word, i)) i += word.length;
    else unexpected();
  };
  const value = (depth: number): void => {
    // Recursive: past MAX_DEPTH it would overflow V8's stack (and such rows are refused anyway).
    if (depth >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    ws();
    const c = s[i];
    if (c === '{') {
      i++; ws();
      if (s[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (s[i] !== '"') fail(s[i] === undefined ? 'unexpected end of the text (a bracket or quote not closed?)' : 'expected a "key" in double quotes');
        string(); ws();
        if (s[i] !== ':') fail("expected ':' after the key");
        i++;
        value(depth + 1); ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === '}') { i++; return; }
        fail(s[i] === undefined ? "unexpected end of the text: '}' missing" : "expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++; ws();
      if (s[i] === ']') { i++; return; }
      for (;;) {
        value(depth + 1); ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === ']') { i++; return; }
        fail(s[i] === undefined ? "unexpected end of the text: ']' missing" : "expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i, i + 400));
    if (m && m[0].length) { i += m[0].length; return; }
    if (c === "'") fail('strings need double quotes');
    unexpected();
  };
  try {
    value(0); ws();
    if (i < s.length) fail('more text after the JSON value (two rows on one line?)');
  } catch (e) {
    if (e instanceof JsonSyntax) return { index: e.index, reason: e.reason };
    throw e;
  }
  return { index: 0, reason: 'not valid JSON' };
}

class JsonSyntax {
  constructor(readonly index: number, readonly reason: string) {}
}
