import { join } from 'node:path';
import { CMMLU_SUBJECTS } from '../subjects.js';
import { loadMcq, type LoadOptions, type McqLayout } from './mcq.js';

/** CMMLU: {dev,test}/{subject}.csv with the header ",Question,A,B,C,D,Answer" (pandas' unnamed index first). */
export const CMMLU: McqLayout = {
  task: 'cmmlu',
  title: 'CMMLU',
  subjects: CMMLU_SUBJECTS,
  splits: ['test', 'dev'],
  shotSplit: 'dev',
  file: (root, split, subject) => join(root, split, `${subject}.csv`),
  header: 'named',
  roots: ['cmmlu', 'cmmlu/data', 'CMMLU/data', 'data', '.'],
  subjectOf: (name) => (name.endsWith('.csv') ? name.slice(0, -4) : undefined),
};

export const loadCmmlu = (o: LoadOptions) => loadMcq(CMMLU, o);
