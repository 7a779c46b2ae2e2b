import { humanBytes } from '../util/human.js';

/**
 * A one-line progress bar on stderr: done/total, rate over the last few seconds, ETA. On a
 * terminal it redraws in place; otherwise (logs, CI) it writes a line every 10%.
 */
export function progressBar(label: string, unit: 'bytes' | 'items' = 'bytes', o: { stream?: NodeJS.WriteStream } = {}) {
  const out = o.stream ?? process.stderr;
  const tty = out.isTTY;
  const samples: { t: number; done: number }[] = [];
  let lastDraw = 0;
  let lastDecile = -1;
  let current = 0;
  let total = 0;
  let base: number | undefined;
  const fmt = (n: number) => (unit === 'bytes' ? humanBytes(n) : String(Math.round(n)));
  const draw = (final = false) => {
    const now = performance.now();
    samples.push({ t: now, done: current });
    while (samples.length > 2 && now - samples[0].t > 5000) samples.shift();
    const first = samples[0];
    const secs = (now - first.t) / 1000;
    const rate = secs > 0.2 ? (current - first.done) / secs : 0;
    const eta = rate > 0 ? (total - current) / rate : undefined;
    const frac = total > 0 ? Math.min(1, current / total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
      `${fmt(current)}/${fmt(total)}` + (rate > 0 ? ` ${fmt(rate)}/s` : '') + (eta !== undefined && !final ? ` ETA ${duration(eta)}` : '');
    if (tty) {
      out.write(`\r${line}\x1b[K`);
    } else {
      const decile = Math.floor(frac * 10);
      // A line per 10%, and the closing one unless 100% was just written.
      if (decile > lastDecile || (final && lastDecile < 10)) { out.write(`${line}\n`); lastDecile = decile; }
    }
  };
  return {
    /** Set the total (and, the first time, what was already done before this run). */
    start(t: number, already = 0) {
      total = t;
      current = already;
      base ??= already;
      draw();
    },
    update(done: number, t = total) {
      current = done;
      total = t;
      const now = performance.now();
      if (now - lastDraw < (tty ? 100 : 1000) && done < total) return;
      lastDraw = now;
      draw();
    },
    add(n: number) {
      this.update(current + n);
    },
    done() {
      draw(true);
      if (tty) out.write('\n');
    },
  };
}

export function duration(secs: number): string {
  if (!Number.isFinite(secs)) return '?';
  const s = Math.round(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
