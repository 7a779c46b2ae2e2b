/**
 * A corpus of damaged and hostile files, generated here (small), through every command that reads them:
 * each ends within seconds with one line that names the file (and line) and what is wrong, a non-zero exit
 * (or the documented broken-row behaviour), no output left behind, and the input unchanged.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parquetWriteFile } from 'hyparquet-writer';
import { type CliResult, cleanEnv, emptyHome } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'damaged-'));
const MiB = 1 << 20;

/** The CLI with a deadline: a command that hangs (a FIFO, a bomb) fails the test instead of stalling the suite. */
function cli(args: string[], seconds = 20): Promise<CliResult & { timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), ...args], { cwd: dir, env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, seconds * 1000);
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, timedOut }); });
  });
}

const hash = (name: string) => { const p = join(dir, name); return lstatSync(p).isFile() ? createHash('sha1').update(readFileSync(p)).digest('hex') : 'special'; };

/** Run; the one line on stderr must match; nothing may hang, leak a stack or an internal message, or leave a file. */
async function refused(args: string[], err: RegExp, inputs: string[]) {
  const before = inputs.map(hash);
  const files = readdirSync(dir).sort();
  const r = await cli(args);
  const label = args.join(' ');
  assert.equal(r.timedOut, false, `${label}: still running after 20 s`);
  assert.equal(r.code, 1, `${label}: exit ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${label}: ${r.stderr}`);
  assert.match(lines[0], err, label);
  assert.doesNotMatch(r.stderr, /Maximum call stack|BigInt|node:internal|\n\s+at |\/src\/|\/dist\//, label);
  assert.deepEqual(inputs.map(hash), before, `${label}: an input changed`);
  assert.deepEqual(readdirSync(dir).sort(), files, `${label}: a file was left behind`);
  return r;
}

function file(name: string, body: string | Buffer) {
  const p = join(dir, name);
  writeFileSync(p, body);
  return name;
}

const deep = (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`;
const LIMIT = /the limit \(a damaged file\? if the rows really are this long, raise it with --max-line-mb\)$/;
const readers = (f: string) => [
  ['stats', f, '--no-tokens'], ['check', f, '--dry-run'], ['convert', f, '--to', 'sharegpt', '-o', 'out.jsonl'],
  ['sample', f, '-n', '1', '-o', 'out.jsonl'], ['split', f, '--val', '1', '--train', 't.jsonl', '--valid', 'v.jsonl'],
  ['dedupe', f, '-o', 'out.jsonl'], ['rewrite', f, '--preset', 'identity', '-o', 'out.jsonl'], ['mix', `${f}:1`, '-n', '2', '-o', 'out.jsonl'],
  ['export', f, '--llamafactory', 'lf'],
];

test('data: a FIFO as the input of every subcommand is refused at once, never a hang', async () => {
  execFileSync('mkfifo', [join(dir, 'pipe.jsonl')]);
  for (const args of readers('pipe.jsonl')) {
    await refused(['data', ...args], /^llama3-zh data: pipe\.jsonl is not a regular file \(a pipe, socket or device\); give a data file on disk$/, []);
  }
  symlinkSync('/dev/zero', join(dir, 'zero.jsonl'));
  await refused(['data', 'stats', 'zero.jsonl', '--no-tokens'], /^llama3-zh data: zero\.jsonl is not a regular file/, []);
});

test('data: gzip bombs, endless lines, fields and elements stop at --max-line-mb with the line number', async () => {
  const cases: [string, string | Buffer, number][] = [
    ['bomb.jsonl.gz', gzipSync(Buffer.alloc(6 * MiB, 'a'), { level: 9 }), 1],
    ['blanks.jsonl.gz', gzipSync(Buffer.alloc(6 * MiB, ' '), { level: 9 }), 1],
    ['bomb.json.gz', gzipSync(Buffer.concat([Buffer.from('[{"text": "'), Buffer.alloc(6 * MiB, 'b')]), { level: 9 }), 1],
    ['bomb.csv.gz', gzipSync(Buffer.concat([Buffer.from('text\n"'), Buffer.alloc(6 * MiB, 'c')]), { level: 9 }), 2],
    ['bomb.txt.gz', gzipSync(Buffer.concat([Buffer.from('一\n二\n'), Buffer.alloc(6 * MiB, 'd')]), { level: 9 }), 3],
    ['long.jsonl', `{"text": "a"}\n{"text": "${'e'.repeat(2 * MiB)}"}\n`, 2],
    ['field.csv', `instruction,output\nq,"${'f'.repeat(2 * MiB)}"\n`, 2],
    ['unclosed.csv', `instruction,output\nq,"a\n${'x,y\n'.repeat(MiB)}`, 2],
    ['long.txt', `一\n\n${'g'.repeat(2 * MiB)}\n`, 3],
  ];
  for (const [name, body, line] of cases) {
    file(name, body);
    const err = new RegExp(`^llama3-zh data: ${name.replace(/\./g, '\\.')}:${line}: this (line|CSV record|CSV record \\(a quote not closed\\?\\)|array element) is longer than 1 MiB, ${LIMIT.source}`);
    for (const args of [['stats', name, '--no-tokens'], ['check', name, '--dry-run'], ['convert', name, '--to', 'alpaca', '-o', 'out.jsonl']]) {
      await refused(['data', ...args, '--max-line-mb', '1'], err, [name]);
    }
  }
  // The same long line is read when the limit allows it.
  const r = await cli(['data', 'stats', 'long.jsonl', '--no-tokens', '--max-line-mb', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^long\.jsonl \(text\): 2 rows\n/);
});

test('data: a file cut short exits 1 and says so; --allow-broken reads the rows before the cut', async () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['cut.json', '[{"text": "一"},\n {"text": "二"}', /^llama3-zh data: cut\.json:2: the file is cut short: the array is not closed with \]; add --allow-broken to use the rows before that point$/],
    ['cut2.json.gz', gzipSync('[{"text": "一"},\n {"text": "二"'), /^llama3-zh data: cut2\.json\.gz:2: the file is cut short: the file ends inside this element; the array is not closed with \]; add --allow-broken/],
    ['cut.csv', 'text\n一\n"二\n', /^llama3-zh data: cut\.csv:3: the file is cut short: the file ends inside a quoted field \(a quote not closed\); add --allow-broken/],
    ['cut.jsonl.gz', gzipSync('{"text": "一"}\n{"text": "二"}\n{"text": "三"}\n').subarray(0, 40), /^llama3-zh data: cut\.jsonl\.gz: the file is cut short: the gzip data is broken or cut short \(unexpected end of file\); add --allow-broken/],
  ];
  for (const [name, body, err] of cases) {
    file(name, body);
    // Every subcommand on one file; the first three (the three ways rows are read) on the others.
    for (const args of readers(name).slice(0, name === 'cut.json' ? undefined : 3)) await refused(['data', ...args], err, [name]);
  }
  const r = await cli(['data', 'stats', 'cut.json', '--no-tokens', '--allow-broken']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^cut\.json \(text\): 2 rows \(1 broken row not counted; see data check\)\n/);
  const c = await cli(['data', 'convert', 'cut.csv', '--to', 'text', '-o', 'cut.text.jsonl', '--allow-broken']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^cut\.csv \(text\) → cut\.text\.jsonl \(text\): 1 row written of 2\n/);
  assert.equal(readFileSync(join(dir, 'cut.text.jsonl'), 'utf8'), '{"text":"一"}\n');
  assert.match(c.stdout, /cut\.csv:3:1: CSV: the file ends inside a quoted field \(a quote not closed\)\n/);
});

test('data: JSON nested 100,000 deep is a broken row with its line, never "Maximum call stack size exceeded"', async () => {
  file('deep.jsonl', `{"text": "ok"}\n{"text": "a", "x": ${deep(100_000)}}\n${deep(100_000)}\n`);
  file('deep.json', `[{"text": "ok"}, {"text": "a", "x": ${deep(100_000)}}]`);
  for (const name of ['deep.jsonl', 'deep.json']) {
    const r = await cli(['data', 'convert', name, '--to', 'text', '-o', `${name}.out.jsonl`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`: 1 row written of ${name === 'deep.json' ? 2 : 3}\\n`));
    assert.match(r.stdout, new RegExp(`${name.replace('.', '\\.')}:\\d+:\\d+: JSON: nested deeper than 1000 levels\\n`));
    const s = await cli(['data', 'check', name, '--dry-run']);
    assert.equal(s.code, 1, s.stderr);
    assert.equal(s.stderr, '');
    assert.match(s.stdout, /rejected \(JSON: \d\)/);
  }
});

test('data: damaged Parquet files, rules files and dataset_info.json are one line each', async () => {
  parquetWriteFile({ filename: join(dir, 'good.parquet'), columnData: [{ name: 'text', data: Array.from({ length: 50 }, (_, i) => `第${i}行`), type: 'STRING' }], rowGroupSize: 20 });
  const good = readFileSync(join(dir, 'good.parquet'));
  file('cut.parquet', good.subarray(0, good.length >> 1));
  file('magic.parquet', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 7), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('PAR1')]));
  for (const name of ['cut.parquet', 'magic.parquet']) {
    await refused(['data', 'stats', name, '--no-tokens'], new RegExp(`^llama3-zh data: ${name.replace('.', '\\.')} is not a readable Parquet file: `), [name]);
  }
  file('good.parquet.gz', gzipSync(good));
  await refused(['data', 'stats', 'good.parquet.gz', '--no-tokens'], /^llama3-zh data: good\.parquet\.gz is a gzipped Parquet file, which cannot be read in place; gunzip it first$/, ['good.parquet.gz']);
  file('ok.jsonl', '{"text": "你好 ChatGPT"}\n');
  execFileSync('mkfifo', [join(dir, 'rules.json')]);
  await refused(['data', 'rewrite', 'ok.jsonl', '--rules', 'rules.json', '-o', 'out.jsonl'], /^llama3-zh data: rules\.json is not a regular file \(a pipe, socket or device\); give a rules file on disk$/, ['ok.jsonl']);
  file('huge-rules.json', '');
  truncateSync(join(dir, 'huge-rules.json'), 17 * MiB);
  await refused(['data', 'rewrite', 'ok.jsonl', '--rules', 'huge-rules.json', '-o', 'out.jsonl'], /^llama3-zh data: huge-rules\.json is 17 MiB, too big for a rules file \(at most 16 MiB\); give the JSON list of rules$/, ['ok.jsonl']);
  file('deep-rules.json', deep(100_000));
  await refused(['data', 'rewrite', 'ok.jsonl', '--rules', 'deep-rules.json', '-o', 'out.jsonl'], /^llama3-zh data: deep-rules\.json: rule 1: must be an object/, ['ok.jsonl']);
  mkdirSync(join(dir, 'lf1'));
  execFileSync('mkfifo', [join(dir, 'lf1', 'dataset_info.json')]);
  await refused(['data', 'export', 'ok.jsonl', '--llamafactory', 'lf1'], /^llama3-zh data: lf1\/dataset_info\.json is not a regular file \(a pipe, socket or device\); give a dataset_info\.json on disk$/, ['ok.jsonl']);
  mkdirSync(join(dir, 'lf2'));
  const info = file(join('lf2', 'dataset_info.json'), `{"mine": {"file_name": "a.json", "x": ${deep(100_000)}}}`);
  await refused(['data', 'export', 'ok.jsonl', '--llamafactory', 'lf2'], /^llama3-zh data: lf2\/dataset_info\.json is nested deeper than 1000 levels, which no dataset_info\.json is; fix or move it, it is not overwritten$/, ['ok.jsonl', info]);
});

test('data: an output that is a symlink is written through and stays a link; one to /dev/full is refused', async () => {
  file('src.jsonl', '{"text": "一"}\n{"text": "二"}\n');
  symlinkSync('/dev/full', join(dir, 'full.jsonl'));
  await refused(['data', 'convert', 'src.jsonl', '--to', 'text', '-o', 'full.jsonl'], /^llama3-zh data: cannot write full\.jsonl: it links to \/dev\/full, which is not a regular file \(a device, pipe or socket\); give a file name$/, ['src.jsonl']);
  assert.equal(readlinkSync(join(dir, 'full.jsonl')), '/dev/full');
  symlinkSync('/dev/full', join(dir, 'full.svg'));
  await refused(['data', 'stats', 'src.jsonl', '--no-tokens', '--plot', 'full.svg'], /^llama3-zh data: cannot write full\.svg: it links to \/dev\/full, which is not a regular file/, ['src.jsonl']);
  mkdirSync(join(dir, 'keep'));
  file(join('keep', 'target.jsonl'), 'old\n');
  symlinkSync(join('keep', 'target.jsonl'), join(dir, 'link.jsonl'));
  const r = await cli(['data', 'sample', 'src.jsonl', '-n', '2', '-o', 'link.jsonl']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readlinkSync(join(dir, 'link.jsonl')), join('keep', 'target.jsonl'));
  assert.equal(readFileSync(join(dir, 'keep', 'target.jsonl'), 'utf8'), '{"text":"一"}\n{"text":"二"}\n');
  assert.deepEqual(readdirSync(join(dir, 'keep')), ['target.jsonl']);
  assert.ok(!existsSync(join(dir, 'out.jsonl')));
});

test('eval: nothing scorable, a broken CSV and a FIFO results file each exit 1 with the file that is wrong', async () => {
  const evalArgs = (data: string, ...more: string[]) => ['eval', '--base-url', 'http://127.0.0.1:9', '--name', 'x', '--tasks', 'ceval', '--shots', '0', '--data', data, ...more];
  const val = (data: string, body: string) => { mkdirSync(join(dir, data, 'ceval', 'val'), { recursive: true }); return file(join(data, 'ceval', 'val', 'logic_val.csv'), body); };
  const head = 'id,question,A,B,C,D,answer\n';
  const garbage = val('ev1', `${head}0,q,a,b,c,d,E\n1,q,a,b,c,d,AB\n2,q,a\n`);
  await refused(evalArgs('ev1'), /^llama3-zh eval: no C-Eval subject could be loaded from ev1\/ceval\/val: 5 problem\(s\), the first: ev1\/ceval\/val\/logic_val\.csv: no question with an answer A, B, C or D; subject skipped$/, [garbage]);
  const bad = val('ev2', `${head}0,"q,a,b,c,d,A\n1,q,a,b,c,d,B\n`);
  await refused(evalArgs('ev2'), /^llama3-zh eval: no C-Eval subject could be loaded from ev2\/ceval\/val: 2 problem\(s\), the first: ev2\/ceval\/val\/logic_val\.csv:2: a quoted field is never closed; file skipped$/, [bad]);
  val('ev3', `${head}0,一加一,1,2,3,4,B\n`);
  mkdirSync(join(dir, 'res'));
  execFileSync('mkfifo', [join(dir, 'res', 'x.json')]);
  const r = await cli(evalArgs('ev3', '--out', 'res'));
  assert.equal(r.timedOut, false, 'eval still running after 20 s');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /\nllama3-zh eval: res\/x\.json is not a regular file \(a pipe, socket or device\); give a results file on disk\n$/);
});
