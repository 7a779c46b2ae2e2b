/** How answers are scored: multiple choice by the most likely letter; TriviaQA by exact match and F1. */
import { LETTERS, type Letter } from './types.js';

/** The letter with the highest log-probability (the first of equals, as numpy's argmax). */
export function argmaxLetter(logprobs: number[]): Letter {
  let best = 0;
  for (let i = 1; i < logprobs.length; i++) if (logprobs[i] > logprobs[best]) best = i;
  return LETTERS[best];
}

const PUNCTUATION = new Set([...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', '‘', '’', '´', '`']);

/**
 * TriviaQA's official normalisation (triviaqa_evaluation.py): underscores to spaces, lower case,
 * punctuation to spaces, the articles a/an/the removed, whitespace collapsed.
 */
export function normalizeAnswer(s: string): string {
  let t = s.replace(/_/g, ' ').toLowerCase();
  t = [...t].map((ch) => (PUNCTUATION.has(ch) ? ' ' : ch)).join('');
  t = t.replace(/\b(a|an|the)\b/g, ' ');
  return t.split(/\s+/).filter(Boolean).join(' ');
}

export function exactMatch(prediction: string, aliases: string[]): boolean {
  const p = normalizeAnswer(prediction);
  return aliases.some((a) => normalizeAnswer(a) === p);
}

/** Token-level F1 between the normalised prediction and an answer (SQuAD's, which TriviaQA uses). */
export function f1Score(prediction: string, answer: string): number {
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean);
  const g = normalizeAnswer(answer).split(' ').filter(Boolean);
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) { same++; counts.set(t, c - 1); }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

export function bestF1(prediction: string, aliases: string[]): number {
  return Math.max(0, ...aliases.map((a) => f1Score(prediction, a)));
}

/** A generated answer as TriviaQA scores it: the first line, trimmed. */
export function cleanGeneratedAnswer(text: string): string {
  return text.split('\n')[0].trim();
}
