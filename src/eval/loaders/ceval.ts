import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { CEVAL_SUBJECTS } from '../subjects.js';
import { loadMcq, type LoadOptions, type McqLayout } from './mcq.js';

/**
 * C-Eval: {dev,val,test}/{subject}_{split}.csv with a header id,question,A,B,C,D,answer (dev adds explanation).
 * The test split's answers are not public, so it cannot be scored here; val is the usual split.
 */
export const CEVAL: McqLayout = {
  task: 'ceval',
  title: 'C-Eval',
  subjects: CEVAL_SUBJECTS,
  splits: ['val', 'dev', 'test'],
  shotSplit: 'dev',
  file: (root, split, subject) => join(root, split, `${subject}_${split}.csv`),
  header: 'named',
  roots: ['ceval', 'ceval-exam', '.'],
  subjectOf: (name, split) => (name.endsWith(`_${split}.csv`) ? name.slice(0, -`_${split}.csv`.length) : undefined),
};

export function loadCeval(o: LoadOptions) {
  if (o.split === 'test') throw new UserError("C-Eval's test answers are not public (predictions go to its website); score --split val", 2);
  return loadMcq(CEVAL, o);
}
