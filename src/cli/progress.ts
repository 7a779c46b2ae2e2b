/** A one-line progress bar on stderr with rate and ETA; silent when stderr is not a terminal. */
export function progressBar(label: string, unit: 'bytes' | 'items' = 'bytes') {
  const start = performance.now();
  let last = 0;
  const tty = process.stderr.isTTY;
  const fmt = (n: number) => (unit === 'bytes' ? `${(n / 2 ** 20).toFixed(1)} MiB` : String(Math.round(n)));
  return {
    update(done: number, total: number) {
      const now = performance.now();
      if (!tty || (now - last < 100 && done < total)) return;
      last = now;
      const secs = (now - start) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const eta = rate > 0 ? (total - done) / rate : 0;
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stderr.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((done / total) * 100).toFixed(0)}% ` +
        `${fmt(done)}/${fmt(total)} ${fmt(rate)}/s ETA ${eta.toFixed(0)}s  `,
      );
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}
