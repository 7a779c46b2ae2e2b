/**
 * Eval benchmark: C-Eval-style 5-shot questions on a synthesized Llama-3.2-1B-shaped Q8_0 model, scored
 * through the same runner `llama3-zh eval` uses, with the few-shot prefix reused from the KV cache and
 * without it (every prompt evaluated in full). Prints questions/s of both and the ratio (target ≥ 3x).
 * The two modes alternate per round, so a noisy shared machine affects both alike.
 * The questions are the test fixtures' C-Eval items (Chinese), the shots their 5 dev examples.
 * Options: --questions=8 --rounds=2 --threads=N --preset=1b
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatModel } from '../src/chat/model.js';
import { loadEngine } from '../src/engine/load.js';
import { localModel } from '../src/eval/model.js';
import { mcqPrompt } from '../src/eval/prompts.js';
import { runEval } from '../src/eval/runner.js';
import { loadTask } from '../src/eval/tasks.js';
import type { McqTaskData } from '../src/eval/types.js';
import { benchModel } from './model.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const preset = args.get('preset') ?? '1b';
const QUESTIONS = Number(args.get('questions') ?? 26);
const ROUNDS = Number(args.get('rounds') ?? 1);
const threads = Number(args.get('threads') ?? availableParallelism());
const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'eval', 'ceval');

/** A one-subject C-Eval layout: the fixture's 5 dev examples and QUESTIONS val items made from its questions. */
function benchData(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-eval-'));
  const src = loadTask('ceval', { data: join(FIXTURES, '..'), subjects: ['computer_network', 'logic'], shots: 0 }) as McqTaskData;
  const pool = src.subjects.flatMap((s) => s.items);
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const rows = Array.from({ length: QUESTIONS }, (_, i) => {
    const it = pool[i % pool.length];
    // Distinct questions: a number in front, as real items differ from their first characters.
    return [i, q(`第${i + 1}题：${it.question}`), ...it.choices.map(q), it.answer].join(',');
  });
  mkdirSync(join(dir, 'ceval', 'val'), { recursive: true });
  mkdirSync(join(dir, 'ceval', 'dev'), { recursive: true });
  writeFileSync(join(dir, 'ceval', 'val', 'computer_network_val.csv'), ['id,question,A,B,C,D,answer', ...rows].join('\n') + '\n');
  writeFileSync(join(dir, 'ceval', 'dev', 'computer_network_dev.csv'), readFixture('dev/computer_network_dev.csv'));
  return dir;
}

function readFixture(rel: string): string {
  return readFileSync(join(FIXTURES, rel), 'utf8');
}

async function main() {
  const path = await benchModel(preset);
  const data = benchData();
  const task = loadTask('ceval', { data, subjects: ['computer_network'] }) as McqTaskData;
  const open = chatModel(await loadEngine({ modelPath: path, threads, contextSize: 2048 }));
  const model = localModel(`${preset}-q8_0`, open);
  const s = task.subjects[0];
  const tok = (t: string) => open.engine.tokenize(t).length + 1;
  const prefix = tok(mcqPrompt('ceval', 'official', s.subject, s.shots, s.items[0]).sharedPrefix);
  const full = s.items.map((it) => tok(mcqPrompt('ceval', 'official', s.subject, s.shots, it).text));
  const avgFull = full.reduce((a, b) => a + b, 0) / full.length;
  console.log(`model ${path}, ${threads} threads; ${QUESTIONS} C-Eval-style 5-shot questions per run, ${ROUNDS} rounds per mode`);
  console.log(`prompt ${avgFull.toFixed(0)} tokens on average, of which ${prefix} are the shared header and shots`);
  const rates: Record<'reuse' | 'full', number[]> = { reuse: [], full: [] };
  const times: Record<'reuse' | 'full', number[]> = { reuse: [], full: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of ['reuse', 'full'] as const) {
        const out = mkdtempSync(join(tmpdir(), 'bench-eval-out-'));
        // Another prompt first, so no run starts with the subject's prefix already cached.
        await model.answerLogprobs({ text: '你好', sharedPrefix: '' }, ['A']);
        let last = 0;
        const progress = {
          start() { last = performance.now(); },
          update(done: number) { const now = performance.now(); if (done > 1) times[mode].push(now - last); last = now; },
          done() {},
        };
        const res = await runEval({ model, tasks: [task], style: 'official', file: join(out, 'r.json'), reuseCache: mode === 'reuse', progress });
        rates[mode].push(res.ran / res.seconds);
        console.log(`  round ${r + 1} ${mode === 'reuse' ? 'prefix reused ' : 'every prompt in full'}: ${(res.ran / res.seconds).toFixed(2)} questions/s (${res.seconds.toFixed(1)} s)`);
        rmSync(out, { recursive: true, force: true });
      }
    }
  } finally {
    await model.close();
    rmSync(data, { recursive: true, force: true });
  }
  const best = (xs: number[]) => Math.max(...xs);
  const reuse = best(rates.reuse);
  const fullRate = best(rates.full);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [mr, mf] = [median(times.reuse), median(times.full)];
  console.log(`\none question (median, after the first): prefix reused ${mr.toFixed(0)} ms, in full ${mf.toFixed(0)} ms: ${(mf / mr).toFixed(2)}x`);
  console.log(`questions/s (best round)   prefix reused ${reuse.toFixed(2)}   every prompt in full ${fullRate.toFixed(2)}   ratio ${(reuse / fullRate).toFixed(2)}x (target ≥ 3x)`);
}

await main();
