import type { TrainerLogLine } from './trainerLog.js';

/**
 * A stand-in for helper C's src/train/plot.ts (terminalLossChart, svgLossChart) with the same signatures, so
 * `train watch` works before the branches meet; watch.ts switches its import to ./plot.js at the merge and this
 * file goes. Deliberately plain: a column chart of the logged loss and a polyline SVG.
 */
function lossPoints(lines: readonly TrainerLogLine[]): [number, number][] {
  return lines.filter((l) => l.loss !== undefined).map((l) => [l.current_steps, l.loss!]);
}

export function terminalLossChart(lines: readonly TrainerLogLine[], o: { width: number; height: number }): string[] {
  const pts = lossPoints(lines);
  if (!pts.length) return ['(no loss logged yet)'];
  const lo = Math.min(...pts.map((p) => p[1]));
  const hi = Math.max(...pts.map((p) => p[1]));
  const total = Math.max(1, lines.at(-1)?.total_steps ?? 1);
  const w = Math.max(8, o.width - 10);
  const cols: number[] = new Array(w).fill(-1);
  for (const [s, v] of pts) cols[Math.min(w - 1, Math.floor(((s - 1) / total) * w))] = v;
  const rows: string[] = [];
  for (let r = 0; r < o.height; r++) {
    const level = hi - ((hi - lo) * r) / Math.max(1, o.height - 1);
    const label = r === 0 ? hi.toFixed(4) : r === o.height - 1 ? lo.toFixed(4) : '';
    rows.push(`${label.padStart(8)} |${cols.map((v) => (v >= 0 && Math.abs(v - level) <= (hi - lo) / (2 * Math.max(1, o.height - 1)) + 1e-12 ? '*' : ' ')).join('')}`);
  }
  rows.push(`${''.padStart(8)} +${'-'.repeat(w)} step ${total}`);
  return rows;
}

export function svgLossChart(lines: readonly TrainerLogLine[], o: { title?: string } = {}): string {
  const pts = lossPoints(lines);
  const total = Math.max(1, lines.at(-1)?.total_steps ?? 1);
  const lo = pts.length ? Math.min(...pts.map((p) => p[1])) : 0;
  const hi = pts.length ? Math.max(...pts.map((p) => p[1])) : 1;
  const x = (s: number) => (40 + (s / total) * 540).toFixed(1);
  const y = (v: number) => (20 + (hi === lo ? 0.5 : (hi - v) / (hi - lo)) * 260).toFixed(1);
  const poly = pts.map(([s, v]) => `${x(s)},${y(v)}`).join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="300" viewBox="0 0 600 300"><title>${o.title ?? 'training loss'}</title>` +
    `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${poly}"/></svg>\n`;
}
