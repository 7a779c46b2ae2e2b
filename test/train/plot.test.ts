import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fmt, lossSeries, niceTicks, smooth, svgLossChart, terminalLossChart, thin, type Point } from '../../src/train/plot.js';
import type { TrainerLogLine } from '../../src/train/trainerLog.js';

/** A short SFT run as LLaMA-Factory's LogCallback writes it: logging_steps 10, an evaluation at step 20. */
const LOG: TrainerLogLine[] = [
  { current_steps: 10, total_steps: 40, loss: 2.0, lr: 1e-4, epoch: 0.25, percentage: 25, elapsed_time: '0:00:10', remaining_time: '0:00:30' },
  { current_steps: 20, total_steps: 40, loss: 1.5, lr: 8e-5, epoch: 0.5, percentage: 50, elapsed_time: '0:00:20', remaining_time: '0:00:20' },
  { current_steps: 20, total_steps: 40, eval_loss: 1.6, epoch: 0.5, percentage: 50, elapsed_time: '0:00:20', remaining_time: '0:00:20' },
  { current_steps: 30, total_steps: 40, loss: 1.2, lr: 5e-5, epoch: 0.75, percentage: 75, elapsed_time: '0:00:30', remaining_time: '0:00:10' },
  { current_steps: 40, total_steps: 40, loss: 1.0, lr: 0, epoch: 1, percentage: 100, elapsed_time: '0:00:40', remaining_time: '0:00:00' },
];

test('smooth is LLaMA-Factory\'s: the weight 1.8 × (sigmoid(0.05 n) − 0.5) grows with the number of points', () => {
  const w = 1.8 * (1 / (1 + Math.exp(-0.2)) - 0.5);
  const got = smooth([2, 1.5, 1.2, 1.0]);
  assert.equal(got[0], 2);
  assert.equal(got[1], 2 * w + 1.5 * (1 - w));
  assert.equal(got[3], got[2] * w + 1.0 * (1 - w));
  assert.deepEqual(got.map((v) => v.toFixed(4)), ['2.0000', '1.5449', '1.2309', '1.0207']);
  assert.deepEqual(smooth([]), []);
});

test('lossSeries sorts by step, keeps a re-logged step\'s last value and drops what is not a finite number', () => {
  const s = lossSeries([
    { current_steps: 5, total_steps: 100, loss: 3 },
    { current_steps: 2, total_steps: 100, loss: 4 },
    { current_steps: 5, total_steps: 100, loss: 2.5 },
    { current_steps: 6, total_steps: 100, loss: Number.NaN, eval_loss: 2 },
  ]);
  assert.deepEqual(s.loss, [[2, 4], [5, 2.5]]);
  assert.deepEqual(s.eval, [[6, 2]]);
  assert.equal(s.total, 100);
});

test('the terminal chart: exact rows, loss in braille, eval_loss •, min/mid/max on the y axis, steps 0…total', () => {
  assert.deepEqual(terminalLossChart(LOG, { width: 40, height: 8 }), [
    '  2┤         ⠑⠢⣀                        ',
    '   │            ⠑⠢⣀                     ',
    '1.5┤               ⠑⠢⣀•                 ',
    '   │                  ⠉⠒⠢⠤⣀             ',
    '   │                       ⠉⠑⠒⠤⢄⣀⡀      ',
    '  1┤                             ⠈⠉⠒⠒⠤⠤⣀',
    '   └────────────────────────────────────',
    '    0         loss ⠒ · eval •         40',
  ]);
  for (const row of terminalLossChart(LOG, { width: 57, height: 13 })) assert.equal([...row].length, 57);
  assert.equal(terminalLossChart(LOG, { width: 57, height: 13 }).length, 13);
});

test('the terminal chart still draws one point, and an empty log is a box saying so; colours only when asked', () => {
  assert.deepEqual(terminalLossChart(LOG.slice(0, 1), { width: 30, height: 6 }), [
    '2┤                            ',
    ' │                            ',
    ' │       ⠁                    ',
    '2┤                            ',
    ' └────────────────────────────',
    '  0          step           40',
  ]);
  assert.deepEqual(terminalLossChart([], { width: 30, height: 4 }), [' '.repeat(30), '     (no loss logged yet)     ', ' '.repeat(30), ' '.repeat(30)]);
  assert.ok(!terminalLossChart(LOG, { width: 40, height: 8 }).join('').includes('\x1b'));
  const colored = terminalLossChart(LOG, { width: 40, height: 8, color: true }).join('\n');
  assert.match(colored, /\x1b\[36m⠑\x1b\[0m/);
  assert.match(colored, /\x1b\[33m•\x1b\[0m/);
});

test('the smoothed terminal curve is LLaMA-Factory\'s smoothing of the same points', () => {
  const rows = terminalLossChart(LOG, { width: 40, height: 8, smooth: true });
  assert.equal(rows.length, 8);
  assert.equal(rows[0].slice(0, 6), '    2┤', 'the first point is unchanged by smoothing');
  assert.equal(rows[5].slice(0, 6), '1.021┤', 'the lowest smoothed value');
  assert.equal(fmt(smooth([2, 1.5, 1.2, 1.0])[3]), '1.021');
});

test('nice ticks and labels', () => {
  assert.deepEqual(niceTicks(1, 2), { lo: 1, hi: 2, step: 0.2, ticks: [1, 1.2, 1.4, 1.6, 1.8, 2] });
  assert.deepEqual(niceTicks(0.93, 2.31).ticks, [0.5, 1, 1.5, 2, 2.5]);
  assert.deepEqual(niceTicks(0, 40, 6).ticks, [0, 10, 20, 30, 40]);
  assert.deepEqual(niceTicks(2, 2).ticks, [1.8, 1.9, 2, 2.1, 2.2], 'one value gets a range around it');
  assert.deepEqual([fmt(2.34567), fmt(0.5), fmt(1e-4), fmt(5e-6), fmt(0)], ['2.346', '0.5', '1.0e-04', '5.0e-06', '0']);
});

test('the SVG: exact paths for the raw, smoothed, eval and lr series, on axes from 0 to the total steps', () => {
  const svg = svgLossChart(LOG, { title: 'dpo-zh <1>' });
  const d = (cls: string) => new RegExp(`<path class="${cls}" d="([^"]*)"`).exec(svg)?.[1];
  // x: 70 + step/40 × 620; y: loss 2 at the top (50), 1 at the bottom (360); lr 0…1e-4 on its own axis.
  assert.equal(d('loss'), 'M225.0 50.0 L380.0 205.0 L535.0 298.0 L690.0 360.0');
  assert.equal(d('smoothed'), 'M225.0 50.0 L380.0 191.1 L535.0 288.4 L690.0 353.6');
  assert.equal(d('eval'), 'M380.0 174.0');
  assert.equal(d('lr'), 'M225.0 50.0 L380.0 112.0 L535.0 205.0 L690.0 360.0');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="760" height="420"'));
  assert.ok(svg.includes('>dpo-zh &lt;1&gt;</text>'), 'the title is escaped');
  for (const t of ['0', '10', '20', '30', '40']) assert.ok(svg.includes(`text-anchor="middle">${t}</text>`), `x tick ${t}`);
  for (const t of ['1', '1.2', '1.4', '1.6', '1.8', '2']) assert.ok(svg.includes(`text-anchor="end">${t}</text>`), `y tick ${t}`);
  assert.ok(svg.includes('>1.0e-04</text>'), 'the lr axis says its top');
  assert.ok(svg.includes('<title>eval_loss 1.6 @ 20</title>'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
});

test('the SVG of an empty log says so; labels can be translated; one point is a dot', () => {
  const empty = svgLossChart([]);
  assert.ok(empty.includes('>no loss logged yet</text>'));
  assert.ok(!empty.includes('<path'));
  const zh = svgLossChart(LOG.slice(0, 1), { labels: { step: '步数', loss: '损失' } });
  assert.ok(zh.includes('>步数</text>') && zh.includes('>损失</text>'));
  assert.ok(zh.includes('<circle cx="225.0" cy="'));
});

test('a long series is thinned to about 1000 points, each bucket\'s low and high kept, a spike included', () => {
  const pts: Point[] = Array.from({ length: 10_000 }, (_, i) => [i + 1, i === 5000 ? 99 : 1 + (i % 7) / 10]);
  const t = thin(pts);
  assert.ok(t.length <= 1001, String(t.length));
  assert.ok(t.some((p) => p[1] === 99), 'the spike survives');
  assert.deepEqual(t[0], [1, 1]);
  assert.deepEqual(t.at(-1), pts.at(-1));
  for (let i = 1; i < t.length; i++) assert.ok(t[i][0] > t[i - 1][0], 'in step order');
  const long = Array.from({ length: 100_000 }, (_, i) => ({ current_steps: i + 1, total_steps: 100_000, loss: 2 - i / 1e5, percentage: 0, elapsed_time: '', remaining_time: '' }));
  assert.ok(svgLossChart(long).length < 100_000, 'a 100k-step log stays a small SVG');
});

test('a 3-day run logging every step (200k points) charts without a stack overflow: no spread of the whole series', () => {
  const lines = Array.from({ length: 200_000 }, (_, i) => ({ current_steps: i + 1, total_steps: 200_000, loss: 2 - i / 200_000, lr: 1e-4 }));
  const svg = svgLossChart(lines);
  assert.match(svg, /<path class="smoothed" d="M70\.0 /);
  const rows = terminalLossChart(lines, { width: 40, height: 8 });
  assert.equal(rows.length, 8);
  assert.match(rows[0], /^  2┤⠉/);
});

test('niceTicks ends on every range: losses near 1e17 that differ by one ulp, subnormal spreads, the limits of doubles', () => {
  for (const [lo, hi] of [[1e17, 1e17 + 32], [0, 1e-110], [0, 5e-324], [-1.7e308, 1.7e308], [1e300, 1e300], [-0, 0]]) {
    const t = niceTicks(lo, hi);
    assert.ok(t.ticks.length >= 2 && t.ticks.length <= 20, `${lo}…${hi}: ${t.ticks.length} ticks`);
    assert.ok(t.ticks.every(Number.isFinite) && t.lo <= lo && t.hi >= hi && t.hi > t.lo, `${lo}…${hi}: ${JSON.stringify(t)}`);
  }
  const svg = svgLossChart([{ current_steps: 1, total_steps: 2, loss: 1e17 }, { current_steps: 2, total_steps: 2, loss: 1e17 + 32 }]);
  assert.doesNotMatch(svg, /NaN|Infinity/);
});

test('the charts on odd logs: negative losses, eval_loss only, a total_steps that changes, steps past the total', () => {
  const neg = svgLossChart([{ current_steps: 1, total_steps: 3, loss: -0.5 }, { current_steps: 2, total_steps: 3, loss: -2 }]);
  assert.match(neg, />-2</);
  assert.doesNotMatch(neg, /NaN/);
  const evalOnly = svgLossChart([{ current_steps: 100, total_steps: 200, eval_loss: 1.25 }, { current_steps: 200, total_steps: 200, eval_loss: 1.125 }]);
  assert.match(evalOnly, /<path class="eval" d="M/);
  assert.doesNotMatch(evalOnly, /class="(loss|smoothed)"/);
  // A resumed run with more epochs: total_steps grows; the axis runs to the newest total, earlier points stay.
  const s = lossSeries([{ current_steps: 10, total_steps: 100, loss: 2 }, { current_steps: 150, total_steps: 300, loss: 1 }, { current_steps: 400, total_steps: 300, loss: 0.9 }]);
  assert.deepEqual([s.total, s.loss.length], [400, 3]);
  assert.equal(terminalLossChart([{ current_steps: 400, total_steps: 300, loss: 0.9 }], { width: 30, height: 6 }).length, 6);
});
