/**
 * Data benchmark: `llama3-zh data convert` (Firefly → ShareGPT) against the original project's Python
 * conversion logic (json.loads per line, build the ShareGPT dict, json.dumps with ensure_ascii=False),
 * which this benchmark writes to a file and runs with python3, on the same generated Firefly file.
 * Prints both times, the ratio (target: ours ≥ 3x faster) and our peak RSS (streaming: it must stay flat
 * whatever the file size). Rounds are interleaved (python, ours, …) so a noisy machine hits both alike.
 * Options: --size=500 (MB of Firefly JSONL) --rounds=1 --keep (keep the files)
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../src/data/random.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const MB = 1e6;
const SIZE = Number(args.get('size') ?? 500) * MB;
const ROUNDS = Number(args.get('rounds') ?? 1);
const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');

const PYTHON_BASELINE = `# The original project's Firefly → ShareGPT conversion, as its script did it: one row at a time.
import json, sys

src, dst = sys.argv[1], sys.argv[2]
with open(src, 'r', encoding='utf-8') as f, open(dst, 'w', encoding='utf-8') as out:
    for line in f:
        line = line.strip()
        if not line:
            continue
        data = json.loads(line)
        conversations = []
        if data.get('system'):
            conversations.append({'from': 'system', 'value': data['system']})
        for turn in data['conversation']:
            conversations.append({'from': 'human', 'value': turn['human']})
            conversations.append({'from': 'gpt', 'value': turn['assistant']})
        out.write(json.dumps({'conversations': conversations}, ensure_ascii=False) + '\\n')
`;

const CATEGORIES = ['Brainstorming', 'Couplet', 'Translation', 'Composition', 'MRC', 'ClassicalChinese', 'Poetry', 'Code'];
const ASCII = ' the of and to in is for that with as on be by this are 123 456 2024 Python JSON API\n\t"quoted" \\path';

/** Firefly rows like firefly-train-1.1M's: mostly Chinese, some English, digits, newlines, quotes, the odd emoji. */
function generate(path: string, size: number) {
  const rand = seededRandom(2024);
  const text = (n: number) => {
    let s = '';
    while (s.length < n) {
      const r = rand();
      if (r < 0.8) s += String.fromCharCode(0x4e00 + Math.floor(rand() * rand() * 6000));
      else if (r < 0.88) s += '，。！？：；、“”'[Math.floor(rand() * 10)];
      else if (r < 0.995) { const i = Math.floor(rand() * (ASCII.length - 8)); s += ASCII.slice(i, i + 1 + Math.floor(rand() * 8)); }
      else s += ['😀', '🎉', '👍', '🌙'][Math.floor(rand() * 4)];
    }
    return s;
  };
  const fd = openSync(path, 'w');
  let written = 0, id = 0, parts: string[] = [], pending = 0;
  while (written + pending < size) {
    const turns = 1 + Math.floor(rand() * rand() * 4);
    const row: Record<string, unknown> = { conversation_id: ++id, category: CATEGORIES[id % CATEGORIES.length] };
    if (rand() < 0.1) row.system = text(20);
    row.conversation = Array.from({ length: turns }, () => ({ human: text(10 + Math.floor(rand() * 80)), assistant: text(20 + Math.floor(rand() * rand() * 600)) }));
    const line = JSON.stringify(row, null, undefined) + '\n';
    parts.push(line);
    pending += line.length;
    if (pending > 1 << 22) { const b = Buffer.from(parts.join('')); writeSync(fd, b); written += b.length; parts = []; pending = 0; }
  }
  if (parts.length) { const b = Buffer.from(parts.join('')); writeSync(fd, b); written += b.length; }
  closeSync(fd);
  return id;
}

/** Run a command; wall time and peak RSS (from /proc while it runs, or GNU time when present). */
function run(cmd: string, argv: string[]): Promise<{ secs: number; peakRss: number }> {
  const gnuTime = existsSync('/usr/bin/time');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = gnuTime ? spawn('/usr/bin/time', ['-f', '%M', cmd, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let peak = 0;
    const poll = gnuTime ? undefined : setInterval(() => {
      try { const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8')); if (m) peak = Math.max(peak, Number(m[1]) * 1024); } catch { /* exited */ }
    }, 50);
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const secs = (performance.now() - t0) / 1000;
      if (code !== 0) { reject(new Error(`${cmd} exited ${code}: ${err}`)); return; }
      if (gnuTime) peak = Number(err.trim().split('\n').pop()) * 1024;
      resolve({ secs, peakRss: peak });
    });
  });
}

/** Both outputs hold the same conversations, row for row (ours also keeps the ids). */
function sameConversations(a: string, b: string, rows: number) {
  const fa = readFileSync(a, 'utf8').split('\n'), fb = readFileSync(b, 'utf8').split('\n');
  if (fa.length !== fb.length || fa.length !== rows + 1) throw new Error(`row counts differ: ${fa.length - 1} vs ${fb.length - 1} (expected ${rows})`);
  for (let i = 0; i < rows; i += 97) {
    const x = JSON.parse(fa[i]), y = JSON.parse(fb[i]);
    const conv = [...(x.system ? [{ from: 'system', value: x.system }] : []), ...x.conversations];
    if (JSON.stringify(conv) !== JSON.stringify(y.conversations)) throw new Error(`row ${i + 1} differs`);
  }
}

async function main() {
  const py = execFileSync('python3', ['--version']).toString().trim();
  const work = mkdtempSync(join(tmpdir(), 'bench-data-'));
  const input = join(work, 'firefly.jsonl');
  process.stderr.write(`generating ${SIZE / MB} MB of Firefly JSONL…\n`);
  const rows = generate(input, SIZE);
  const script = join(work, 'firefly_to_sharegpt.py');
  writeFileSync(script, PYTHON_BASELINE);
  const cli = join(ROOT, 'bin', 'llama3-zh.js');
  const ours: { secs: number; peakRss: number }[] = [];
  const python: { secs: number; peakRss: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    process.stderr.write(`round ${r + 1}/${ROUNDS}: python3…\n`);
    python.push(await run('python3', [script, input, join(work, 'python.jsonl')]));
    process.stderr.write(`round ${r + 1}/${ROUNDS}: llama3-zh data convert…\n`);
    ours.push(await run(process.execPath, [cli, 'data', 'convert', input, '--to', 'sharegpt', '-o', join(work, 'ours.jsonl')]));
  }
  sameConversations(join(work, 'ours.jsonl'), join(work, 'python.jsonl'), rows);
  const best = (xs: { secs: number }[]) => Math.min(...xs.map((x) => x.secs));
  const mb = statSync(input).size / MB;
  const line = (name: string, xs: { secs: number; peakRss: number }[]) =>
    `${name.padEnd(34)} ${best(xs).toFixed(2).padStart(7)} s  ${(mb / best(xs)).toFixed(0).padStart(4)} MB/s  peak RSS ${(Math.max(...xs.map((x) => x.peakRss)) / 2 ** 20).toFixed(0)} MiB`;
  console.log(`Firefly → ShareGPT, ${mb.toFixed(0)} MB, ${rows.toLocaleString('en-US')} rows (best of ${ROUNDS}; outputs checked equal)`);
  console.log(line(`python3 baseline (${py})`, python));
  console.log(line('llama3-zh data convert', ours));
  const ratio = best(python) / best(ours);
  console.log(`ratio: ${ratio.toFixed(2)}x ${ratio >= 3 ? '(target ≥ 3x: met)' : '(target ≥ 3x: NOT met)'}`);
  if (args.has('keep')) console.log(`files kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });
