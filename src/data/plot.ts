import type { Bin } from './stats.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const k = (v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : String(v));

/** Bars for a terminal: one line per bin, the longest bar 40 cells; bins past the cutoff are marked. */
export function terminalHistogram(bins: Bin[], cutoff: number, width = 40): string[] {
  const max = Math.max(1, ...bins.map((b) => b.count));
  const labels = bins.map((b) => `${b.from}–${b.to - 1}`);
  const w = Math.max(...labels.map((l) => l.length));
  return bins.map((b, i) => {
    const cells = b.count ? Math.max(1, Math.round((b.count / max) * width)) : 0;
    return `  ${labels[i].padStart(w)} ${'█'.repeat(cells)}${' '.repeat(width - cells)} ${b.count.toLocaleString('en-US')}${b.to - 1 > cutoff ? (b.from > cutoff ? '  (over cutoff)' : '  (partly over cutoff)') : ''}`;
  });
}

/** The histogram as a standalone SVG: bars, counts, bin labels, and a line where the cutoff falls. */
export function svgHistogram(bins: Bin[], o: { title: string; unit: string; cutoff: number }): string {
  const W = 760, H = 420, left = 70, right = 20, top = 50, bottom = 70;
  const pw = W - left - right, ph = H - top - bottom;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const bw = pw / Math.max(1, bins.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${esc(o.title)}</text>`,
    `<line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}" stroke="black"/>`,
    `<text x="${left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(o.unit)} per row</text>`,
    `<text x="16" y="${top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${top + ph / 2})">rows</text>`,
  ];
  bins.forEach((b, i) => {
    const h = (b.count / max) * ph;
    const x = left + i * bw;
    const over = b.from > o.cutoff;
    parts.push(`<rect x="${(x + 2).toFixed(1)}" y="${(top + ph - h).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${over ? '#d9534f' : '#4a7ebb'}"><title>${b.from}–${b.to - 1}: ${b.count}</title></rect>`);
    if (b.count) parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(top + ph - h - 4).toFixed(1)}" text-anchor="middle" font-size="10">${k(b.count)}</text>`);
    parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${top + ph + 16}" text-anchor="middle" font-size="10">${k(b.from)}–${k(b.to - 1)}</text>`);
  });
  const ci = bins.findIndex((b) => o.cutoff < b.to);
  if (ci >= 0) {
    const b = bins[ci];
    const x = left + (ci + (o.cutoff - b.from) / (b.to - b.from)) * bw;
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${top + ph}" stroke="#d9534f" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${(x + 4).toFixed(1)}" y="${top + 12}" fill="#d9534f">cutoff ${o.cutoff}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
