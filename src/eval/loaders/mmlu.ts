import { join } from 'node:path';
import { MMLU_SUBJECTS } from '../subjects.js';
import { loadMcq, type LoadOptions, type McqLayout } from './mcq.js';

/** MMLU (hendrycks/test data.tar): {dev,val,test}/{subject}_{split}.csv, no header: question,A,B,C,D,answer. */
export const MMLU: McqLayout = {
  task: 'mmlu',
  title: 'MMLU',
  subjects: MMLU_SUBJECTS,
  splits: ['test', 'val', 'dev'],
  shotSplit: 'dev',
  file: (root, split, subject) => join(root, split, `${subject}_${split}.csv`),
  header: 'positional',
  roots: ['mmlu', 'mmlu/data', 'data', '.'],
  subjectOf: (name, split) => (name.endsWith(`_${split}.csv`) ? name.slice(0, -`_${split}.csv`.length) : undefined),
};

export const loadMmlu = (o: LoadOptions) => loadMcq(MMLU, o);
