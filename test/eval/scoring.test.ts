import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argmaxLetter, bestF1, cleanGeneratedAnswer, exactMatch, f1Score, normalizeAnswer } from '../../src/eval/scoring.js';

test('the letter with the highest log-probability; the first of equals', () => {
  assert.equal(argmaxLetter([-3, -0.1, -2, -5]), 'B');
  assert.equal(argmaxLetter([-1, -1, -1, -1]), 'A');
  assert.equal(argmaxLetter([-9, -8, -7, -0.5]), 'D');
});

test('TriviaQA normalisation: lower case, punctuation and articles out, whitespace collapsed', () => {
  assert.equal(normalizeAnswer('  The  Beatles! '), 'beatles');
  assert.equal(normalizeAnswer('Paris, France'), 'paris france');
  assert.equal(normalizeAnswer('St. Louis_Missouri'), 'st louis missouri');
  assert.equal(normalizeAnswer('‘An’ apple a day'), 'apple day');
  assert.equal(normalizeAnswer('théâtre'), 'théâtre');
});

test('exact match against every alias; F1 over normalised tokens, the best alias', () => {
  assert.equal(exactMatch('the Beatles', ['Beatles', 'Fab Four']), true);
  assert.equal(exactMatch('Beatles band', ['Beatles']), false);
  assert.equal(f1Score('Paris', 'Paris (France)'), 2 / 3);
  assert.equal(f1Score('city of light', 'Paris'), 0);
  assert.equal(bestF1('Victor Hugo novel', ['Hugo', 'Victor Hugo']), 0.8);
  assert.equal(cleanGeneratedAnswer(' Paris\nQuestion: next'), 'Paris');
});
