/**
 * Loss charts of a LLaMA-Factory run, drawn from its trainer_log.jsonl lines: rows of braille for a terminal
 * (`train watch`) and a standalone SVG (`train watch --plot`, the web page's training view). Pure functions with
 * no Node imports: the browser bundle (scripts/build-web.mjs) uses this same file.
 */

/** The fields of a TrainerLogLine (src/train/trainerLog.ts) the charts read; declared here so the page's bundle needs no node:fs. */
export interface ChartLine {
  current_steps: number;
  total_steps: number;
  loss?: number;
  eval_loss?: number;
  lr?: number;
}

export type Point = [step: number, value: number];

/** The series of a log, by step; a step logged twice (a resumed run) keeps its last value. */
export function lossSeries(lines: readonly ChartLine[]): { loss: Point[]; eval: Point[]; lr: Point[]; total: number } {
  const pick = (key: 'loss' | 'eval_loss' | 'lr'): Point[] => {
    const by = new Map<number, number>();
    for (const l of lines) {
      const v = l[key];
      if (typeof v === 'number' && Number.isFinite(v) && Number.isFinite(l.current_steps)) by.set(l.current_steps, v);
    }
    return [...by].sort((a, b) => a[0] - b[0]);
  };
  const loss = pick('loss'), ev = pick('eval_loss'), lr = pick('lr');
  const last = lines.at(-1);
  const maxStep = Math.max(0, ...[loss, ev, lr].map((s) => s.at(-1)?.[0] ?? 0));
  const total = Math.max(maxStep, last && Number.isFinite(last.total_steps) ? last.total_steps : 0);
  return { loss, eval: ev, lr, total };
}

/**
 * LLaMA-Factory's smoothing (extras/ploting.py `smooth`, "EMA according to TensorBoard"): the weight grows with
 * the number of points, 1.8 × (sigmoid(0.05 n) − 0.5), so a short run is barely smoothed and a long one a lot.
 */
export function smooth(values: readonly number[]): number[] {
  if (!values.length) return [];
  const weight = 1.8 * (1 / (1 + Math.exp(-0.05 * values.length)) - 0.5);
  let last = values[0];
  return values.map((v) => (last = last * weight + (1 - weight) * v));
}

/** Numbers for labels: four significant digits, no trailing zeros ("2.346", "0.5", "1.0e-4" for small rates). */
export function fmt(v: number): string {
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(1).replace(/e([+-])(\d)$/, 'e$10$2');
  return String(Number(v.toPrecision(4)));
}

/** Lowest and highest of a series, by a loop: Math.min(...xs) overflows the stack past ~120k values (a long run). */
function range(xs: readonly number[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const x of xs) { if (x < lo) lo = x; if (x > hi) hi = x; }
  return [lo, hi];
}

// ——— terminal ———

const BRAILLE_BASE = 0x2800;
/** Dot bits of a braille cell, [row][column]: each cell holds 2 × 4 dots (Unicode's braille patterns block). */
const DOTS = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
const EVAL_MARK = '•';

/**
 * A line chart of loss over steps for a terminal: exactly `height` rows of `width` characters (more when they are
 * too small to hold the axes). The y axis is labelled with the highest and lowest loss (and the middle), the x axis
 * runs from step 0 to the run's total steps, so the curve grows rightwards as the run goes. eval_loss points are
 * marked • over the curve. `smooth` draws LLaMA-Factory's smoothed curve instead of the raw one; `color` adds ANSI
 * colours (none unless asked).
 */
export function terminalLossChart(lines: readonly ChartLine[], o: { width: number; height: number; smooth?: boolean; color?: boolean }): string[] {
  const s = lossSeries(lines);
  const loss: Point[] = o.smooth ? zip(s.loss, smooth(s.loss.map((p) => p[1]))) : s.loss;
  const all = [...loss, ...s.eval].map((p) => p[1]);
  const rows = Math.max(1, Math.floor(o.height) - 2);
  if (!all.length) {
    const width = Math.max(20, Math.floor(o.width));
    const out = Array.from({ length: rows + 2 }, () => ' '.repeat(width));
    out[Math.floor(rows / 2)] = center('(no loss logged yet)', width);
    return out;
  }
  let [lo, hi] = range(all);
  const labels = { hi: fmt(hi), mid: fmt((lo + hi) / 2), lo: fmt(lo) };
  const lw = Math.max(labels.hi.length, labels.lo.length, labels.mid.length);
  const cols = Math.max(4, Math.floor(o.width) - lw - 1);
  if (hi === lo) { hi += 0.5; lo -= 0.5; }
  const pw = cols * 2, ph = rows * 4;
  const xOf = (step: number) => s.total > 0 ? Math.round((step / s.total) * (pw - 1)) : 0;
  const yOf = (v: number) => Math.round(((hi - v) / (hi - lo)) * (ph - 1));
  const cells = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  const dot = (x: number, y: number) => { cells[y >> 2][x >> 1] |= DOTS[y & 3][x & 1]; };
  let prev: [number, number] | undefined;
  for (const [step, v] of loss) {
    const p: [number, number] = [xOf(step), yOf(v)];
    if (prev) line(prev, p, dot); else dot(p[0], p[1]);
    prev = p;
  }
  const marks = new Set(s.eval.map(([step, v]) => `${yOf(v) >> 2},${xOf(step) >> 1}`));
  const paint = (text: string, code: number) => (o.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const label = r === 0 ? labels.hi : r === rows - 1 ? labels.lo : rows >= 5 && r === Math.floor((rows - 1) / 2) ? labels.mid : '';
    const axis = label ? '┤' : '│';
    let body = '';
    for (let c = 0; c < cols; c++) {
      if (marks.has(`${r},${c}`)) body += paint(EVAL_MARK, 33);
      else body += cells[r][c] ? paint(String.fromCharCode(BRAILLE_BASE + cells[r][c]), 36) : ' ';
    }
    out.push(`${label.padStart(lw)}${axis}${body}`);
  }
  out.push(`${' '.repeat(lw)}└${'─'.repeat(cols)}`);
  out.push(' '.repeat(lw + 1) + xLabels(s.total, cols, s.eval.length > 0));
  return out;
}

/** The step labels under the axis: 0 at the left, the total at the right, a legend between when it fits. */
function xLabels(total: number, cols: number, withEval: boolean): string {
  const left = '0', right = String(total);
  const legend = withEval ? `loss ⠒ · eval ${EVAL_MARK}` : 'step';
  const room = cols - left.length - right.length;
  if (room < 2) return right.padStart(cols);
  const mid = room >= legend.length + 2 ? center(legend, room) : ' '.repeat(room);
  return left + mid + right;
}

function center(text: string, width: number): string {
  const pad = Math.max(0, width - text.length);
  return ' '.repeat(pad >> 1) + text + ' '.repeat(pad - (pad >> 1));
}

function zip(points: Point[], values: number[]): Point[] {
  return points.map((p, i) => [p[0], values[i]]);
}

/** Bresenham's line between two dots, both ends drawn. */
function line([x0, y0]: [number, number], [x1, y1]: [number, number], dot: (x: number, y: number) => void) {
  const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    dot(x0, y0);
    if (x0 === x1 && y0 === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

// ——— SVG ———

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Tick values at a "nice" spacing (1, 2 or 5 × 10^k) covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): { lo: number; hi: number; step: number; ticks: number[] } {
  if (!(hi > lo)) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const raw = hi / count - lo / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  // A range no step can count: doubles past 2^53 (i++ would never move), a spread below the smallest double, or
  // one wider than the largest. The ends alone are honest labels there.
  if (!(step > 0) || !Number.isFinite(step) || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last - first > 10 * count || !Number.isFinite(first * step) || !Number.isFinite(last * step)) {
    return { lo, hi, step: hi - lo, ticks: [lo, hi] };
  }
  // Rounded to 12 digits: 0.1 + 0.2 is 0.30000000000000004, a label must say 0.3 (toFixed cannot: at most 100 decimals).
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { lo: ticks[0], hi: ticks.at(-1)!, step, ticks };
}

/**
 * Keeps a long series drawable: at most about `max` points, each bucket's lowest and highest kept in step order so
 * a spike (a diverging run) still shows. The SVG of 100k logged steps would otherwise be megabytes.
 */
export function thin(points: Point[], max = 1000): Point[] {
  if (points.length <= max) return points;
  const buckets = Math.max(1, Math.floor(max / 2));
  const size = points.length / buckets;
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const part = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (!part.length) continue;
    let lo = part[0], hi = part[0];
    for (const p of part) { if (p[1] < lo[1]) lo = p; if (p[1] > hi[1]) hi = p; }
    out.push(...(lo[0] <= hi[0] ? [lo, hi] : [hi, lo]).filter((p, i, a) => i === 0 || p !== a[0]));
  }
  const last = points.at(-1)!;
  if (out.at(-1) !== last) out.push(last);
  return out;
}

export interface ChartLabels { step: string; loss: string; smoothed: string; eval: string; lr: string; empty: string }
const LABELS: ChartLabels = { step: 'step', loss: 'loss', smoothed: 'smoothed', eval: 'eval_loss', lr: 'learning rate', empty: 'no loss logged yet' };

/** The chart's size and margins (the lr axis on the right). */
const W = 760, H = 420, LEFT = 70, RIGHT = 70, TOP = 50, BOTTOM = 60;
const PW = W - LEFT - RIGHT, PH = H - TOP - BOTTOM;
const COLORS = { loss: '#4a7ebb', eval: '#d9534f', lr: '#999999' };

/**
 * The loss curve as a standalone SVG, in the style of data/plot.ts's histogram: the raw loss faint and
 * LLaMA-Factory's smoothed loss over it (as its training_loss.png draws them), eval_loss as red points joined by a
 * line, the learning rate as a faint dashed line on its own axis at the right. x runs from 0 to the total steps.
 */
export function svgLossChart(lines: readonly ChartLine[], o: { title?: string; labels?: Partial<ChartLabels> } = {}): string {
  const L = { ...LABELS, ...o.labels };
  const s = lossSeries(lines);
  const values = [...s.loss, ...s.eval].map((p) => p[1]);
  const [vlo, vhi] = values.length ? range(values) : [0, 1];
  const y = niceTicks(vlo, vhi);
  const x = niceTicks(0, Math.max(1, s.total), 6);
  const xs = (step: number) => LEFT + (step / x.hi) * PW;
  const ys = (v: number) => TOP + ((y.hi - v) / (y.hi - y.lo)) * PH;
  const f = (n: number) => n.toFixed(1);
  const path = (pts: Point[], scaleY: (v: number) => number) => pts.map(([a, b], i) => `${i ? 'L' : 'M'}${f(xs(a))} ${f(scaleY(b))}`).join(' ');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (o.title) parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${esc(o.title)}</text>`);
  for (const t of y.ticks) {
    parts.push(`<line x1="${LEFT}" y1="${f(ys(t))}" x2="${LEFT + PW}" y2="${f(ys(t))}" stroke="#eeeeee"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${f(ys(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of x.ticks) {
    parts.push(`<line x1="${f(xs(t))}" y1="${TOP + PH}" x2="${f(xs(t))}" y2="${TOP + PH + 5}" stroke="black"/>`);
    parts.push(`<text x="${f(xs(t))}" y="${TOP + PH + 18}" text-anchor="middle">${t}</text>`);
  }
  parts.push(
    `<line x1="${LEFT}" y1="${TOP + PH}" x2="${LEFT + PW}" y2="${TOP + PH}" stroke="black"/>`,
    `<line x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${TOP + PH}" stroke="black"/>`,
    `<text x="${LEFT + PW / 2}" y="${H - 14}" text-anchor="middle">${esc(L.step)}</text>`,
    `<text x="18" y="${TOP + PH / 2}" text-anchor="middle" transform="rotate(-90 18 ${TOP + PH / 2})">${esc(L.loss)}</text>`,
  );
  if (!values.length) {
    parts.push(`<text x="${LEFT + PW / 2}" y="${TOP + PH / 2}" text-anchor="middle" fill="#888888">${esc(L.empty)}</text>`, '</svg>');
    return parts.join('\n') + '\n';
  }
  if (s.lr.length) {
    // The learning rate's own scale, 0 to its highest: its shape (warm-up, decay) is what matters, not the loss's units.
    const top = range(s.lr.map((p) => p[1]))[1] || 1;
    const yl = (v: number) => TOP + (1 - v / top) * PH;
    parts.push(
      `<line x1="${LEFT + PW}" y1="${TOP}" x2="${LEFT + PW}" y2="${TOP + PH}" stroke="${COLORS.lr}"/>`,
      `<text x="${LEFT + PW + 6}" y="${TOP + 4}" fill="${COLORS.lr}">${fmt(top)}</text>`,
      `<text x="${LEFT + PW + 6}" y="${TOP + PH + 4}" fill="${COLORS.lr}">0</text>`,
      `<text x="${W - 14}" y="${TOP + PH / 2}" text-anchor="middle" fill="${COLORS.lr}" transform="rotate(90 ${W - 14} ${TOP + PH / 2})">${esc(L.lr)}</text>`,
      `<path class="lr" d="${path(thin(s.lr), yl)}" fill="none" stroke="${COLORS.lr}" stroke-width="1" stroke-dasharray="4 3" opacity="0.7"/>`,
    );
  }
  if (s.loss.length) {
    const smoothed = zip(s.loss, smooth(s.loss.map((p) => p[1])));
    parts.push(
      `<path class="loss" d="${path(thin(s.loss), ys)}" fill="none" stroke="${COLORS.loss}" stroke-width="1.5" opacity="0.4"/>`,
      `<path class="smoothed" d="${path(thin(smoothed), ys)}" fill="none" stroke="${COLORS.loss}" stroke-width="2"/>`,
    );
    if (s.loss.length === 1) parts.push(`<circle cx="${f(xs(s.loss[0][0]))}" cy="${f(ys(s.loss[0][1]))}" r="3" fill="${COLORS.loss}"/>`);
  }
  if (s.eval.length) {
    const ev = thin(s.eval);
    parts.push(`<path class="eval" d="${path(ev, ys)}" fill="none" stroke="${COLORS.eval}" stroke-width="1.5"/>`);
    for (const [a, b] of ev) parts.push(`<circle cx="${f(xs(a))}" cy="${f(ys(b))}" r="3" fill="${COLORS.eval}"><title>${esc(L.eval)} ${fmt(b)} @ ${a}</title></circle>`);
  }
  // The legend, top right inside the plot.
  const legend: [string, string, string][] = [];
  if (s.loss.length) legend.push([L.loss, COLORS.loss, 'opacity="0.4"'], [L.smoothed, COLORS.loss, '']);
  if (s.eval.length) legend.push([L.eval, COLORS.eval, '']);
  if (s.lr.length) legend.push([L.lr, COLORS.lr, 'stroke-dasharray="4 3"']);
  // On a white box of its own: the lr line often runs through the top right.
  if (legend.length) parts.push(`<rect x="${LEFT + PW - 136}" y="${TOP + 4}" width="132" height="${legend.length * 16 + 4}" fill="white" opacity="0.85"/>`);
  legend.forEach(([name, color, extra], i) => {
    const ly = TOP + 14 + i * 16, lx = LEFT + PW - 130;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${color}" stroke-width="2" ${extra}/>`.replace(' />', '/>'));
    parts.push(`<text x="${lx + 26}" y="${ly + 4}">${esc(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
