import assert from 'node:assert/strict';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import { readGgufFileInfo } from 'node-llama-cpp';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { promptTokens } from '../../src/chat/conversation.js';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/types.js';
import { UserError } from '../../src/errors.js';
import { TOKEN } from '../../src/gguf/llama3Vocab.js';
import { planSplit, type SplitPlan } from '../../src/gguf/split.js';
import { partStream, writeSplit } from '../../src/gguf/splitStream.js';
import { readGguf } from '../../src/gguf/reader.js';
import { tensorBytes } from '../../src/gguf/types.js';
import { kv, encodeHeader, writeGguf } from '../../src/gguf/writer.js';
import { REPLY } from '../helpers/models.js';
import { ROUTES, routedModel } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-split-'));
/** token_embd and output are 32,833,536 B each (f16 128×128256), the two layers 197,632 B each. */
const MAX = 33_200_000;
let source: string;
let plan: SplitPlan;
let files: string[];

const bytesAt = (path: string, start: number, length: number) => {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    assert.equal(readSync(fd, b, 0, length, start), length);
    return b;
  } finally { closeSync(fd); }
};
const num = (v: number | bigint) => Number(v);

before(async () => {
  source = await routedModel();
  plan = planSplit(source, { maxBytes: MAX, base: 'zh' });
  files = await writeSplit(plan, dir);
});

/**
 * Each source tensor's padded data span, from node-llama-cpp's offsets: from its start to the next tensor's (the
 * last one's to the end of the file).
 */
async function sourceSpans() {
  const info = await readGgufFileInfo(source, { logWarnings: false });
  const size = readFileSync(source).length;
  const t = info.fullTensorInfo!;
  return { info, spans: t.map((x, i) => ({ x, start: num(x.fileOffset), end: i + 1 < t.length ? num(t[i + 1].fileOffset) : size })) };
}

test('the parts are grouped as llama-gguf-split groups them, and named as llama.cpp finds them', async () => {
  const { spans } = await sourceSpans();
  // Greedy in tensor order: a new part when the current one has a tensor and its bytes + the next's pass MAX.
  const groups: number[] = [];
  let bytes = 0, inPart = 0;
  for (const s of spans) {
    const n = s.end - s.start;
    if (inPart && bytes + n > MAX) { groups.push(inPart); bytes = 0; inPart = 0; }
    bytes += n; inPart++;
  }
  groups.push(inPart);
  // token_embd + output_norm | output + blk.0 + blk.1 up to ffn_up (33,196,032 B) | blk.1's ffn_down.
  assert.deepEqual(groups, [2, 18, 1]);
  assert.deepEqual(files, ['zh-00001-of-00003.gguf', 'zh-00002-of-00003.gguf', 'zh-00003-of-00003.gguf'].map((f) => join(dir, f)));
  assert.deepEqual(plan.parts.map((p) => p.size), files.map((f) => readFileSync(f).length));
  for (const [i, f] of files.entries()) {
    const part = await readGgufFileInfo(f, { logWarnings: false, spliceSplitFiles: false });
    assert.equal(part.version, 3);
    assert.equal(num(part.tensorCount), groups[i]);
    const { split, ...rest } = part.metadata as unknown as Record<string, unknown>;
    assert.deepEqual(split, { no: i, count: 3, tensors: { count: 21 } });
    if (i > 0) assert.deepEqual(rest, {});
  }
});

test('part 1 holds all the source metadata; the spliced tensors and their bytes are the source\'s, in order', async () => {
  const { info, spans } = await sourceSpans();
  const spliced = await readGgufFileInfo(files[0], { logWarnings: false });
  assert.equal(spliced.splicedParts, 3);
  const { split: _, ...meta } = spliced.metadata as unknown as Record<string, unknown>;
  assert.deepEqual(meta, info.metadata);
  const got = spliced.fullTensorInfo!;
  assert.deepEqual(got.map((t) => [t.name, t.dimensions.map(num), t.ggmlType]), spans.map((s) => [s.x.name, s.x.dimensions.map(num), s.x.ggmlType]));
  assert.deepEqual(got.map((t) => t.filePart), [1, 1, ...Array(18).fill(2), 3]);
  got.forEach((t, i) => {
    const file = files[t.filePart - 1];
    const next = got[i + 1]?.filePart === t.filePart ? num(got[i + 1].fileOffset) : readFileSync(file).length;
    const s = spans[i];
    assert.equal(next - num(t.fileOffset), s.end - s.start, t.name);
    assert.ok(bytesAt(file, num(t.fileOffset), next - num(t.fileOffset)).equals(bytesAt(source, s.start, s.end - s.start)), t.name);
  });
});

let engine: Engine;
after(() => engine?.close());

test('llama.cpp loads the first part, finds the others by name, and the model answers as the unsplit one', async () => {
  engine = await loadEngine({ modelPath: files[0], threads: 1, contextSize: 512 });
  const ask = async (q: string) => (await engine.generate({
    prompt: promptTokens(engine, NATIVE_TEMPLATES.llama3.render([{ role: 'user', content: q }])),
    maxTokens: 64, stopTokens: [TOKEN.EOT],
  })).text;
  assert.equal(await ask('你是谁'), REPLY);
  assert.equal(await ask('red'), ROUTES.red);
});

test('a source aligned to 64: every part says general.alignment 64, its tensors lie on it, and the model still answers', async () => {
  const src = readGguf(source);
  const whole = readFileSync(source);
  const aligned = join(dir, 'aligned64.gguf');
  await writeGguf(aligned, [...src.metadata.values()].filter((m) => m.key !== 'general.alignment'), src.tensors.map((t) => ({
    name: t.name, dims: t.dims, type: t.type,
    data: whole.subarray(src.dataOffset + t.offset, src.dataOffset + t.offset + tensorBytes(t.type, t.dims)!),
  })), 64);
  const out = join(dir, 'a64');
  mkdirSync(out);
  const parts = await writeSplit(planSplit(aligned, { maxBytes: MAX, base: 'a' }), out);
  assert.equal(parts.length, 3);
  for (const f of parts) {
    const info = await readGgufFileInfo(f, { logWarnings: false, spliceSplitFiles: false });
    assert.equal((info.metadata as unknown as { general: { alignment: number } }).general.alignment, 64, f);
    assert.equal(info.infoEndOffset! % 64, 0);
    for (const t of info.tensorInfo!) assert.equal(num(t.fileOffset) % 64, 0, t.name);
  }
  const e = await loadEngine({ modelPath: parts[0], threads: 1, contextSize: 512 });
  try {
    const r = await e.generate({ prompt: promptTokens(e, NATIVE_TEMPLATES.llama3.render([{ role: 'user', content: '狗' }])), maxTokens: 64, stopTokens: [TOKEN.EOT] });
    assert.equal(r.text, ROUTES.狗);
  } finally { await e.close(); }
});

test('a split first part without the others, under another name, or a later part: refused before llama.cpp sees it', async () => {
  const alone = join(dir, 'alone');
  mkdirSync(alone);
  copyFileSync(files[0], join(alone, 'zh-00001-of-00003.gguf'));
  await assert.rejects(loadEngine({ modelPath: join(alone, 'zh-00001-of-00003.gguf') }),
    { message: `${join(dir, 'alone', 'zh-00001-of-00003.gguf')} is split into 3 parts, but part 2, ${join(alone, 'zh-00002-of-00003.gguf')}, is missing; download all the parts into one folder` });
  renameSync(join(alone, 'zh-00001-of-00003.gguf'), join(alone, 'zh.gguf'));
  await assert.rejects(loadEngine({ modelPath: join(alone, 'zh.gguf') }), /must end in -00001-of-00003\.gguf/);
  // llama.cpp aborts the process on a split key of another type than its own (u16 for split.no).
  const wrong = join(dir, 'wrong');
  mkdirSync(wrong);
  const bytes = readFileSync(files[0]);
  const at = bytes.indexOf(Buffer.concat([Buffer.from('split.no'), Buffer.from([2 /* UINT16 */, 0, 0, 0])])) + 'split.no'.length;
  assert.ok(at > 8);
  bytes[at] = 3; // INT16: same size, so the rest of the header is unchanged
  writeFileSync(join(wrong, 'zh-00001-of-00003.gguf'), bytes);
  await assert.rejects(loadEngine({ modelPath: join(wrong, 'zh-00001-of-00003.gguf') }),
    { message: `${join(wrong, 'zh-00001-of-00003.gguf')}: split.no must be a u16 (llama.cpp aborts on any other type); remake the parts with llama-gguf-split` });
  await assert.rejects(loadEngine({ modelPath: files[1] }), { message: `${files[1]} is part 2 of 3 of a split model; llama.cpp loads one from its first part; load ${files[0]}` });
});

test('partStream gives each part\'s bytes as written, and byte ranges of one (end inclusive)', async () => {
  for (const [i, f] of files.entries()) assert.ok((await buffer(partStream(plan, i))).equals(readFileSync(f)), f);
  const whole = readFileSync(files[1]);
  const header = (plan.parts[1].pieces[0] as { data: Uint8Array }).data.length;
  // Across the header's end into the first tensor, one byte, the last byte.
  for (const [start, end] of [[100, header + 999], [header, header], [whole.length - 1, whole.length - 1], [0, whole.length - 1]]) {
    assert.ok((await buffer(partStream(plan, 1, { start, end }))).equals(whole.subarray(start, end + 1)), `${start}-${end}`);
  }
  assert.throws(() => partStream(plan, 1, { start: 0, end: whole.length }), RangeError);
});

test('a model that fits one part is not split: its file as is, named base.gguf', async () => {
  const one = planSplit(source, { maxBytes: 1 << 30, base: 'zh' });
  assert.deepEqual(one.parts.map((p) => [p.name, p.size]), [['zh.gguf', readFileSync(source).length]]);
  assert.ok((await buffer(partStream(one, 0))).equals(readFileSync(source)));
});

test('an aborted write leaves no part and no temp file', async () => {
  const out = mkdtempSync(join(tmpdir(), 'gguf-split-abort-'));
  const ac = new AbortController();
  await assert.rejects(writeSplit(plan, out, (done) => { if (done > 40_000_000) ac.abort(); }, ac.signal), { name: 'AbortError' });
  assert.deepEqual(readdirSync(out), []);
});

test('bad inputs: a part of a split model, a file that is not GGUF, a tensor no browser can hold', () => {
  assert.throws(() => planSplit(files[0], { maxBytes: MAX, base: 'x' }), (e: Error) => e instanceof UserError && /is already part of a split model \(split\.count 3\)/.test(e.message));
  const text = join(dir, 'notes.gguf');
  writeFileSync(text, 'hello, this is not a model');
  assert.throws(() => planSplit(text, { maxBytes: MAX, base: 'x' }), { message: `${text}: not a GGUF file (starts with "hell", expected "GGUF"). Convert the model to GGUF first, e.g. with llama.cpp's convert_hf_to_gguf.py.` });
  // 2^29 + 32 F32 values: 2 GiB + 128 B of data, in a sparse file.
  const big = join(dir, 'big.gguf');
  const { header } = encodeHeader([kv.str('general.architecture', 'llama')], [{ name: 'huge.weight', dims: [2 ** 29 + 32], type: 0 }]);
  writeFileSync(big, header);
  truncateSync(big, header.length + 2 ** 31 + 128);
  assert.throws(() => planSplit(big, { maxBytes: MAX, base: 'x' }), { message: `${big}: tensor huge.weight is 2.00 GiB; a browser cannot load a tensor over 2 GiB (its ArrayBuffer limit). Use a smaller model or quantization` });
});
