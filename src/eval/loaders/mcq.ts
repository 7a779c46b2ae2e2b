import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { regularFileSize } from '../../util/files.js';
import { CsvError, type CsvRecord, parseCsv } from '../csv.js';
import { LETTERS, type Letter, type McqItem, type McqSubjectData, type McqTaskData, type Skipped, skippedLine, type Subject } from '../types.js';

/** How one benchmark lays out its files and rows. */
export interface McqLayout {
  task: McqTaskData['task'];
  title: string;
  subjects: Subject[];
  splits: string[];
  /** The split the few-shot examples come from. */
  shotSplit: string;
  file(root: string, split: string, subject: string): string;
  /**
   * Named: the first row is a header and these columns (matched without case) are required; an unnamed first
   * column or one called "id" is the item's id. Positional: no header, question,A,B,C,D,answer.
   */
  header: 'named' | 'positional';
  /** Where the release is usually unpacked below --data, tried in order. */
  roots: string[];
  /** The subject key of a file name in a split folder (undefined: not a data file). */
  subjectOf(fileName: string, split: string): string | undefined;
}

const REQUIRED = ['question', 'a', 'b', 'c', 'd', 'answer'];

export interface LoadOptions {
  /** The folder the user gave; the layout's usual sub-folders are tried below it. */
  data: string;
  split: string;
  shots: number;
  subjects?: string[];
  limit?: number;
}

/** The folder under `data` that holds this benchmark's split folders. */
export function findRoot(layout: McqLayout | { title: string; roots: string[] }, data: string, probe: (root: string) => boolean): string {
  for (const r of layout.roots) {
    const root = join(data, r);
    if (probe(root)) return root;
  }
  throw new UserError(`no ${layout.title} data under ${data} (looked in ${layout.roots.map((r) => join(data, r)).join(', ')}); unpack the official release there or point --data at it`);
}

/**
 * The largest subject file of the three releases is under 1 MB; a file far past that is not one, and is
 * not read whole (a link to /dev/zero passed 3 GB in seconds).
 */
export const MAX_SUBJECT_FILE = 16 << 20;

function readRecords(file: string, skipped: Skipped[]): CsvRecord[] | undefined {
  let text: string;
  try {
    // A FIFO would block the read and a device never end it: regular files only, and of a sane size.
    const size = regularFileSize(file, 'CSV file');
    if (size > MAX_SUBJECT_FILE) {
      skipped.push({ file, reason: `${(size / (1 << 20)).toFixed(0)} MiB, far bigger than any subject file (at most ${MAX_SUBJECT_FILE >> 20} MiB read); file skipped` });
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const missing = !existsSync(file);
    skipped.push({ file, reason: missing ? 'missing file; subject skipped' : e instanceof UserError ? 'not a regular file (a folder, pipe or device); file skipped' : `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); file skipped` });
    return undefined;
  }
  try {
    return parseCsv(text);
  } catch (e) {
    if (e instanceof CsvError) { skipped.push({ file, line: e.line, reason: `${e.message}; file skipped` }); return undefined; }
    throw e;
  }
}

/** Items of one file; malformed rows and answers outside A–D go to `skipped` with their line. */
function readItems(layout: McqLayout, file: string, skipped: Skipped[]): McqItem[] | undefined {
  const records = readRecords(file, skipped);
  if (!records) return undefined;
  let rows = records;
  // Column of each required field, and of the id (-1: the row's position is its id).
  let cols = [0, 1, 2, 3, 4, 5];
  let idCol = -1;
  let width = 6;
  if (layout.header === 'named') {
    const head = (rows[0]?.fields ?? []).map((h) => h.trim().toLowerCase());
    cols = REQUIRED.map((name) => head.indexOf(name));
    const missing = REQUIRED.filter((_, i) => cols[i] < 0);
    if (missing.length) {
      skipped.push({ file, line: 1, reason: `the header has no column ${missing.join(', ')} (got "${(rows[0]?.fields ?? []).join(',')}"); file skipped` });
      return undefined;
    }
    idCol = head[0] === '' || head[0] === 'id' ? 0 : -1;
    width = head.length;
    rows = rows.slice(1);
  }
  const items: McqItem[] = [];
  rows.forEach((r, index) => {
    if (r.fields.length !== width) {
      skipped.push({ file, line: r.line, reason: `${r.fields.length} fields, expected ${width}; row skipped` });
      return;
    }
    const [question, a, b, c, d, answer] = cols.map((i) => r.fields[i]);
    const letter = answer.trim();
    if (!(LETTERS as readonly string[]).includes(letter)) {
      skipped.push({ file, line: r.line, reason: `answer ${JSON.stringify(answer)} is not one of A, B, C, D; row skipped` });
      return;
    }
    const id = idCol >= 0 && r.fields[idCol].trim() !== '' ? r.fields[idCol].trim() : String(index);
    items.push({ id, question, choices: [a, b, c, d], answer: letter as Letter, file, line: r.line });
  });
  return items;
}

export function loadMcq(layout: McqLayout, o: LoadOptions): McqTaskData {
  if (!layout.splits.includes(o.split)) {
    throw new UserError(`${layout.title} has no "${o.split}" split; choose one of: ${layout.splits.join(', ')}`, 2);
  }
  const root = findRoot(layout, o.data, (r) => existsSync(join(r, o.split)) && statSync(join(r, o.split)).isDirectory());
  const known = new Map(layout.subjects.map((s) => [s.key, s]));
  let subjects = layout.subjects;
  if (o.subjects?.length) {
    const unknown = o.subjects.filter((s) => !known.has(s));
    if (unknown.length) throw new UserError(`${layout.title} has no subject ${unknown.map((u) => `"${u}"`).join(', ')}; subjects are the file names, e.g. ${layout.subjects.slice(0, 3).map((s) => s.key).join(', ')}`, 2);
    subjects = o.subjects.map((s) => known.get(s)!);
  }
  const skipped: Skipped[] = [];
  // Files we do not know are named, so a renamed or new subject is not silently ignored.
  if (!o.subjects?.length) {
    for (const f of readdirSync(join(root, o.split)).sort()) {
      const key = layout.subjectOf(f, o.split);
      if (key !== undefined && !known.has(key)) skipped.push({ file: join(root, o.split, f), reason: 'not a subject of the official list; file skipped' });
    }
  }
  const out: McqSubjectData[] = [];
  if (!o.subjects?.length) {
    // A partial download is normal: the absent subjects make one line, not one each. Named subjects that are
    // absent are reported one by one below.
    const absent = subjects.filter((s) => !existsSync(layout.file(root, o.split, s.key)));
    if (absent.length) {
      skipped.push({ file: join(root, o.split), reason: `${absent.length} of ${subjects.length} subjects have no file here (${absent.slice(0, 3).map((s) => s.key).join(', ')}${absent.length > 3 ? ', …' : ''}); not run` });
      subjects = subjects.filter((s) => !absent.includes(s));
    }
  }
  for (const subject of subjects) {
    const file = layout.file(root, o.split, subject.key);
    const items = readItems(layout, file, skipped);
    if (!items) continue;
    let shots: McqItem[] = [];
    if (o.shots > 0) {
      const shotFile = layout.file(root, layout.shotSplit, subject.key);
      const all = readItems(layout, shotFile, skipped);
      if (!all) continue;
      if (all.length < o.shots) {
        skipped.push({ file: shotFile, reason: `${all.length} examples, fewer than --shots ${o.shots}; subject skipped` });
        continue;
      }
      shots = all.slice(0, o.shots);
    }
    if (items.length === 0) {
      // Every row skipped (answers E or AB, short rows): a score over no question would read as 0.0.
      skipped.push({ file, reason: 'no question with an answer A, B, C or D; subject skipped' });
      continue;
    }
    out.push({ subject, shots, items: o.limit !== undefined ? items.slice(0, o.limit) : items });
  }
  if (out.length === 0) {
    // A file that is there and broken explains this better than the subjects that are not there, or a bad row.
    const rank = (s: Skipped) => (s.reason.startsWith('not a subject') ? 3 : s.reason.endsWith('file skipped') ? 0
      : s.reason.endsWith('subject skipped') && !s.reason.startsWith('missing') ? 1 : s.reason.endsWith('row skipped') ? 2 : 4);
    const first = [...skipped].sort((a, b) => rank(a) - rank(b))[0];
    const why = first ? `: ${skipped.length} problem(s), the first: ${skippedLine(first)}` : '';
    throw new UserError(`no ${layout.title} subject could be loaded from ${join(root, o.split)}${why}`);
  }
  return { kind: 'mcq', task: layout.task, split: o.split, shots: o.shots, subjects: out, skipped };
}
